"""Liveness and readiness, answered the same way by every process and transport.

``/healthz`` says the process answers (restart it if not); ``/readyz`` says
every dependency answers (else 503 and which one failed, so the instance leaves
the rotation). The REST API and the HTTP probe port both answer with these.
"""

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import structlog
from starlette.responses import JSONResponse

from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.storage.port import Storage

log = structlog.get_logger(__name__)

READINESS_TIMEOUT_SECONDS = 2.0

# A readiness check: whether one dependency answers.
type Check = Callable[[], Awaitable[bool]]


async def answers(ping: Callable[[], Awaitable[None]]) -> bool:
    """Whether ``ping`` (a database's, a broker's) succeeds within the readiness timeout.

    Any failure is a no: an unexpected one (a driver's surprise) is logged with
    its traceback, and readiness still answers 503, never 500, and the gRPC
    health reporter checks again.
    """
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_SECONDS):
            await ping()
    except (ServiceUnavailableError, TimeoutError):
        return False
    except Exception:
        log.exception("readiness_check_failed")
        return False
    return True


async def database_ready(storage: Storage) -> bool:
    """Whether the database answers within the readiness timeout."""
    return await answers(storage.ping)


def liveness_response() -> JSONResponse:
    """The process answers; checks no dependency, on purpose."""
    return JSONResponse({"status": "ok", "checks": {}})


async def readiness_response(checks: Mapping[str, Check]) -> JSONResponse:
    """200 when every check passes; else 503, naming the check that failed."""
    results = await asyncio.gather(*(check() for check in checks.values()))
    report = {name: "ok" if ok else "unavailable" for name, ok in zip(checks, results, strict=True)}
    if all(results):
        return JSONResponse({"status": "ready", "checks": report})
    return JSONResponse({"status": "unavailable", "checks": report}, status_code=503)
