"""Webhook endpoints, deliveries, their attempts and the inbound inbox on PostgreSQL.

The outbox writes an event's deliveries with one ``INSERT ... SELECT`` on the
unit of work's connection, so they commit or roll back with the order change.
``deliver`` workers lease due deliveries in one statement (``FOR UPDATE SKIP
LOCKED`` keeps concurrent workers off each other's rows) and hold no
transaction while they send.

``failure_streak`` and ``failing_since`` belong to the deliverer: ``failed``
and ``recovered`` change them atomically, and change neither ``version`` nor
``updated_at`` (a failing endpoint would otherwise refuse every edit made
through the API). ``replace``, which the API calls with a version it read
earlier, therefore keeps the stored counts, except when it enables a disabled
endpoint: the domain forgets its failures then, and so does the row.
"""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    CheckConstraint,
    Column,
    ColumnElement,
    DateTime,
    Double,
    Executable,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    Update,
    Uuid,
    and_,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from {{ cookiecutter.package_name }}.domain.cursor import Cursor
from {{ cookiecutter.package_name }}.domain.events import OrderEvent
from {{ cookiecutter.package_name }}.domain.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    EndpointStatus,
    SigningSecret,
    WebhookDelivery,
    WebhookEndpoint,
    webhook_body,
)
from {{ cookiecutter.package_name }}.storage.postgres.errors import translated_errors
from {{ cookiecutter.package_name }}.storage.postgres.schema import metadata
from {{ cookiecutter.package_name }}.storage.webhooks import (
    ClaimedDelivery,
    DeliveryFilter,
    EndpointBacklog,
)

# Subscribers. An empty ``event_types`` subscribes to every event type.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("event_types", ARRAY(String(64)), nullable=False),
    Column("description", String(500), nullable=False),
    Column("status", String(16), nullable=False),
    Column("disabled_reason", String(500)),
    Column("secrets", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("failure_streak", Integer, nullable=False),
    Column("failing_since", DateTime(timezone=True)),
    CheckConstraint("status IN ('active', 'disabled')", name="status_known"),
    CheckConstraint("version >= 1", name="version_positive"),
    CheckConstraint("failure_streak >= 0", name="failure_streak_not_negative"),
    Index("ix_webhook_endpoints_created_at_id", "created_at", "id"),
)

# One event on its way to one endpoint; ``body`` is the exact text that is signed and sent.
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column(
        "endpoint_id",
        Uuid,
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("event_id", Uuid, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_status_code", Integer),
    Column("last_error", Text),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status_known"),
    CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    # One delivery per event and endpoint.
    UniqueConstraint("endpoint_id", "event_id"),
    Index("ix_webhook_deliveries_created_at_id", "created_at", "id"),
    Index("ix_webhook_deliveries_endpoint_id_created_at_id", "endpoint_id", "created_at", "id"),
    Index("ix_webhook_deliveries_status_created_at_id", "status", "created_at", "id"),
    # What the workers claim: pending deliveries, by when they are due.
    Index(
        "ix_webhook_deliveries_due",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
)

webhook_delivery_attempts = Table(
    "webhook_delivery_attempts",
    metadata,
    Column(
        "delivery_id",
        Uuid,
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    # A replay starts the schedule again, numbers too: an attempt is known by its time.
    Column("attempted_at", DateTime(timezone=True), primary_key=True),
    Column("number", Integer, nullable=False),
    Column("duration_seconds", Double, nullable=False),
    Column("status_code", Integer),
    Column("response_excerpt", Text, nullable=False),
    Column("error", Text),
)

# Ids of the webhooks received, per source: a redelivered message has no second effect.
received_webhooks = Table(
    "received_webhooks",
    metadata,
    Column("source", String(100), primary_key=True),
    Column("message_id", String(255), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_received_webhooks_received_at", "received_at"),
)

_ACTIVE = EndpointStatus.ACTIVE.value
_PENDING = DeliveryStatus.PENDING.value
_FAILED = DeliveryStatus.FAILED.value


def _secret_values(secret: SigningSecret) -> dict[str, Any]:
    return {
        "value": secret.value,
        "created_at": secret.created_at.isoformat(),
        "expires_at": None if secret.expires_at is None else secret.expires_at.isoformat(),
    }


def _secret_from(stored: dict[str, Any]) -> SigningSecret:
    expires_at = stored["expires_at"]
    return SigningSecret(
        value=stored["value"],
        created_at=datetime.fromisoformat(stored["created_at"]),
        expires_at=None if expires_at is None else datetime.fromisoformat(expires_at),
    )


def _endpoint_values(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "event_types": sorted(endpoint.event_types),
        "description": endpoint.description,
        "status": endpoint.status.value,
        "disabled_reason": endpoint.disabled_reason,
        "secrets": [_secret_values(secret) for secret in endpoint.secrets],
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
        "version": endpoint.version,
        "failure_streak": endpoint.failure_streak,
        "failing_since": endpoint.failing_since,
    }


def _endpoint_from(row: RowMapping, prefix: str = "") -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row[f"{prefix}id"],
        url=row[f"{prefix}url"],
        event_types=frozenset(row[f"{prefix}event_types"]),
        description=row[f"{prefix}description"],
        status=EndpointStatus(row[f"{prefix}status"]),
        disabled_reason=row[f"{prefix}disabled_reason"],
        secrets=tuple(_secret_from(secret) for secret in row[f"{prefix}secrets"]),
        created_at=row[f"{prefix}created_at"],
        updated_at=row[f"{prefix}updated_at"],
        version=row[f"{prefix}version"],
        failure_streak=row[f"{prefix}failure_streak"],
        failing_since=row[f"{prefix}failing_since"],
    )


def _delivery_from(row: RowMapping) -> WebhookDelivery:
    return WebhookDelivery(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        body=row["body"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_status_code=row["last_status_code"],
        last_error=row["last_error"],
    )


def _attempt_from(row: RowMapping) -> DeliveryAttempt:
    return DeliveryAttempt(
        delivery_id=row["delivery_id"],
        number=row["number"],
        attempted_at=row["attempted_at"],
        duration_seconds=row["duration_seconds"],
        status_code=row["status_code"],
        response_excerpt=row["response_excerpt"],
        error=row["error"],
    )


def _timestamp(moment: datetime | None) -> ColumnElement[datetime | None]:
    return cast(literal(moment), DateTime(timezone=True))


def _older_than(table: Table, after: Cursor | None) -> ColumnElement[bool]:
    if after is None:
        return and_(True)
    return tuple_(table.c.created_at, table.c.id) < tuple_(after.created_at, after.id)


def _newest_first(statement: Select[Any], table: Table, limit: int) -> Select[Any]:
    return statement.order_by(table.c.created_at.desc(), table.c.id.desc()).limit(limit)


def _matching(delivery_filter: DeliveryFilter) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if delivery_filter.endpoint_id is not None:
        conditions.append(webhook_deliveries.c.endpoint_id == delivery_filter.endpoint_id)
    if delivery_filter.status is not None:
        conditions.append(webhook_deliveries.c.status == delivery_filter.status.value)
    if delivery_filter.delivery_id is not None:
        conditions.append(webhook_deliveries.c.id == delivery_filter.delivery_id)
    return and_(True, *conditions)


class PostgresWebhookOutbox:
    """Deliveries inside the unit of work's transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, event: OrderEvent) -> int:
        """One row per active endpoint subscribed to the event type, in one statement.

        Every row carries the same body; each is due when the event happened.
        """
        endpoints = webhook_endpoints.c
        subscribed = select(
            func.gen_random_uuid(),
            endpoints.id,
            literal(event.id, Uuid),
            literal(event.type.value, String),
            literal(webhook_body(event), Text),
            literal(_PENDING, String),
            literal(0, Integer),
            literal(event.occurred_at, DateTime(timezone=True)),
            literal(event.occurred_at, DateTime(timezone=True)),
            literal(event.occurred_at, DateTime(timezone=True)),
        ).where(
            endpoints.status == _ACTIVE,
            or_(
                func.cardinality(endpoints.event_types) == 0,
                endpoints.event_types.any_() == event.type.value,
            ),
        )
        statement = insert(webhook_deliveries).from_select(
            [
                "id",
                "endpoint_id",
                "event_id",
                "event_type",
                "body",
                "status",
                "attempts",
                "next_attempt_at",
                "created_at",
                "updated_at",
            ],
            subscribed,
        )
        with translated_errors():
            return (await self._connection.execute(statement)).rowcount


class PostgresWebhookInbox:
    """Received webhook ids, inside the unit of work's transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def record(self, source: str, message_id: str, now: datetime) -> bool:
        """Insert the id; a concurrent duplicate waits on the key, then finds it taken."""
        statement = (
            pg_insert(received_webhooks)
            .values(source=source, message_id=message_id, received_at=now)
            .on_conflict_do_nothing()
        )
        with translated_errors():
            return (await self._connection.execute(statement)).rowcount == 1

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete ids received before ``cutoff``."""
        statement = delete(received_webhooks).where(received_webhooks.c.received_at < cutoff)
        with translated_errors():
            return (await self._connection.execute(statement)).rowcount


class PostgresWebhookEndpointStore:
    """Endpoints: one autocommit statement per operation, a transaction where two tables change."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def _rows(self, statement: Executable) -> list[WebhookEndpoint]:
        with translated_errors():
            async with self._autocommit.connect() as connection:
                result = await connection.execute(statement)
                return [_endpoint_from(row) for row in result.mappings()]

    async def add(self, endpoint: WebhookEndpoint) -> None:
        """Insert the endpoint; a clash of ids is ``AlreadyExistsError``."""
        with translated_errors():
            async with self._autocommit.connect() as connection:
                await connection.execute(
                    insert(webhook_endpoints).values(_endpoint_values(endpoint))
                )

    async def get(self, endpoint_id: UUID) -> WebhookEndpoint | None:
        """The endpoint, or ``None``."""
        found = await self._rows(
            select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        )
        return found[0] if found else None

    async def list_after(self, after: Cursor | None, *, limit: int) -> list[WebhookEndpoint]:
        """Endpoints, newest first, strictly after ``after`` (keyset pagination)."""
        statement = select(webhook_endpoints).where(_older_than(webhook_endpoints, after))
        return await self._rows(_newest_first(statement, webhook_endpoints, limit))

    async def replace(self, endpoint: WebhookEndpoint, *, expected_version: int) -> bool:
        """Compare-and-set on the version; a disabled endpoint fails its pending deliveries.

        The failure counts are written only when a disabled endpoint is enabled
        again (see the module's docstring).
        """
        stored = webhook_endpoints.c
        values = _endpoint_values(endpoint)
        del values["id"]
        if endpoint.status is EndpointStatus.ACTIVE:
            enabled_again = stored.status != _ACTIVE
            values["failure_streak"] = case(
                (enabled_again, endpoint.failure_streak), else_=stored.failure_streak
            )
            values["failing_since"] = case(
                (enabled_again, _timestamp(endpoint.failing_since)), else_=stored.failing_since
            )
        else:
            del values["failure_streak"], values["failing_since"]
        statement = (
            update(webhook_endpoints)
            .where(stored.id == endpoint.id, stored.version == expected_version)
            .values(values)
        )
        with translated_errors():
            async with self._engine.begin() as connection:
                if (await connection.execute(statement)).rowcount != 1:
                    return False
                if endpoint.status is not EndpointStatus.ACTIVE:
                    await connection.execute(_fail_pending(endpoint))
        return True

    async def delete(self, endpoint_id: UUID) -> bool:
        """Delete the endpoint; its deliveries and their attempts go with it (cascade)."""
        statement = delete(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
        with translated_errors():
            async with self._autocommit.connect() as connection:
                return (await connection.execute(statement)).rowcount == 1

    async def failed(self, endpoint_id: UUID, now: datetime) -> WebhookEndpoint | None:
        """One more failure in a row, counted in the row itself (no lost update)."""
        stored = webhook_endpoints.c
        statement = (
            update(webhook_endpoints)
            .where(stored.id == endpoint_id)
            .values(
                failure_streak=stored.failure_streak + 1,
                failing_since=func.coalesce(stored.failing_since, now),
            )
            .returning(*webhook_endpoints.c)
        )
        found = await self._rows(statement)
        return found[0] if found else None

    async def recovered(self, endpoint_id: UUID) -> None:
        """Reset the failure counts, writing only when there is something to reset."""
        stored = webhook_endpoints.c
        statement = (
            update(webhook_endpoints)
            .where(stored.id == endpoint_id, stored.failure_streak > 0)
            .values(failure_streak=0, failing_since=None)
        )
        with translated_errors():
            async with self._autocommit.connect() as connection:
                await connection.execute(statement)


def _fail_pending(endpoint: WebhookEndpoint) -> Update:
    """Give up the endpoint's pending deliveries; they wait, failed, to be replayed.

    A lease is kept: the worker sending one records its attempt, which cannot
    make the delivery pending again (see ``record_attempt``).
    """
    deliveries = webhook_deliveries.c
    return (
        update(webhook_deliveries)
        .where(deliveries.endpoint_id == endpoint.id, deliveries.status == _PENDING)
        .values(
            status=_FAILED,
            next_attempt_at=None,
            last_error=f"endpoint disabled: {endpoint.disabled_reason or 'no reason given'}",
            updated_at=endpoint.updated_at,
        )
    )


class PostgresWebhookDeliveryStore:
    """Deliveries and attempts; leases, like the outbox relay's, in single statements."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def _mappings(self, statement: Executable) -> list[RowMapping]:
        with translated_errors():
            async with self._autocommit.connect() as connection:
                return list((await connection.execute(statement)).mappings().all())

    async def claim(
        self, owner: str, *, limit: int, lease: timedelta, now: datetime
    ) -> list[ClaimedDelivery]:
        """Lease the most overdue free deliveries of active endpoints, with their endpoints.

        One statement: the subquery locks the rows it picks (skipping rows
        another worker is locking), the update leases them, and the outer
        select joins each to its endpoint.
        """
        deliveries, endpoints = webhook_deliveries.c, webhook_endpoints.c
        due = (
            select(deliveries.id)
            .join(webhook_endpoints, endpoints.id == deliveries.endpoint_id)
            .where(
                deliveries.status == _PENDING,
                deliveries.next_attempt_at <= now,
                or_(deliveries.lease_expires_at.is_(None), deliveries.lease_expires_at < now),
                endpoints.status == _ACTIVE,
            )
            .order_by(deliveries.next_attempt_at, deliveries.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=webhook_deliveries)
        )
        leased = (
            update(webhook_deliveries)
            .where(deliveries.id.in_(due.scalar_subquery()))
            .values(lease_owner=owner, lease_expires_at=now + lease)
            .returning(*webhook_deliveries.c)
            .cte("leased")
        )
        statement = (
            select(
                leased,
                *(column.label(f"endpoint__{column.name}") for column in webhook_endpoints.c),
            )
            .join(webhook_endpoints, endpoints.id == leased.c.endpoint_id)
            .order_by(leased.c.next_attempt_at, leased.c.id)
        )
        rows = await self._mappings(statement)
        return [
            ClaimedDelivery(_delivery_from(row), _endpoint_from(row, "endpoint__")) for row in rows
        ]

    async def record_attempt(
        self, owner: str, delivery: WebhookDelivery, attempt: DeliveryAttempt
    ) -> bool:
        """Store the delivery's new state and its attempt in one transaction, ending the lease.

        A delivery failed meanwhile (its endpoint was disabled) stays failed
        unless the attempt succeeded; the attempt is kept either way.
        """
        deliveries = webhook_deliveries.c
        values: dict[str, Any] = {
            "status": delivery.status.value,
            "attempts": delivery.attempts,
            "next_attempt_at": delivery.next_attempt_at,
            "updated_at": delivery.updated_at,
            "last_status_code": delivery.last_status_code,
            "last_error": delivery.last_error,
            "lease_owner": None,
            "lease_expires_at": None,
        }
        if delivery.status is DeliveryStatus.PENDING:
            given_up = deliveries.status == _FAILED
            values |= {
                "status": case((given_up, _FAILED), else_=_PENDING),
                "next_attempt_at": case(
                    (given_up, None), else_=_timestamp(delivery.next_attempt_at)
                ),
                "last_error": case(
                    (given_up, deliveries.last_error),
                    else_=cast(literal(delivery.last_error), Text),
                ),
            }
        statement = (
            update(webhook_deliveries)
            .where(deliveries.id == delivery.id, deliveries.lease_owner == owner)
            .values(values)
        )
        with translated_errors():
            async with self._engine.begin() as connection:
                if (await connection.execute(statement)).rowcount != 1:
                    return False
                await connection.execute(
                    insert(webhook_delivery_attempts).values(
                        delivery_id=attempt.delivery_id,
                        number=attempt.number,
                        attempted_at=attempt.attempted_at,
                        duration_seconds=attempt.duration_seconds,
                        status_code=attempt.status_code,
                        response_excerpt=attempt.response_excerpt,
                        error=attempt.error,
                    )
                )
        return True

    async def release(self, owner: str, delivery_ids: Sequence[UUID]) -> None:
        """End ``owner``'s leases at once; the deliveries are due again now."""
        deliveries = webhook_deliveries.c
        statement = (
            update(webhook_deliveries)
            .where(deliveries.id.in_(delivery_ids), deliveries.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        with translated_errors():
            async with self._autocommit.connect() as connection:
                await connection.execute(statement)

    async def get(self, delivery_id: UUID) -> WebhookDelivery | None:
        """The delivery, or ``None``."""
        rows = await self._mappings(
            select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
        )
        return _delivery_from(rows[0]) if rows else None

    async def list_after(
        self, delivery_filter: DeliveryFilter, after: Cursor | None, *, limit: int
    ) -> list[WebhookDelivery]:
        """Matching deliveries, newest first, strictly after ``after`` (keyset pagination)."""
        statement = select(webhook_deliveries).where(
            _matching(delivery_filter), _older_than(webhook_deliveries, after)
        )
        rows = await self._mappings(_newest_first(statement, webhook_deliveries, limit))
        return [_delivery_from(row) for row in rows]

    async def attempts(self, delivery_id: UUID) -> list[DeliveryAttempt]:
        """Every attempt of the delivery, first first."""
        statement = (
            select(webhook_delivery_attempts)
            .where(webhook_delivery_attempts.c.delivery_id == delivery_id)
            .order_by(webhook_delivery_attempts.c.attempted_at)
        )
        return [_attempt_from(row) for row in await self._mappings(statement)]

    async def replay(self, delivery_filter: DeliveryFilter, now: datetime, *, limit: int) -> int:
        """Make up to ``limit`` failed deliveries, oldest first, pending and due at ``now``.

        The last status code and error stay, for whoever looks at them before the
        next attempt; earlier attempts stay too.
        """
        deliveries = webhook_deliveries.c
        replayable = (
            select(deliveries.id)
            .where(
                _matching(replace(delivery_filter, status=DeliveryStatus.FAILED)),
            )
            .order_by(deliveries.created_at, deliveries.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        statement = (
            update(webhook_deliveries)
            .where(deliveries.id.in_(replayable.scalar_subquery()))
            .values(status=_PENDING, attempts=0, next_attempt_at=now, updated_at=now)
        )
        with translated_errors():
            async with self._autocommit.connect() as connection:
                return (await connection.execute(statement)).rowcount

    async def backlog(self, now: datetime) -> list[EndpointBacklog]:
        """Pending deliveries per endpoint, and how long the most overdue has been due."""
        deliveries = webhook_deliveries.c
        statement = (
            select(deliveries.endpoint_id, func.count(), func.min(deliveries.next_attempt_at))
            .where(deliveries.status == _PENDING)
            .group_by(deliveries.endpoint_id)
            .order_by(deliveries.endpoint_id)
        )
        with translated_errors():
            async with self._autocommit.connect() as connection:
                rows = (await connection.execute(statement)).all()
        return [
            EndpointBacklog(
                endpoint_id=endpoint_id,
                pending=pending,
                oldest_due_age_seconds=(
                    0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
                ),
            )
            for endpoint_id, pending, oldest in rows
        ]


class PostgresWebhookStore:
    """The webhooks port on the storage adapter's engine (its pool is shared)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.endpoints = PostgresWebhookEndpointStore(engine)
        self.deliveries = PostgresWebhookDeliveryStore(engine)
