"""The committed OpenAPI document is the app's; regenerate it when the API changes."""

import json
from pathlib import Path

from {{ cookiecutter.package_name }}.api.rest.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

DOCUMENT = Path(__file__).parents[3] / "openapi.json"


def test_openapi_document_matches_the_app() -> None:
    committed = json.loads(DOCUMENT.read_text(encoding="utf-8"))

    command = "uv run {{ cookiecutter.project_slug }} openapi"
    assert committed == create_app(Settings()).openapi(), f"openapi.json is out of date: {command}"


def test_every_operation_documents_the_error_envelope() -> None:
    document = create_app(Settings()).openapi()

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path.startswith("/v1"):
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (
                        method,
                        path,
                        status,
                    )
