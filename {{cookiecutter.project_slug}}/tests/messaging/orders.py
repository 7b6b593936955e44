"""Orders to place in the event tests, and reading their events back from the broker."""

from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.domain.orders import NewOrder, OrderLine
from {{ cookiecutter.package_name }}.messaging.cloudevents import from_message
from tests.messaging.receiving import Receiver


def new_order(customer_id: str) -> NewOrder:
    """A one-line order for ``customer_id``."""
    return NewOrder(customer_id=customer_id, currency="EUR", lines=(OrderLine("SKU-1", 2, 1250),))


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
