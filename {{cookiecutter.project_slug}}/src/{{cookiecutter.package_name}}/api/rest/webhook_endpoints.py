"""``/v1/webhook-endpoints``: subscribe endpoints, rotate their secrets, replay their deliveries.

Every route needs ``webhooks:manage``. The responses that carry a secret (the
create and the rotation) are marked ``Cache-Control: no-store``.
"""

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request, Response, status
from starlette.datastructures import URL

from {{ cookiecutter.package_name }}.api.rest.dependencies import WebhookEndpoints
from {{ cookiecutter.package_name }}.api.rest.errors import ERROR_RESPONSES
from {{ cookiecutter.package_name }}.api.rest.headers import parse_if_match
from {{ cookiecutter.package_name }}.api.rest.schemas import CursorPagination
from {{ cookiecutter.package_name }}.api.rest.security import allowed
from {{ cookiecutter.package_name }}.api.rest.webhook_schemas import (
    DeliveryAttemptList,
    DeliveryAttemptOut,
    ReplayOutcome,
    SecretRotation,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookEndpointCreate,
    WebhookEndpointOut,
    WebhookEndpointPage,
    WebhookEndpointPatch,
    WebhookEndpointWithSecret,
)
from {{ cookiecutter.package_name }}.application.etags import etag
from {{ cookiecutter.package_name }}.application.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from {{ cookiecutter.package_name }}.auth.principal import Permission
from {{ cookiecutter.package_name }}.domain.cursor import CURSOR_PATTERN, Cursor
from {{ cookiecutter.package_name }}.domain.webhooks import DeliveryStatus, EndpointChanges, NewEndpoint

router = APIRouter(
    prefix="/v1/webhook-endpoints", tags=["webhook endpoints"], responses=ERROR_RESPONSES
)

MANAGE = [allowed(Permission.WEBHOOKS_MANAGE)]

IfMatchHeader = Annotated[
    str | None,
    Header(alias="If-Match", description="Apply only if the endpoint's ETag is one of these."),
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
PageCursor = Annotated[
    str | None,
    Query(
        description="`next_cursor` of the previous page; none for the first.",
        json_schema_extra={"pattern": CURSOR_PATTERN},
    ),
]
NO_STORE = {"Cache-Control": "no-store"}


def _pagination(request: Request, limit: int, cursor: Cursor | None) -> CursorPagination:
    """Where the page after this one is: its cursor, and the URL that fetches it."""
    token = None if cursor is None else cursor.encode()
    url = URL(request.url.path).include_query_params(**request.query_params)
    return CursorPagination(
        limit=limit,
        next_cursor=token,
        next=None if token is None else str(url.include_query_params(cursor=token)),
    )


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=MANAGE)
async def create_webhook_endpoint(
    body: WebhookEndpointCreate, response: Response, endpoints: WebhookEndpoints
) -> WebhookEndpointWithSecret:
    """Subscribe an endpoint; the response holds its secret, shown this once."""
    new = NewEndpoint(
        url=body.url,
        event_types=frozenset(event_type.value for event_type in body.event_types),
        description=body.description,
    )
    created = await endpoints.create(new)
    response.headers["Location"] = f"{router.prefix}/{created.endpoint.id}"
    response.headers["ETag"] = etag(created.endpoint.version)
    response.headers.update(NO_STORE)
    return WebhookEndpointWithSecret.with_secret(created.endpoint, created.secret)


@router.get("", dependencies=MANAGE)
async def list_webhook_endpoints(
    request: Request,
    endpoints: WebhookEndpoints,
    *,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
) -> WebhookEndpointPage:
    """List endpoints, newest first, by cursor."""
    after = None if cursor is None else Cursor.decode(cursor)
    page = await endpoints.list_by_cursor(after=after, limit=limit)
    return WebhookEndpointPage(
        data=[WebhookEndpointOut.of(endpoint) for endpoint in page.items],
        pagination=_pagination(request, limit, page.next_cursor),
    )


@router.get("/{endpoint_id}", dependencies=MANAGE)
async def get_webhook_endpoint(
    endpoint_id: UUID, response: Response, endpoints: WebhookEndpoints
) -> WebhookEndpointOut:
    """Read one endpoint; its ``ETag`` is the version to send back in ``If-Match``."""
    endpoint = await endpoints.get(endpoint_id)
    response.headers["ETag"] = etag(endpoint.version)
    return WebhookEndpointOut.of(endpoint)


@router.patch("/{endpoint_id}", dependencies=MANAGE)
async def update_webhook_endpoint(
    endpoint_id: UUID,
    body: WebhookEndpointPatch,
    response: Response,
    endpoints: WebhookEndpoints,
    if_match: IfMatchHeader = None,
) -> WebhookEndpointOut:
    """Change the URL, event types, description or status (JSON Merge Patch)."""
    changes = EndpointChanges(
        url=body.url,
        event_types=(
            None
            if body.event_types is None
            else frozenset(event_type.value for event_type in body.event_types)
        ),
        description=body.description,
        status=body.status,
        disabled_reason=body.disabled_reason,
    )
    endpoint = await endpoints.update(endpoint_id, changes, if_versions=parse_if_match(if_match))
    response.headers["ETag"] = etag(endpoint.version)
    return WebhookEndpointOut.of(endpoint)


@router.delete("/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=MANAGE)
async def delete_webhook_endpoint(
    endpoint_id: UUID, endpoints: WebhookEndpoints, if_match: IfMatchHeader = None
) -> None:
    """Delete an endpoint and its deliveries."""
    await endpoints.delete(endpoint_id, if_versions=parse_if_match(if_match))


@router.post("/{endpoint_id}/secret/rotate", dependencies=MANAGE)
async def rotate_webhook_endpoint_secret(
    endpoint_id: UUID,
    response: Response,
    endpoints: WebhookEndpoints,
    body: SecretRotation | None = None,
    if_match: IfMatchHeader = None,
) -> WebhookEndpointWithSecret:
    """Add a new secret, shown this once; the current ones keep signing for the overlap."""
    seconds = None if body is None else body.overlap_seconds
    rotated = await endpoints.rotate_secret(
        endpoint_id,
        overlap=None if seconds is None else timedelta(seconds=seconds),
        if_versions=parse_if_match(if_match),
    )
    response.headers["ETag"] = etag(rotated.endpoint.version)
    response.headers.update(NO_STORE)
    return WebhookEndpointWithSecret.with_secret(rotated.endpoint, rotated.secret)


@router.get("/{endpoint_id}/deliveries", dependencies=MANAGE)
async def list_webhook_deliveries(
    endpoint_id: UUID,
    request: Request,
    endpoints: WebhookEndpoints,
    *,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: PageCursor = None,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> WebhookDeliveryPage:
    """The endpoint's deliveries, newest first; ``status=failed`` lists those to replay."""
    after = None if cursor is None else Cursor.decode(cursor)
    page = await endpoints.deliveries(endpoint_id, status=delivery_status, after=after, limit=limit)
    return WebhookDeliveryPage(
        data=[WebhookDeliveryOut.of(delivery) for delivery in page.items],
        pagination=_pagination(request, limit, page.next_cursor),
    )


@router.post(
    "/{endpoint_id}/deliveries/replay", status_code=status.HTTP_202_ACCEPTED, dependencies=MANAGE
)
async def replay_failed_webhook_deliveries(
    endpoint_id: UUID, endpoints: WebhookEndpoints
) -> ReplayOutcome:
    """Send the endpoint's failed deliveries again, each with its own ``webhook-id``."""
    return ReplayOutcome(replayed=await endpoints.replay_failed(endpoint_id))


@router.get("/{endpoint_id}/deliveries/{delivery_id}", dependencies=MANAGE)
async def get_webhook_delivery(
    endpoint_id: UUID, delivery_id: UUID, endpoints: WebhookEndpoints
) -> WebhookDeliveryOut:
    """Read one delivery of the endpoint."""
    return WebhookDeliveryOut.of(await endpoints.delivery(endpoint_id, delivery_id))


@router.get("/{endpoint_id}/deliveries/{delivery_id}/attempts", dependencies=MANAGE)
async def list_webhook_delivery_attempts(
    endpoint_id: UUID, delivery_id: UUID, endpoints: WebhookEndpoints
) -> DeliveryAttemptList:
    """Every attempt of a delivery, first first: status, latency, an excerpt of the answer."""
    attempts = await endpoints.attempts(endpoint_id, delivery_id)
    return DeliveryAttemptList(data=[DeliveryAttemptOut.of(attempt) for attempt in attempts])


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=MANAGE,
)
async def replay_webhook_delivery(
    endpoint_id: UUID, delivery_id: UUID, endpoints: WebhookEndpoints
) -> WebhookDeliveryOut:
    """Send a failed delivery again, from its first attempt, with the same ``webhook-id``."""
    return WebhookDeliveryOut.of(await endpoints.replay(endpoint_id, delivery_id))
