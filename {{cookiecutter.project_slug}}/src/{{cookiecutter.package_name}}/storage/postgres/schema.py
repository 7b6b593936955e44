"""Tables, as SQLAlchemy Core metadata; the migrations must produce exactly this."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
{%- if cookiecutter.queue != "none" %}
    Identity,
{%- endif %}
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

orders = Table(
    "orders",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("customer_id", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("version", Integer, nullable=False),
    CheckConstraint(
        "status IN ('pending', 'confirmed', 'shipped', 'cancelled')", name="status_known"
    ),
    CheckConstraint("version >= 1", name="version_positive"),
    Index("ix_orders_created_at_id", "created_at", "id"),
    Index("ix_orders_customer_id_created_at_id", "customer_id", "created_at", "id"),
    Index("ix_orders_status_created_at_id", "status", "created_at", "id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("scope", String(200), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("result", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("ix_idempotency_keys_expires_at", "expires_at"),
)
{%- if cookiecutter.queue != "none" %}

# Events waiting for the relay, written in the transaction of the change they describe.
# ``position`` is the commit-independent write order; a relay claims a row by leasing it.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("position", BigInteger, Identity(always=True), nullable=False),
    Column("aggregate_id", Uuid, nullable=False),
    Column("aggregate_version", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("data", JSONB, nullable=False),
    Column("trace_context", JSONB, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", DateTime(timezone=True)),
    Index("ix_outbox_position", "position"),
    Index(
        "ix_outbox_aggregate_id_aggregate_version", "aggregate_id", "aggregate_version", unique=True
    ),
)

# The inbox: events each consumer has handled, kept for the redelivery window and beyond.
processed_events = Table(
    "processed_events",
    metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", Uuid, primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    Index("ix_processed_events_processed_at", "processed_at"),
)

# The example consumer's effect: orders placed per customer.
customer_activity = Table(
    "customer_activity",
    metadata,
    Column("customer_id", String(64), primary_key=True),
    Column("orders_placed", Integer, nullable=False),
    Column("last_order_at", DateTime(timezone=True), nullable=False),
)
{%- endif %}
{%- if cookiecutter.auth == "api_key" %}

# API keys: the public lookup id (the primary key) and a keyed hash of the key, never the key.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("client", String(100), nullable=False),
    Column("scopes", JSONB, nullable=False),
    Column("key_hash", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Index("ix_api_keys_client_created_at", "client", "created_at"),
)
{%- endif %}
