"""The event consumer's use case: ask fulfilment to act, and keep a per-customer tally.

The broker delivers at least once; both effects happen once per event all the
same. The inbox records the event id in the same transaction as the tally, so
a redelivered or duplicated event finds its id taken and changes nothing. The
fulfilment request goes first, outside that transaction (no database
connection waits on another system), keyed by the event id: when it is sent
again (the tally's transaction failed, the event came twice) the fulfilment
system recognises the key and acts once. A tally's unit of work whose
transaction loses a race runs again, whole (the request is not sent again).
"""

from datetime import timedelta

from {{ cookiecutter.package_name }}.application.transactions import Transactions
from {{ cookiecutter.package_name }}.domain.clock import Clock, utc_now
from {{ cookiecutter.package_name }}.domain.events import OrderEvent, OrderEventType
from {{ cookiecutter.package_name }}.fulfilment.port import Fulfilment
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.storage.events import ConsumerUnitOfWork, EventStore

CONSUMER = "customer-activity"
HANDLE_OPERATION = "customer_activity.handle"
FORGET_OPERATION = "customer_activity.forget_handled"


class CustomerActivityProjector:
    """Counts the orders each customer places, from order events."""

    def __init__(
        self,
        events: EventStore,
        fulfilment: Fulfilment,
        *,
        transaction_retry: RetryPolicy,
        clock: Clock = utc_now,
    ) -> None:
        self._transactions = Transactions(events.unit_of_work, transaction_retry)
        self._fulfilment = fulfilment
        self._clock = clock

    async def handle(self, event: OrderEvent) -> bool:
        """Apply ``event``; ``False`` when it had been handled already."""
        await self._fulfilment.request(event)

        async def apply(uow: ConsumerUnitOfWork) -> bool:
            if not await uow.inbox.record(CONSUMER, event.id, self._clock()):
                return False
            if event.type is OrderEventType.CREATED:
                await uow.customer_activity.order_placed(
                    str(event.data["customer_id"]), event.occurred_at
                )
            await uow.commit()
            return True

        return await self._transactions.run(HANDLE_OPERATION, apply)

    async def forget_handled(self, retention: timedelta) -> int:
        """Drop inbox records older than ``retention``; how many went.

        Keep ``retention`` well past the longest a duplicate can arrive (broker
        redelivery, a relay's lease, a replay of old dead letters): a duplicate
        that comes after its record is gone has its effect twice.
        """

        async def purge(uow: ConsumerUnitOfWork) -> int:
            purged = await uow.inbox.purge_before(self._clock() - retention)
            await uow.commit()
            return purged

        return await self._transactions.run(FORGET_OPERATION, purge)
