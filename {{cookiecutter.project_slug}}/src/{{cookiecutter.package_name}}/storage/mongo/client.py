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

from {{ cookiecutter.package_name }}.domain.errors import AlreadyExistsError, ServiceError, ServiceUnavailableError
from {{ cookiecutter.package_name }}.resilience.retries import RetryPolicy
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.storage.port import TransactionConflictError

Document = dict[str, Any]
Database = AsyncDatabase[Document]

_WRITE_CONFLICT = 112
# Error labels of the driver transactions spec: the whole transaction was aborted and may
# be run again; the commit's outcome is not known, and only the commit may be sent again.
TRANSIENT_TRANSACTION_ERROR = "TransientTransactionError"
UNKNOWN_COMMIT_RESULT = "UnknownTransactionCommitResult"
# A commit whose outcome is unknown is sent again (a repeated commit of a committed
# transaction succeeds), after the one retry the driver makes itself.
_COMMIT_RETRY = RetryPolicy(
    attempts=3, wait_initial_seconds=0.05, wait_max_seconds=0.5, timeout_seconds=5.0
)
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


def service_error(error: PyMongoError) -> ServiceError | None:
    """The service's error for a driver failure; ``None`` when it is a bug, not a condition.

    A commit of unknown outcome is unavailability, not a conflict: the transaction
    may have been applied, so running it again could apply it twice.
    """
    if isinstance(error, DuplicateKeyError):
        return AlreadyExistsError("A record with the same key already exists.")
    if (
        error.has_error_label(UNKNOWN_COMMIT_RESULT)
        or isinstance(error, ConnectionFailure)
        or error.timeout
        or (isinstance(error, OperationFailure) and error.code in _UNAVAILABLE_CODES)
    ):
        return ServiceUnavailableError("database")
    if error.has_error_label(TRANSIENT_TRANSACTION_ERROR) or (
        isinstance(error, OperationFailure) and error.code == _WRITE_CONFLICT
    ):
        return TransactionConflictError()
    return None


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn driver failures into the service's errors."""
    try:
        yield
    except PyMongoError as error:
        translated = service_error(error)
        if translated is None:
            raise
        raise translated from error


def _commit_result_unknown(error: Exception) -> bool:
    return isinstance(error, PyMongoError) and error.has_error_label(UNKNOWN_COMMIT_RESULT)


async def commit(session: AsyncClientSession) -> None:
    """Commit the session's transaction, sending the commit again while its outcome is unknown.

    Only the commit is repeated, never the transaction's writes: they may have
    been applied already. Still unknown after the retries, it is unavailability.
    """
    with translated_errors():
        async for attempt in _COMMIT_RETRY.attempts_for(
            _commit_result_unknown, operation="mongodb.commit_transaction"
        ):
            with attempt:
                await session.commit_transaction()


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
