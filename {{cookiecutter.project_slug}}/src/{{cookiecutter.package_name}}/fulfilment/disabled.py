"""No fulfilment system (``FULFILMENT_URL`` is empty): events are only counted."""

from {{ cookiecutter.package_name }}.domain.events import OrderEvent


class NoFulfilment:
    """Accepts every event and sends nothing."""

    async def request(self, event: OrderEvent) -> None:
        """Nothing to ask."""
        del event
