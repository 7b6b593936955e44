"""PostgreSQL failures, translated into the service's own errors.

Every module of this adapter runs its driver calls inside :func:`translated_errors`,
so no asyncpg or SQLAlchemy exception reaches the use cases.
"""

from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from {{ cookiecutter.package_name }}.domain.errors import AlreadyExistsError, ServiceUnavailableError
from {{ cookiecutter.package_name }}.storage.port import TransactionConflictError

_UNIQUE_VIOLATION = "23505"
# The transaction lost a race and was rolled back whole; running it again may succeed:
# serialization_failure and deadlock_detected.
_TRANSACTION_CONFLICTS = frozenset({"40001", "40P01"})
# SQLSTATE classes that mean "the server or the connection failed", not "your SQL is wrong":
# 08 connection exception, 53 insufficient resources, 57 operator intervention (incl.
# statement timeout and admin shutdown), 58 system error.
_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
# A connection whose transaction is not where its driver believes it is (a BEGIN or
# COMMIT cut off by a cancellation, say: "SAVEPOINT can only be used in transaction
# blocks"): no_active_sql_transaction, in_failed_sql_transaction. Nothing run on it
# can succeed again, so the pool discards it rather than lend it to the next call.
_BROKEN_TRANSACTION_STATES = frozenset({"25P01", "25P02"})


def _sqlstate_of(original: BaseException | None) -> str:
    return str(getattr(original, "sqlstate", None) or getattr(original, "pgcode", None) or "")


def _sqlstate(error: DBAPIError) -> str:
    return _sqlstate_of(error.orig)


def discard_broken_connections(context: ExceptionContext) -> None:
    """SQLAlchemy's ``handle_error`` hook: a connection in a broken transaction state is lost."""
    if _sqlstate_of(context.original_exception) in _BROKEN_TRANSACTION_STATES:
        context.is_disconnect = True


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn driver failures into the service's errors."""
    try:
        yield
    except IntegrityError as error:
        if _sqlstate(error) == _UNIQUE_VIOLATION:
            raise AlreadyExistsError("A record with the same key already exists.") from error
        raise
    except DBAPIError as error:
        if _sqlstate(error) in _TRANSACTION_CONFLICTS:
            raise TransactionConflictError from error
        if (
            error.connection_invalidated
            or isinstance(error, OperationalError | InterfaceError)
            or _sqlstate(error).startswith(_UNAVAILABLE_CLASSES)
        ):
            raise ServiceUnavailableError("database") from error
        raise
    except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as error:
        raise ServiceUnavailableError("database") from error
    except asyncpg.PostgresError as error:
        if error.sqlstate in _TRANSACTION_CONFLICTS:
            raise TransactionConflictError from error
        if str(error.sqlstate).startswith(_UNAVAILABLE_CLASSES):
            raise ServiceUnavailableError("database") from error
        raise
    except (PoolTimeoutError, OSError, TimeoutError) as error:
        raise ServiceUnavailableError("database") from error
