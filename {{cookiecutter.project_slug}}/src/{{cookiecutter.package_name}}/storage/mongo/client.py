"""The pooled MongoDB client, and what its failures mean for the service.

Every module of this adapter runs its driver calls inside :func:`translated_errors`,
so no PyMongo exception reaches the use cases.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC
from typing import Any

from pymongo import AsyncMongoClient, WriteConcern
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.read_concern import ReadConcern

from {{ cookiecutter.package_name }}.domain.errors import (
    AlreadyExistsError,
    ConcurrentModificationError,
    ServiceUnavailableError,
)
from {{ cookiecutter.package_name }}.settings import Settings

Document = dict[str, Any]
Database = AsyncDatabase[Document]

_WRITE_CONFLICT = 112
# Server codes that mean "this server cannot serve now", not "your command is wrong":
# host unreachable/not found, network timeout, shutdown in progress, primary stepped
# down, time limit exceeded, not primary, interrupted at shutdown/replication change.
_UNAVAILABLE_CODES = frozenset({6, 7, 89, 91, 189, 262, 10107, 11600, 11602, 13435, 13436})


def create_client(settings: Settings) -> AsyncMongoClient[Document]:
    """A client with a bounded pool that fails fast, rather than waiting, when the server is gone.

    Nothing connects here: the client connects in the background on first use.
    The operation limit is ``socketTimeoutMS``, not the client-side ``timeoutMS``:
    under ``timeoutMS`` the driver retries a failed operation until that time is
    spent, so an outage would hold every request for the whole limit instead of
    failing after one server selection timeout.
    """
    return AsyncMongoClient(
        str(settings.mongodb_url),
        appname=settings.service_name,
        maxPoolSize=settings.mongodb_max_pool_size,
        minPoolSize=settings.mongodb_min_pool_size,
        waitQueueTimeoutMS=int(settings.mongodb_wait_queue_timeout_seconds * 1000),
        connectTimeoutMS=int(settings.mongodb_connect_timeout_seconds * 1000),
        serverSelectionTimeoutMS=int(settings.mongodb_server_selection_timeout_seconds * 1000),
        socketTimeoutMS=settings.mongodb_socket_timeout_ms or None,
        w="majority",
        uuidRepresentation="standard",
        tz_aware=True,
        tzinfo=UTC,
    )


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn driver failures into the service's errors."""
    try:
        yield
    except DuplicateKeyError as error:
        raise AlreadyExistsError("A record with the same key already exists.") from error
    except OperationFailure as error:
        if error.code == _WRITE_CONFLICT:
            raise ConcurrentModificationError from error
        if error.timeout or error.code in _UNAVAILABLE_CODES:
            raise ServiceUnavailableError("database") from error
        raise
    except ConnectionFailure as error:
        raise ServiceUnavailableError("database") from error
    except PyMongoError as error:
        if error.timeout:
            raise ServiceUnavailableError("database") from error
        raise


@asynccontextmanager
async def transaction(client: AsyncMongoClient[Document]) -> AsyncIterator[AsyncClientSession]:
    """A session in a snapshot transaction with majority writes; aborted unless committed."""
    with translated_errors():
        async with client.start_session() as session:
            await session.start_transaction(
                read_concern=ReadConcern("snapshot"),
                write_concern=WriteConcern("majority"),
            )
            try:
                yield session
            finally:
                if session.in_transaction:
                    await session.abort_transaction()
