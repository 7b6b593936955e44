"""A real HTTP/1.1 server on loopback that misbehaves on cue, and fast client settings for it.

The test scripts the next answers (``answer``): a status with headers, a hang
past the client's read timeout, or a connection reset, then a default answer.
The server logs every request it receives with the time, and how many were
in flight at once (and the connections it accepted), so tests count what
really reached it. Requests that carry an ``Idempotency-Key`` (or whichever
header ``effect_key`` names: ``webhook-id`` for a webhook receiver) and get a
2xx take effect once per key, as a real downstream keeps them.
"""

import asyncio
import socket
import struct
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from {{ cookiecutter.package_name }}.resilience.breaker.memory import MemoryBreakerStore
from {{ cookiecutter.package_name }}.resilience.breaker.port import BreakerStore
from {{ cookiecutter.package_name }}.resilience.http import DownstreamClient
from {{ cookiecutter.package_name }}.settings import DownstreamSettings

FAST = DownstreamSettings(
    connect_timeout_seconds=0.5,
    read_timeout_seconds=0.5,
    write_timeout_seconds=0.5,
    pool_timeout_seconds=0.5,
    deadline_seconds=5.0,
    max_connections=10,
    retry_attempts=4,
    retry_wait_initial_seconds=0.05,
    retry_wait_max_seconds=0.2,
    retry_after_max_seconds=2.0,
    breaker_failure_threshold=100,
    breaker_failure_window_seconds=30.0,
    breaker_cooldown_seconds=0.5,
    breaker_half_open_calls=1,
)


def downstream_client(
    settings: DownstreamSettings = FAST,
    *,
    name: str = "test-downstream",
    breakers: BreakerStore | None = None,
) -> DownstreamClient:
    """A client with short timeouts and waits, its circuit in memory unless ``breakers`` says."""
    return DownstreamClient.for_downstream(name, settings, breakers or MemoryBreakerStore())


@dataclass(frozen=True, slots=True)
class Answer:
    """One scripted answer: a response after ``delay_seconds``, or a reset connection."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"
    delay_seconds: float = 0.0
    reset: bool = False


OK = Answer()
FAILING = Answer(500, body=b'{"error": "boom"}')
HANGING = Answer(delay_seconds=30.0)
RESET = Answer(reset=True)


@dataclass(frozen=True, slots=True)
class Received:
    """One request as the server saw it."""

    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class MisbehavingServer:
    """Serves scripted answers on 127.0.0.1 and logs what arrives."""

    def __init__(self, *, effect_key: str = "idempotency-key") -> None:
        self.received: list[Received] = []
        self.connections = 0
        self._effect_key = effect_key
        self.effects: Counter[str] = Counter()
        self.peak_in_flight = 0
        self._in_flight = 0
        self._script: deque[Answer] = deque()
        self._default = OK
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self.port = 0

    @property
    def url(self) -> str:
        """Where the server listens."""
        return f"http://127.0.0.1:{self.port}"

    def answer(self, *answers: Answer, then: Answer | None = None) -> None:
        """Answer the next requests with ``answers``, and every later one with ``then``."""
        self._script = deque(answers)
        if then is not None:
            self._default = then

    def count(self, path: str | None = None) -> int:
        """How many requests arrived (for ``path``)."""
        return sum(1 for request in self.received if path is None or request.path == path)

    async def start(self) -> None:
        """Listen on a free port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
            for writer in self._connections:
                writer.transport.abort()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._connections.add(writer)
        try:
            while (request := await _read_request(reader)) is not None:
                self.received.append(request)
                answer = self._script.popleft() if self._script else self._default
                if not await self._respond(request, answer, writer):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(writer)
            writer.close()

    async def _respond(
        self, request: Received, answer: Answer, writer: asyncio.StreamWriter
    ) -> bool:
        self._in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            if answer.delay_seconds:
                await asyncio.sleep(answer.delay_seconds)
            if answer.reset:
                sock = writer.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                writer.transport.abort()
                return False
            key = request.headers.get(self._effect_key)
            if key is not None and 200 <= answer.status < 300 and key not in self.effects:
                self.effects[key] += 1
            head = [f"HTTP/1.1 {answer.status} Scripted", f"Content-Length: {len(answer.body)}"]
            head += [f"{name}: {value}" for name, value in answer.headers.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + answer.body)
            await writer.drain()
            return True
        finally:
            self._in_flight -= 1


async def _read_request(reader: asyncio.StreamReader) -> Received | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return Received(time.monotonic(), method, path, headers, body)
