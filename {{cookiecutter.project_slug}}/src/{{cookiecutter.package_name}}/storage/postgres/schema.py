"""Tables, as SQLAlchemy Core metadata; the migrations must produce exactly this.

The orders' tables live here; an adapter that brings tables of its own (events,
API keys) declares them on the same ``metadata`` in its module.
"""

import importlib
import pkgutil

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
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


def complete_metadata() -> MetaData:
    """``metadata`` with the tables of every adapter of this database, for Alembic.

    Importing each module of the package registers the tables it declares, so
    autogenerate never mistakes a table of an unimported adapter for one to drop.
    """
    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")
    return metadata
