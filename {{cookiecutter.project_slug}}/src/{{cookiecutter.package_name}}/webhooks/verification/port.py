"""What a verification scheme does: prove a message came from its sender, before anything else.

A scheme checks the raw body and headers against the source's secrets (and,
where the scheme signs one, the timestamp), and only then parses the body. It
refuses with :class:`WebhookRejectedError`, whose reason goes to the log and
the answer: a fixed phrase, never the secret, the signature or any other value
the sender supplied.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class VerifiedMessage:
    """A message proven to come from its source: its id (the replay guard's key) and body."""

    message_id: str
    payload: dict[str, Any]


class WebhookRejectedError(Exception):
    """The message is not proven to come from its source; ``reason`` says why."""

    def __init__(self, reason: str, message_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message_id = message_id


class InvalidSecretError(ValueError):
    """A configured secret the scheme cannot use; the message says which, never what it is."""


class VerificationScheme(Protocol):
    """How one kind of sender signs its messages; built with the source's secrets.

    A scheme raises :class:`InvalidSecretError` when it is built with a secret
    it cannot use, so that a mistyped secret stops the service at start-up.
    """

    def verify(self, headers: Mapping[str, str], body: bytes, now: datetime) -> VerifiedMessage:
        """The message, if ``body`` and ``headers`` are signed by a secret of the source.

        ``headers`` are looked up by lower-case name. Raises
        :class:`WebhookRejectedError` when they are not; a verified body that is
        not a JSON object raises :class:`MalformedRequestError`.
        """
        ...
