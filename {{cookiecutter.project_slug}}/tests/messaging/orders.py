"""Orders to place in the event tests, and reading their events back from the broker."""

from datetime import UTC, datetime

from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, Order, OrderLine
from {{ cookiecutter.package_name }}.messaging.cloudevents import from_message
from {{ cookiecutter.package_name }}.storage.events import PendingEvent
from tests.messaging.receiving import Receiver

TRACE = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "tracestate": "vendor=opaque",
}


def new_order(customer_id: str) -> NewOrder:
    """A one-line order for ``customer_id``."""
    return NewOrder(customer_id=customer_id, currency="EUR", lines=(OrderLine("SKU-1", 2, 1250),))


def order_created(customer_id: str) -> OrderEvent:
    """The event of a one-line order just placed for ``customer_id``."""
    return OrderEvent.created(Order.place(new_order(customer_id), datetime.now(UTC)))


def pending(event: OrderEvent) -> PendingEvent:
    """``event`` as the relay claims it from the outbox, recorded under :data:`TRACE`."""
    return PendingEvent(event=event, trace_context=TRACE, attempts=1)


async def receive_events(receiver: Receiver, count: int) -> list[OrderEvent]:
    """The next ``count`` order events, each acked as it arrives (before its ack timeout)."""
    events = []
    for _ in range(count):
        delivery = await receiver.next()
        event = from_message(delivery.message)
        assert event is not None, delivery.message
        events.append(event)
        await delivery.ack()
    return events
