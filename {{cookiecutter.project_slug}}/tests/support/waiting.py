"""Waiting for something another task or process does, without sleeping a fixed time."""

import asyncio
import itertools
from collections.abc import Awaitable, Callable

POLL_SECONDS = 0.1


async def eventually(condition: Callable[[], Awaitable[bool]], *, seconds: float = 30.0) -> None:
    """Return once ``condition()`` holds; ``TimeoutError`` if it does not within ``seconds``."""
    async with asyncio.timeout(seconds):
        for _ in itertools.count():
            if await condition():
                return
            await asyncio.sleep(POLL_SECONDS)
