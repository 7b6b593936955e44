"""The committed AsyncAPI document is the code's; regenerate it when the events change."""

import json
from pathlib import Path
from typing import Any

from {{ cookiecutter.package_name }}.container import broker_adapter, broker_topology
from {{ cookiecutter.package_name }}.domain.events import OrderEventType
from {{ cookiecutter.package_name }}.messaging.asyncapi import documented
from {{ cookiecutter.package_name }}.messaging.cloudevents import event_type
from {{ cookiecutter.package_name }}.settings import Settings

DOCUMENT = Path(__file__).parents[2] / "asyncapi.json"


def _resolve(document: dict[str, Any], reference: str) -> Any:
    node: Any = document
    for part in reference.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_asyncapi_document_matches_the_code() -> None:
    committed = json.loads(DOCUMENT.read_text(encoding="utf-8"))

    command = "uv run {{ cookiecutter.project_slug }} asyncapi"
    assert committed == documented(broker_adapter()), f"asyncapi.json is out of date: {command}"


def test_every_event_type_is_a_message_of_the_events_channel() -> None:
    document = documented(broker_adapter())
    channel = document["channels"]["orderEvents"]
    names = {_resolve(document, ref["$ref"])["name"] for ref in channel["messages"].values()}

    assert names == {event_type(kind) for kind in OrderEventType}
    defaults = Settings.model_construct()
    assert channel["address"] == broker_topology(defaults.events_namespace).events


def test_every_reference_resolves() -> None:
    document = documented(broker_adapter())

    def references(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [ref for value in node.values() for ref in references(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in references(value)]
        return []

    for reference in references(document):
        assert _resolve(document, reference) is not None, reference
