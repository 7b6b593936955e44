"""Order events as CloudEvents 1.0, structured JSON mode: one format on every broker.

The whole envelope travels in the message body, so a dead letter or a replay
keeps every attribute whatever the broker does with headers. The W3C trace
context rides twice: as the distributed-tracing extension in the envelope and
as transport headers that broker tooling can see.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ConfigDict, ValidationError

from {{ cookiecutter.package_name }}.domain.events import OrderEvent, OrderEventType
from {{ cookiecutter.package_name }}.messaging.port import Message
from {{ cookiecutter.package_name }}.storage.events import PendingEvent

CONTENT_TYPE = "application/cloudevents+json"
# Event types read "<TYPE_PREFIX>.order.created.v1": reverse-DNS-like, owned by this service.
TYPE_PREFIX = "{{ cookiecutter.project_slug }}"
VERSION_EXTENSION = "orderversion"
_TRACE_ATTRIBUTES = ("traceparent", "tracestate")
_FORMAT = JSONFormat()


class MalformedEventError(ValueError):
    """A message no retry can fix: not a CloudEvent, or its data breaks the schema."""


class _Payload(BaseModel):
    # Tolerant reader: fields added by a newer producer are ignored, not rejected.
    model_config = ConfigDict(extra="ignore", frozen=True)


class OrderLineData(_Payload):
    """One line of an order, as events carry it."""

    sku: str
    quantity: int
    unit_price_minor: int


class OrderData(_Payload):
    """The data of ``order.created.v1`` and ``order.updated.v1``: the whole order."""

    id: UUID
    customer_id: str
    currency: str
    lines: list[OrderLineData]
    status: str
    created_at: datetime
    updated_at: datetime
    version: int


class OrderDeletedData(_Payload):
    """The data of ``order.deleted.v1``."""

    id: UUID
    customer_id: str


DATA_SCHEMAS: dict[OrderEventType, type[_Payload]] = {
    OrderEventType.CREATED: OrderData,
    OrderEventType.UPDATED: OrderData,
    OrderEventType.DELETED: OrderDeletedData,
}


def event_type(kind: OrderEventType) -> str:
    """The CloudEvents ``type`` of ``kind``."""
    return f"{TYPE_PREFIX}.{kind.value}"


def to_message(pending: PendingEvent, source: str) -> Message:
    """The broker message of an outbox event."""
    event = pending.event
    trace = {
        name: pending.trace_context[name]
        for name in _TRACE_ATTRIBUTES
        if name in pending.trace_context
    }
    attributes: dict[str, Any] = {
        "id": str(event.id),
        "source": source,
        "type": event_type(event.type),
        "subject": str(event.order_id),
        "time": event.occurred_at,
        "datacontenttype": "application/json",
        VERSION_EXTENSION: event.version,
        **trace,
    }
    body = _FORMAT.write(CloudEvent(attributes=attributes, data=event.data))
    return Message(
        id=str(event.id), type=attributes["type"], key=str(event.order_id), body=body, headers=trace
    )


def _envelope(body: bytes) -> BaseCloudEvent:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise MalformedEventError(f"the body is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise MalformedEventError("the body is not a JSON object")
    try:
        return _FORMAT.read(CloudEvent, body)
    except (ValueError, TypeError, BaseCloudEventException) as error:
        raise MalformedEventError(f"not a CloudEvent: {error}") from error


def _kind(cloud_event: BaseCloudEvent) -> OrderEventType | None:
    prefix = f"{TYPE_PREFIX}."
    name = cloud_event.get_type()
    if not name.startswith(prefix):
        return None
    try:
        return OrderEventType(name.removeprefix(prefix))
    except ValueError:
        return None


def from_message(message: Message) -> OrderEvent | None:
    """The order event in ``message``; ``None`` for a type this service does not know.

    Raises :class:`MalformedEventError` when the message cannot be an event of ours.
    """
    cloud_event = _envelope(message.body)
    kind = _kind(cloud_event)
    if kind is None:
        return None
    data = cloud_event.get_data()
    occurred_at = cloud_event.get_time()
    if not isinstance(data, dict) or occurred_at is None:
        raise MalformedEventError(f"{kind.value} needs JSON object data and a time")
    try:
        DATA_SCHEMAS[kind].model_validate(data)
        return OrderEvent(
            id=UUID(cloud_event.get_id()),
            type=kind,
            order_id=UUID(cloud_event.get_subject() or ""),
            version=int(cloud_event.get_extension(VERSION_EXTENSION)),
            occurred_at=occurred_at,
            data=data,
        )
    except (ValidationError, ValueError, TypeError) as error:
        raise MalformedEventError(f"{kind.value} is not valid: {error}") from error
