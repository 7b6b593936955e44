"""The ``WebhookEndpointsService`` servicer: requests in, use cases called, responses out.

Errors are raised as the service's own :class:`ServiceError`; the interceptor
turns them into statuses, so no method here calls ``context.abort``.
"""

from typing import override

from {{ cookiecutter.package_name }}.api.grpc import messages
from {{ cookiecutter.package_name }}.api.grpc.interceptors import Context
from {{ cookiecutter.package_name }}.api.grpc.webhook_messages import (
    attempt_message,
    delivery_message,
    delivery_status,
    endpoint_changes,
    endpoint_message,
    fields_of,
    identifier,
    new_endpoint,
    rotation_overlap,
)
from {{ cookiecutter.package_name }}.application.webhook_endpoints import WebhookEndpointService
from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.webhooks.v1 import webhooks_pb2, webhooks_pb2_grpc


def _after(page_token: str) -> Cursor | None:
    return Cursor.decode(page_token, field="page_token") if page_token else None


class WebhookEndpointsServicer(webhooks_pb2_grpc.WebhookEndpointsServiceServicer):
    """Subscribe endpoints, rotate their secrets, and follow and replay their deliveries."""

    def __init__(self, endpoints: WebhookEndpointService) -> None:
        self._endpoints = endpoints

    @override
    async def CreateWebhookEndpoint(
        self, request: webhooks_pb2.CreateWebhookEndpointRequest, context: Context
    ) -> webhooks_pb2.CreateWebhookEndpointResponse:
        """Subscribe an endpoint; the response holds its secret, this once."""
        with fields_of("endpoint"):
            created = await self._endpoints.create(new_endpoint(request.endpoint))
        return webhooks_pb2.CreateWebhookEndpointResponse(
            endpoint=endpoint_message(created.endpoint), secret=created.secret
        )

    @override
    async def GetWebhookEndpoint(
        self, request: webhooks_pb2.GetWebhookEndpointRequest, context: Context
    ) -> webhooks_pb2.GetWebhookEndpointResponse:
        """Read one endpoint."""
        endpoint = await self._endpoints.get(identifier(request.id, "id"))
        return webhooks_pb2.GetWebhookEndpointResponse(endpoint=endpoint_message(endpoint))

    @override
    async def ListWebhookEndpoints(
        self, request: webhooks_pb2.ListWebhookEndpointsRequest, context: Context
    ) -> webhooks_pb2.ListWebhookEndpointsResponse:
        """One page of endpoints, newest first (the page token is a cursor)."""
        page = await self._endpoints.list_by_cursor(
            after=_after(request.page_token), limit=messages.page_size(request.page_size)
        )
        return webhooks_pb2.ListWebhookEndpointsResponse(
            endpoints=[endpoint_message(endpoint) for endpoint in page.items],
            next_page_token="" if page.next_cursor is None else page.next_cursor.encode(),
        )

    @override
    async def UpdateWebhookEndpoint(
        self, request: webhooks_pb2.UpdateWebhookEndpointRequest, context: Context
    ) -> webhooks_pb2.UpdateWebhookEndpointResponse:
        """Change the fields the mask names; a stale etag changes nothing."""
        endpoint_id, changes, if_versions = endpoint_changes(request)
        with fields_of("endpoint"):
            endpoint = await self._endpoints.update(endpoint_id, changes, if_versions=if_versions)
        return webhooks_pb2.UpdateWebhookEndpointResponse(endpoint=endpoint_message(endpoint))

    @override
    async def DeleteWebhookEndpoint(
        self, request: webhooks_pb2.DeleteWebhookEndpointRequest, context: Context
    ) -> webhooks_pb2.DeleteWebhookEndpointResponse:
        """Delete an endpoint and its deliveries."""
        await self._endpoints.delete(
            identifier(request.id, "id"), if_versions=messages.versions_matching(request.etag)
        )
        return webhooks_pb2.DeleteWebhookEndpointResponse()

    @override
    async def RotateWebhookEndpointSecret(
        self, request: webhooks_pb2.RotateWebhookEndpointSecretRequest, context: Context
    ) -> webhooks_pb2.RotateWebhookEndpointSecretResponse:
        """Add a new secret, returned this once; the current ones sign on for the overlap."""
        endpoint_id = identifier(request.id, "id")
        overlap = rotation_overlap(request, self._endpoints.max_rotation_overlap)
        rotated = await self._endpoints.rotate_secret(
            endpoint_id, overlap=overlap, if_versions=messages.versions_matching(request.etag)
        )
        return webhooks_pb2.RotateWebhookEndpointSecretResponse(
            endpoint=endpoint_message(rotated.endpoint), secret=rotated.secret
        )

    @override
    async def ListWebhookDeliveries(
        self, request: webhooks_pb2.ListWebhookDeliveriesRequest, context: Context
    ) -> webhooks_pb2.ListWebhookDeliveriesResponse:
        """One page of an endpoint's deliveries, newest first."""
        endpoint_id = identifier(request.endpoint_id, "endpoint_id")
        page = await self._endpoints.deliveries(
            endpoint_id,
            status=delivery_status(request.status),
            after=_after(request.page_token),
            limit=messages.page_size(request.page_size),
        )
        return webhooks_pb2.ListWebhookDeliveriesResponse(
            deliveries=[delivery_message(delivery) for delivery in page.items],
            next_page_token="" if page.next_cursor is None else page.next_cursor.encode(),
        )

    @override
    async def GetWebhookDelivery(
        self, request: webhooks_pb2.GetWebhookDeliveryRequest, context: Context
    ) -> webhooks_pb2.GetWebhookDeliveryResponse:
        """Read one delivery of an endpoint."""
        delivery = await self._endpoints.delivery(
            identifier(request.endpoint_id, "endpoint_id"), identifier(request.id, "id")
        )
        return webhooks_pb2.GetWebhookDeliveryResponse(delivery=delivery_message(delivery))

    @override
    async def ListWebhookDeliveryAttempts(
        self, request: webhooks_pb2.ListWebhookDeliveryAttemptsRequest, context: Context
    ) -> webhooks_pb2.ListWebhookDeliveryAttemptsResponse:
        """Every attempt of a delivery, first first."""
        attempts = await self._endpoints.attempts(
            identifier(request.endpoint_id, "endpoint_id"),
            identifier(request.delivery_id, "delivery_id"),
        )
        return webhooks_pb2.ListWebhookDeliveryAttemptsResponse(
            attempts=[attempt_message(attempt) for attempt in attempts]
        )

    @override
    async def ReplayWebhookDelivery(
        self, request: webhooks_pb2.ReplayWebhookDeliveryRequest, context: Context
    ) -> webhooks_pb2.ReplayWebhookDeliveryResponse:
        """Send a failed delivery again, with the same webhook-id."""
        delivery = await self._endpoints.replay(
            identifier(request.endpoint_id, "endpoint_id"), identifier(request.id, "id")
        )
        return webhooks_pb2.ReplayWebhookDeliveryResponse(delivery=delivery_message(delivery))

    @override
    async def ReplayFailedWebhookDeliveries(
        self, request: webhooks_pb2.ReplayFailedWebhookDeliveriesRequest, context: Context
    ) -> webhooks_pb2.ReplayFailedWebhookDeliveriesResponse:
        """Send an endpoint's failed deliveries again."""
        replayed = await self._endpoints.replay_failed(
            identifier(request.endpoint_id, "endpoint_id")
        )
        return webhooks_pb2.ReplayFailedWebhookDeliveriesResponse(replayed=replayed)
