"""The fulfilment system, as the consumer's use case needs it."""

from typing import Protocol

from {{ cookiecutter.package_name }}.domain.events import OrderEvent


class Fulfilment(Protocol):
    """Asks the fulfilment system to act on an order event."""

    async def request(self, event: OrderEvent) -> None:
        """Hand ``event`` over; safe to repeat, since the event id is the idempotency key.

        Raises ``ServiceUnavailableError`` when the request may succeed later,
        and ``DownstreamRejectedError`` when it never will.
        """
        ...
