"""Serving the REST API, and writing the OpenAPI document it is checked against."""

import argparse
import asyncio
from pathlib import Path

import uvicorn

from {{ cookiecutter.package_name }}.console import Commands, write_document
from {{ cookiecutter.package_name }}.container import check_configuration
from {{ cookiecutter.package_name }}.settings import get_settings

OPENAPI_PATH = Path("openapi.json")


def serve(_: argparse.Namespace) -> int:
    """Run the HTTP server until SIGINT/SIGTERM, then drain in-flight requests."""
    settings = get_settings()
    # Assemble once before uvicorn starts: a setting that cannot work stops here, with
    # its message, instead of failing every worker's start-up with a traceback.
    asyncio.run(check_configuration(settings))
    uvicorn.run(
        "{{ cookiecutter.package_name }}.api.rest.app:serve_app",
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        workers=settings.http_workers,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,
        proxy_headers=True,
        forwarded_allow_ips=settings.http_forwarded_allow_ips,
        timeout_graceful_shutdown=settings.http_graceful_shutdown_seconds,
        server_header=False,
    )
    return 0


def openapi(arguments: argparse.Namespace) -> int:
    """Write the OpenAPI document the tests compare against the app."""
    from {{ cookiecutter.package_name }}.api.rest.app import create_app

    write_document(create_app().openapi(), arguments.output)
    return 0


def register(commands: Commands) -> None:
    """Add ``serve`` and ``openapi``."""
    commands.add_parser("serve", help="run the HTTP API").set_defaults(handler=serve)
    openapi_parser = commands.add_parser("openapi", help="write the OpenAPI document")
    openapi_parser.add_argument("--output", default=str(OPENAPI_PATH), help="path, or - for stdout")
    openapi_parser.set_defaults(handler=openapi, prints_data=True)
