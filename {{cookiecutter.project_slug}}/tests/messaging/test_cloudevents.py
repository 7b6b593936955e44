"""Order events as CloudEvents: what goes on the wire, and what the consumer refuses."""

import orjson
import pytest

from {{ cookiecutter.package_name }}.messaging.cloudevents import (
    CONTENT_TYPE,
    MalformedEventError,
    event_type,
    from_message,
    to_message,
)
from {{ cookiecutter.package_name }}.messaging.port import Message
from {{ cookiecutter.package_name }}.storage.events import PendingEvent
from tests.messaging.orders import TRACE, order_created, pending


def _pending() -> PendingEvent:
    return pending(order_created("c-1"))


def test_an_event_travels_as_a_structured_cloudevent_and_comes_back_equal() -> None:
    pending = _pending()
    event = pending.event

    message = to_message(pending, "/orders-service")

    envelope = orjson.loads(message.body)
    assert envelope["specversion"] == "1.0"
    assert (envelope["id"], envelope["subject"]) == (str(event.id), str(event.order_id))
    assert envelope["type"] == event_type(event.type) == message.type
    assert envelope["source"] == "/orders-service"
    assert envelope["orderversion"] == 1
    assert envelope["traceparent"] == TRACE["traceparent"]
    assert envelope["data"] == event.data
    assert (message.id, message.key) == (str(event.id), str(event.order_id))
    assert message.headers == TRACE
    assert CONTENT_TYPE == "application/cloudevents+json"
    assert from_message(message) == event


def _message(body: bytes) -> Message:
    return Message(id="m-1", type="t", key="k", body=body)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"specversion": "1.0", "id": "x"}',
    ],
)
def test_a_message_that_is_not_a_cloudevent_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedEventError):
        from_message(_message(body))


def test_an_event_whose_data_breaks_its_schema_is_malformed() -> None:
    envelope = orjson.loads(to_message(_pending(), "/s").body)
    del envelope["data"]["customer_id"]

    with pytest.raises(MalformedEventError, match="customer_id"):
        from_message(_message(orjson.dumps(envelope)))


def test_an_event_of_an_unknown_type_is_not_ours_to_handle() -> None:
    envelope = orjson.loads(to_message(_pending(), "/s").body)
    envelope["type"] = "com.example.invoice.paid.v1"

    assert from_message(_message(orjson.dumps(envelope))) is None
