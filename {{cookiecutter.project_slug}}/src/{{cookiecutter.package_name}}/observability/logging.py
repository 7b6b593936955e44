"""Structured logs: one JSON object per line, with the request id on every line.

Standard-library loggers (uvicorn, SQLAlchemy, Alembic) go through the same
processors, so every line of the process has one shape.
"""

import logging
import sys
from typing import TextIO

import orjson
import stamina
import structlog
from structlog.typing import Processor


def _dumps(event: object, **_: object) -> str:
    return orjson.dumps(event, default=str).decode()


def configure_logging(
    level: str = "INFO", log_format: str = "json", stream: TextIO = sys.stdout
) -> None:
    """Route structlog and the standard library to ``stream`` (stdout) in one format."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: list[Processor] = (
        [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer(_dumps)]
        if log_format == "json"
        else [structlog.dev.ConsoleRenderer()]
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # The request middleware logs each request with its id; uvicorn's line would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    # Each retry loop of the service logs its own line, with what it retries (resilience.retries).
    stamina.instrumentation.set_on_retry_hooks(())
