"""Webhooks this service receives: what a verified message did, and the ids that make it once.

A sender delivers at least once (it retries until it sees a 2xx, and may send
a message twice anyway), so each message's id is recorded in the same unit of
work as its effect: a message that comes again finds its id taken and has no
second effect. Messages that change nothing are recorded too, so that a
redelivery is recognised as one whatever the message did.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any, Protocol

from {{ cookiecutter.package_name }}.application.orders import Claim
from {{ cookiecutter.package_name }}.application.transactions import Transactions
from {{ cookiecutter.package_name }}.domain.clock import Clock, utc_now
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.storage.port import Storage, UnitOfWork

RECORD_OPERATION = "webhooks.record_received"
PURGE_OPERATION = "webhooks.forget_received"


class Outcome(StrEnum):
    """What a verified message did; every outcome is acknowledged (2xx) to the sender.

    ``APPLIED``: its effect is in place (made now, or found made already);
    ``DUPLICATE``: it was received before; ``IGNORED``: the service does not act on it.
    """

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class Handled:
    """The outcome of one message, with why it was ignored (for the log)."""

    outcome: Outcome
    reason: str | None = None


class WebhookHandler(Protocol):
    """What the verified messages of one source do."""

    async def handle(self, source: str, message_id: str, payload: Mapping[str, Any]) -> Handled:
        """Apply the message once; a payload the handler cannot read raises a ``ServiceError``."""
        ...


class ReceivedWebhooks:
    """The ids of the messages received, per source: the replay guard."""

    def __init__(
        self, storage: Storage, *, transaction_retry: RetryPolicy, clock: Clock = utc_now
    ) -> None:
        self._transactions = Transactions(storage.unit_of_work, transaction_retry)
        self._clock = clock

    def claim(self, source: str, message_id: str) -> Claim:
        """A step that records the message in a unit of work; ``False`` if it was before."""

        async def record(uow: UnitOfWork) -> bool:
            return await uow.webhook_inbox.record(source, message_id, self._clock())

        return record

    async def record(self, source: str, message_id: str) -> bool:
        """Record a message that changed nothing; ``False`` if it was recorded before."""
        claim = self.claim(source, message_id)

        async def record_alone(uow: UnitOfWork) -> bool:
            if not await claim(uow):
                return False
            await uow.commit()
            return True

        return await self._transactions.run(RECORD_OPERATION, record_alone)

    async def forget_older_than(self, retention: timedelta) -> int:
        """Drop the ids received longer than ``retention`` ago; how many went.

        Keep ``retention`` well past the longest a sender retries (Standard
        Webhooks senders try for about a day and a half; some for days): a
        message that comes after its id is gone has its effect twice.
        """

        async def purge(uow: UnitOfWork) -> int:
            purged = await uow.webhook_inbox.purge_before(self._clock() - retention)
            await uow.commit()
            return purged

        return await self._transactions.run(PURGE_OPERATION, purge)
