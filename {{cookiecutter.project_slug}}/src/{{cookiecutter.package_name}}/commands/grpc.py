"""Serving the gRPC API, and regenerating its protobuf modules."""

import argparse
import asyncio
from pathlib import Path

import structlog

from {{ cookiecutter.package_name }}.console import Commands
from {{ cookiecutter.package_name }}.settings import get_settings

log = structlog.get_logger(__name__)


def serve(_: argparse.Namespace) -> int:
    """Serve gRPC and the HTTP side port until SIGINT/SIGTERM, then drain in-flight calls."""
    from {{ cookiecutter.package_name }}.api.grpc.server import serve as serve_grpc

    asyncio.run(serve_grpc(get_settings()))
    return 0


def protos(arguments: argparse.Namespace) -> int:
    """Regenerate the protobuf modules and type stubs from the protos (needs the dev tools)."""
    from {{ cookiecutter.package_name }}.api.grpc.codegen import generate

    for proto in generate(Path(arguments.proto_root), Path(arguments.output)):
        log.info("generated", proto=str(proto))
    return 0


def register(commands: Commands) -> None:
    """Add ``serve`` and ``protos``."""
    commands.add_parser("serve", help="run the gRPC API and the HTTP side port").set_defaults(
        handler=serve
    )
    protos_parser = commands.add_parser("protos", help="regenerate the protobuf modules")
    protos_parser.add_argument("--proto-root", default="proto", help="where the .proto files are")
    protos_parser.add_argument("--output", default="src", help="where the modules go")
    protos_parser.set_defaults(handler=protos)
