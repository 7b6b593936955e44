"""The AsyncAPI 3.0 document of the events this service publishes and consumes.

Built from the same names and schemas the code uses (the adapter's topology,
the CloudEvents types, the pydantic data models), written to ``asyncapi.json``
by the ``asyncapi`` command; a test fails when the file and the code disagree.
"""

from typing import Any

from {{ cookiecutter.package_name }}.domain.events import OrderEventType
from {{ cookiecutter.package_name }}.messaging.cloudevents import (
    CONTENT_TYPE,
    DATA_SCHEMAS,
    VERSION_EXTENSION,
    event_type,
)
from {{ cookiecutter.package_name }}.messaging.port import BrokerAdapter
from {{ cookiecutter.package_name }}.settings import Settings

ASYNCAPI_VERSION = "3.0.0"
DOCUMENT_VERSION = "1.0.0"
_REF = "#/components/schemas/{model}"
_TRACE_HEADERS = {
    "type": "object",
    "properties": {
        "traceparent": {"type": "string", "description": "W3C Trace Context traceparent."},
        "tracestate": {"type": "string", "description": "W3C Trace Context tracestate."},
    },
}


def _message_name(kind: OrderEventType) -> str:
    entity, action, version = kind.value.split(".")
    return f"{entity}{action.capitalize()}{version.upper()}"


def _envelope(kind: OrderEventType, data_model: str, source: str) -> dict[str, Any]:
    """The JSON schema of the structured-mode CloudEvent carrying ``kind``."""
    return {
        "type": "object",
        "required": ["specversion", "id", "source", "type", "subject", "time", "data"],
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "format": "uuid", "description": "Unique per event."},
            "source": {"type": "string", "format": "uri-reference", "examples": [source]},
            "type": {"const": event_type(kind)},
            "subject": {"type": "string", "format": "uuid", "description": "The order's id."},
            "time": {"type": "string", "format": "date-time"},
            "datacontenttype": {"const": "application/json"},
            VERSION_EXTENSION: {
                "type": "integer",
                "description": "The order's version after the change; orders events per order.",
            },
            "traceparent": {"type": "string"},
            "tracestate": {"type": "string"},
            "data": {"$ref": _REF.format(model=data_model)},
        },
    }


def _schemas() -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    for model in set(DATA_SCHEMAS.values()):
        schema = model.model_json_schema(ref_template=_REF)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return dict(sorted(schemas.items()))


def documented(adapter: BrokerAdapter) -> dict[str, Any]:
    """The document for the default settings, whatever this environment overrides."""
    return build_document(Settings.model_construct(), adapter)


def build_document(settings: Settings, adapter: BrokerAdapter) -> dict[str, Any]:
    """The AsyncAPI document of ``adapter`` for the namespace and source in ``settings``."""
    topology = adapter.topology(settings.events_namespace)
    names = {kind: _message_name(kind) for kind in OrderEventType}
    refs = [{"$ref": f"#/components/messages/{name}"} for name in names.values()]
    messages = {
        names[kind]: {
            "name": event_type(kind),
            "title": f"{kind.value} (CloudEvents {event_type(kind)})",
            "contentType": CONTENT_TYPE,
            "headers": _TRACE_HEADERS,
            "payload": _envelope(kind, DATA_SCHEMAS[kind].__name__, settings.events_source),
        }
        for kind in OrderEventType
    }
    channel_messages = dict(zip(names.values(), refs, strict=True))
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": f"{settings.service_name} events",
            "version": DOCUMENT_VERSION,
            "description": (
                "Order events, published from a transactional outbox at least once and "
                "consumed exactly once in effect. Every message is a CloudEvent 1.0 in "
                "structured JSON mode; events of one order arrive in version order."
            ),
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": {"local": adapter.asyncapi_server()},
        "channels": {
            "orderEvents": {"address": topology.events, "messages": channel_messages},
            "orderEventsDeadLetters": {
                "address": topology.dead_letters,
                "description": "Deliveries the consumer gave up on, with the error; replayable.",
                "messages": channel_messages,
            },
        },
        "operations": {
            "publishOrderEvents": {
                "action": "send",
                "channel": {"$ref": "#/channels/orderEvents"},
                "messages": [
                    {"$ref": f"#/channels/orderEvents/messages/{n}"} for n in names.values()
                ],
            },
            "consumeOrderEvents": {
                "action": "receive",
                "title": f"Consumer {topology.consumer}",
                "channel": {"$ref": "#/channels/orderEvents"},
                "messages": [
                    {"$ref": f"#/channels/orderEvents/messages/{n}"} for n in names.values()
                ],
            },
        },
        "components": {"messages": messages, "schemas": _schemas()},
    }
