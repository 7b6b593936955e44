"""Helpers to read from a broker in tests without hanging when nothing comes."""

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

from {{ cookiecutter.package_name }}.domain.errors import ServiceUnavailableError
from {{ cookiecutter.package_name }}.messaging.port import Broker, Delivery, Message

WAIT_SECONDS = 20.0


def make_message(key: str = "order-1", *, body: bytes | None = None) -> Message:
    """A message of a fresh id; the body and headers are opaque to the broker."""
    message_id = str(uuid4())
    return Message(
        id=message_id,
        type="test.order.created.v1",
        key=key,
        body=body if body is not None else f'{{ '{{' }}"id": "{message_id}"{{ '}}' }}'.encode(),
        headers={"traceparent": f"00-{uuid4().hex}-{uuid4().hex[:16]}-01"},
    )


class Receiver:
    """One long-lived iteration of ``broker.deliveries()``, read with a timeout."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self._iterator: AsyncIterator[Delivery] = broker.deliveries()

    async def next(self, seconds: float = WAIT_SECONDS) -> Delivery:
        """The next delivery; ``TimeoutError`` when none comes in time."""
        async with asyncio.timeout(seconds):
            return await anext(self._iterator)

    async def take(self, count: int, seconds: float = WAIT_SECONDS) -> list[Delivery]:
        """The next ``count`` deliveries."""
        return [await self.next(seconds) for _ in range(count)]

    async def nothing_within(self, seconds: float) -> bool:
        """Whether no delivery arrives for ``seconds``."""
        try:
            delivery = await self.next(seconds)
        except TimeoutError:
            return True
        await delivery.retry(0)
        return False

    async def next_surviving_outages(self, seconds: float = WAIT_SECONDS) -> Delivery:
        """The next delivery, iterating again whenever the adapter reports the broker gone."""
        async with asyncio.timeout(seconds):
            while True:
                try:
                    return await anext(self._iterator)
                except ServiceUnavailableError:
                    await self.close()
                    await asyncio.sleep(0.2)
                    self._iterator = self._broker.deliveries()

    async def close(self) -> None:
        """End the iteration (and with it the adapter's subscription)."""
        aclose = getattr(self._iterator, "aclose", None)
        if aclose is not None:
            await aclose()
