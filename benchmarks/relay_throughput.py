"""Benchmark: the generated outbox relay against bare aio-pika publishing with confirms.

Both publish the same events to the same RabbitMQ in batches of the same size,
waiting for the broker's confirmation of every message; the relay also leases
the rows in PostgreSQL, builds the CloudEvents and deletes what was confirmed.
Prints events per second of each and the ratio (ours / bare), measured in the
same run. Needs PostgreSQL at DATABASE_URL and RabbitMQ at BROKER_URL (loopback
defaults).

    uv run python benchmarks/relay_throughput.py [--events 5000] [--batch 100]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

REPO = Path(__file__).resolve().parents[1]
SERVER_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER_URL = os.environ.get("BROKER_URL", "amqp://guest:guest@127.0.0.1:5672/")

# Runs inside the baked project's environment, where its package is importable.
_MEASURE = """
import asyncio, sys, time
from datetime import UTC, datetime
import aio_pika
from orders_service.container import build_container, open_broker, broker_topology
from orders_service.domain.events import OrderEvent
from orders_service.domain.orders import NewOrder, Order, OrderLine
from orders_service.messaging.cloudevents import to_message
from orders_service.messaging.relay import OutboxRelay
from orders_service.settings import Settings
from orders_service.observability.tracing import continued_trace
from orders_service.storage.events import PendingEvent

EVENTS, BATCH = int(sys.argv[1]), int(sys.argv[2])
TRACE = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def events():
    new = NewOrder(customer_id="bench", currency="EUR", lines=(OrderLine("A", 1, 100),))
    return [OrderEvent.created(Order.place(new, datetime.now(UTC))) for _ in range(EVENTS)]


async def seed(storage, batch):
    async with storage.unit_of_work() as uow:
        with continued_trace(TRACE):
            for event in batch:
                await uow.outbox.add(event)
        await uow.commit()


async def relay_rate(settings, seeded):
    async with build_container(settings) as container, open_broker(settings) as broker:
        for start in range(0, len(seeded), 500):
            await seed(container.storage, seeded[start:start + 500])
        relay = OutboxRelay(container.events.outbox, broker, settings)
        await broker.ping()
        began = time.perf_counter()
        published = 0
        while count := await relay.relay_once():
            published += count
        assert published == EVENTS, published
        return EVENTS / (time.perf_counter() - began)


async def bare_rate(settings, seeded):
    messages = [
        to_message(PendingEvent(event=event, trace_context=TRACE, attempts=1), "/bench")
        for event in seeded
    ]
    names = broker_topology(settings.events_namespace)
    connection = await aio_pika.connect(settings.broker_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(names.events)
        began = time.perf_counter()
        for start in range(0, len(messages), BATCH):
            await asyncio.gather(*(
                exchange.publish(
                    aio_pika.Message(
                        message.body,
                        message_id=message.id,
                        type=message.type,
                        content_type="application/cloudevents+json",
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        headers=dict(message.headers),
                    ),
                    routing_key=message.type,
                )
                for message in messages[start:start + BATCH]
            ))
        return EVENTS / (time.perf_counter() - began)


async def clean(settings):
    names = broker_topology(settings.events_namespace)
    connection = await aio_pika.connect(settings.broker_url)
    async with connection:
        channel = await connection.channel()
        for queue in (names.consumer, names.dead_letters):
            await channel.queue_delete(queue)
        await channel.exchange_delete(names.events)


async def main():
    settings = Settings(outbox_relay_batch_size=BATCH)
    try:
        ours = await relay_rate(settings, events())
        bare = await bare_rate(settings, events())
    finally:
        await clean(settings)
    print(f"relay (lease, CloudEvents, publish with confirms, delete): {ours:8.0f} events/s")
    print(f"bare aio-pika (publish with confirms):                     {bare:8.0f} events/s")
    print(f"ratio ours / bare: {ours / bare:.2f}x")


asyncio.run(main())
"""


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    options = parser.parse_args()
    database = f"bench_relay_{os.getpid()}"
    with tempfile.TemporaryDirectory() as scratch:
        project = Path(
            cookiecutter(
                str(REPO),
                no_input=True,
                output_dir=scratch,
                extra_context={"queue": "rabbitmq", "auth": "none"},
            )
        )
        run(["uv", "sync", "--quiet"], project)
        run(["psql", SERVER_URL, "-qc", f'CREATE DATABASE "{database}"'], REPO)
        env = os.environ | {
            "DATABASE_URL": f"{SERVER_URL.rsplit('/', 1)[0]}/{database}",
            "BROKER_URL": BROKER_URL,
            "EVENTS_NAMESPACE": f"bench-{os.getpid()}",
            "LOG_LEVEL": "WARNING",
        }
        try:
            run(["uv", "run", "orders-service", "migrate", "upgrade"], project, env)
            script = project / "measure.py"
            script.write_text(_MEASURE, encoding="utf-8")
            argv = ["uv", "run", "python", str(script), str(options.events), str(options.batch)]
            sys.stdout.write(run(argv, project, env))
        finally:
            run(["psql", SERVER_URL, "-qc", f'DROP DATABASE "{database}" WITH (FORCE)'], REPO)


if __name__ == "__main__":
    main()
