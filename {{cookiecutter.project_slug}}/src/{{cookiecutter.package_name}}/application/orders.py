"""The orders use cases, written once for every transport, database and broker.

Every change writes its event to the outbox, and its webhook deliveries (one
per subscribed endpoint), in the same unit of work, so an event is published
and announced if and only if the change was committed (a service without a
broker has an outbox that keeps nothing). A unit of work whose transaction
loses a race with another one runs again, whole (``application.transactions``).
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum, auto
from functools import partial
from uuid import UUID

from {{ cookiecutter.package_name }}.application.pagination import CursorPage, OffsetPage
from {{ cookiecutter.package_name }}.application.transactions import Transactions
from {{ cookiecutter.package_name }}.domain.clock import Clock, utc_now
from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.errors import (
    ConcurrentModificationError,
    IdempotencyKeyReusedError,
    NotFoundError,
    StaleVersionError,
)
from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderChanges
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.storage.port import OrderFilter, Storage, UnitOfWork

CREATE_OPERATION = "orders.create"
UPDATE_OPERATION = "orders.update"
DELETE_OPERATION = "orders.delete"
PURGE_OPERATION = "orders.purge_expired_idempotency_keys"
_UPDATE_ATTEMPTS = 5

# A step run first in the unit of work of a change, making the change once (an inbox
# recording a message id): ``False`` if it was made before, and then nothing is written.
type Claim = Callable[[UnitOfWork], Awaitable[bool]]


class _Write(Enum):
    """How a compare-and-set of an order went."""

    STORED = auto()
    STALE = auto()
    CLAIMED_BEFORE = auto()


async def _announce(uow: UnitOfWork, event: OrderEvent) -> None:
    """Record ``event`` for the broker and for the webhook endpoints that subscribe to it."""
    await uow.outbox.add(event)
    await uow.webhooks.add(event)


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's idempotency key, scoped to the caller that sent it.

    ``principal`` is the admitted caller's subject. Without authentication
    (``auth=none``) every caller is the same anonymous one, so keys are global:
    the gateway in front should make them unique (a UUID per operation).
    """

    key: str
    principal: str

    def scope(self, operation: str) -> str:
        """Keys are unique per caller and operation, not globally."""
        return f"{self.principal}:{operation}"


@dataclass(frozen=True, slots=True)
class Created:
    """The outcome of a create; ``replayed`` when an idempotent retry was answered."""

    order: Order
    replayed: bool


class OrderService:
    """Create, read, change and delete orders."""

    def __init__(
        self,
        storage: Storage,
        *,
        idempotency_ttl: timedelta,
        transaction_retry: RetryPolicy,
        clock: Clock = utc_now,
    ) -> None:
        self._storage = storage
        self._transactions = Transactions(storage.unit_of_work, transaction_retry)
        self._idempotency_ttl = idempotency_ttl
        self._clock = clock

    async def create(self, new: NewOrder, idempotency: IdempotencyKey | None = None) -> Created:
        """Place an order; with a key, a retry replays the first result exactly.

        The order (its id too) is made once: a unit of work that runs again
        places the same order, and claims the key again, so it is placed once.
        """
        now = self._clock()
        order = Order.place(new, now)

        async def place(uow: UnitOfWork) -> Created:
            if idempotency is not None:
                scope = idempotency.scope(CREATE_OPERATION)
                stored = await uow.idempotency.claim(scope, idempotency.key, now)
                if stored is not None:
                    if stored.fingerprint != new.fingerprint():
                        raise IdempotencyKeyReusedError
                    return Created(Order.from_snapshot(stored.result), replayed=True)
                await uow.idempotency.record(
                    scope,
                    idempotency.key,
                    fingerprint=new.fingerprint(),
                    result=order.snapshot(),
                    expires_at=now + self._idempotency_ttl,
                )
            await uow.orders.add(order)
            await _announce(uow, OrderEvent.created(order))
            await uow.commit()
            return Created(order, replayed=False)

        return await self._transactions.run(CREATE_OPERATION, place)

    async def get(self, order_id: UUID) -> Order:
        """Return the order or raise :class:`NotFoundError`."""
        order = await self._storage.orders.get(order_id)
        if order is None:
            raise NotFoundError("Order", order_id)
        return order

    async def list_by_offset(
        self, order_filter: OrderFilter, *, offset: int, limit: int
    ) -> OffsetPage[Order]:
        """A page by position, with the total; simple, but costs a count."""
        orders = self._storage.orders
        items = await orders.list_by_offset(order_filter, offset=offset, limit=limit)
        total = await orders.count(order_filter)
        return OffsetPage(items=items, offset=offset, limit=limit, total=total)

    async def list_by_cursor(
        self, order_filter: OrderFilter, *, after: Cursor | None, limit: int
    ) -> CursorPage[Order]:
        """A page by keyset: stable under concurrent inserts and cheap at any depth."""
        items = await self._storage.orders.list_after(order_filter, after=after, limit=limit + 1)
        if len(items) <= limit:
            return CursorPage(items=items, limit=limit, next_cursor=None)
        last = items[limit - 1]
        return CursorPage(
            items=items[:limit], limit=limit, next_cursor=Cursor(last.created_at, last.id)
        )

    async def _current(self, order_id: UUID, if_versions: frozenset[int] | None) -> Order:
        """The order as stored now, if it is at one of ``if_versions`` (any when ``None``)."""
        current = await self.get(order_id)
        if if_versions is not None and current.version not in if_versions:
            raise StaleVersionError(current.version)
        return current

    async def update(
        self,
        order_id: UUID,
        changes: OrderChanges,
        *,
        if_versions: frozenset[int] | None = None,
    ) -> Order:
        """Apply ``changes`` if the order is at one of ``if_versions`` (any when ``None``).

        The write is a compare-and-set on the version, so a concurrent change is
        never lost: with a precondition it fails, without one it is re-read and
        the rules are checked again on the fresh state.
        """
        updated = await self._update(order_id, changes, if_versions, claim=None)
        assert updated is not None  # noqa: S101 - only a claim declines a change
        return updated

    async def update_once(
        self, order_id: UUID, changes: OrderChanges, claim: Claim
    ) -> Order | None:
        """Apply ``changes`` together with ``claim``; ``None`` if the claim was made before.

        ``claim`` runs first in the unit of work of the change (it records a
        message id in an inbox, say), so the claim and the change commit together
        or not at all: a message delivered twice changes the order once. An order
        that needs no change is claimed alone. An order that is gone or cannot
        make the change raises, as with :meth:`update`, and nothing is claimed.
        """
        return await self._update(order_id, changes, None, claim=claim)

    async def _update(
        self,
        order_id: UUID,
        changes: OrderChanges,
        if_versions: frozenset[int] | None,
        *,
        claim: Claim | None,
    ) -> Order | None:
        for _ in range(_UPDATE_ATTEMPTS):
            current = await self._current(order_id, if_versions)
            updated = current.apply(changes, self._clock())
            if updated is not current:
                work = partial(self._replace, updated, current.version, claim)
            elif claim is not None:
                work = partial(self._claim, claim)
            else:
                return current
            match await self._transactions.run(UPDATE_OPERATION, work):
                case _Write.STORED:
                    return updated
                case _Write.CLAIMED_BEFORE:
                    return None
        raise ConcurrentModificationError

    async def delete(self, order_id: UUID, *, if_versions: frozenset[int] | None = None) -> None:
        """Delete the order if it is at one of ``if_versions`` (any when ``None``)."""
        for _ in range(_UPDATE_ATTEMPTS):
            current = await self._current(order_id, if_versions)
            if await self._transactions.run(DELETE_OPERATION, partial(self._delete, current)):
                return
        raise ConcurrentModificationError

    async def _replace(
        self, order: Order, expected_version: int, claim: Claim | None, uow: UnitOfWork
    ) -> _Write:
        """Store ``order`` and its event if the stored one is still at ``expected_version``."""
        if claim is not None and not await claim(uow):
            return _Write.CLAIMED_BEFORE
        if not await uow.orders.replace(order, expected_version=expected_version):
            return _Write.STALE
        await _announce(uow, OrderEvent.updated(order))
        await uow.commit()
        return _Write.STORED

    async def _claim(self, claim: Claim, uow: UnitOfWork) -> _Write:
        """Make ``claim`` alone: the order is as the change would leave it."""
        if not await claim(uow):
            return _Write.CLAIMED_BEFORE
        await uow.commit()
        return _Write.STORED

    async def _delete(self, order: Order, uow: UnitOfWork) -> bool:
        """Delete ``order`` and record its event if it is still at its version."""
        if not await uow.orders.delete(order.id, expected_version=order.version):
            return False
        await _announce(uow, OrderEvent.deleted(order, self._clock()))
        await uow.commit()
        return True

    async def purge_expired_idempotency_keys(self) -> int:
        """Forget keys past their retention window; returns how many went."""

        async def purge(uow: UnitOfWork) -> int:
            purged = await uow.idempotency.purge_expired(self._clock())
            await uow.commit()
            return purged

        return await self._transactions.run(PURGE_OPERATION, purge)
