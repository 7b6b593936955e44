"""Every server a variant may need, by the name ``harness.variants.required_servers`` gives."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from servers import kafka, mongo, nats, postgres, rabbitmq, redis
from servers.background import BackgroundServer

SERVERS: dict[str, BackgroundServer] = {
    "postgres": postgres.SERVER,
    "mongo": mongo.SERVER,
    "redis": redis.SERVER,
    "rabbitmq": rabbitmq.SERVER,
    "nats": nats.SERVER,
    "kafka": kafka.SERVER,
}


def ensure_running(names: Iterable[str], state_dir: Path) -> None:
    """Make every server ``names`` lists reachable, starting those that can be started."""
    for name in names:
        SERVERS[name].ensure_running(state_dir)


def stop_started(state_dir: Path) -> None:
    """Stop every server this run started."""
    for server in SERVERS.values():
        server.stop_started(state_dir)
