"""The fulfilment system over HTTP: one POST per order event, keyed by the event id.

The event id is the ``Idempotency-Key``: the client may retry the POST (after
a timeout, say, when the first one may have arrived), and a redelivered event
sends it again; the fulfilment system acts once per key.
"""

from typing import Any

from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.resilience.errors import DownstreamRejectedError
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient


def fulfilment_request(event: OrderEvent) -> dict[str, Any]:
    """The body of the POST: what happened to which order, and the order as it now is."""
    return {
        "event_id": str(event.id),
        "type": event.type.value,
        "order_id": str(event.order_id),
        "version": event.version,
        "occurred_at": event.occurred_at.isoformat(),
        "order": event.data,
    }


class HttpFulfilment:
    """POSTs each event to ``url`` through the fulfilment downstream's client."""

    def __init__(self, client: DownstreamClient, url: str) -> None:
        self._client = client
        self._url = url

    async def request(self, event: OrderEvent) -> None:
        """POST the event; any answer but a 2xx is a refusal that no retry can change."""
        response = await self._client.post(
            self._url, json=fulfilment_request(event), idempotency_key=str(event.id)
        )
        if not response.is_success:
            raise DownstreamRejectedError(self._client.name, response.status_code, response.text)
