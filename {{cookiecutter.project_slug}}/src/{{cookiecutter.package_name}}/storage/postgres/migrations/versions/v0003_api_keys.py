"""API keys: the public lookup id and a keyed hash, never the key.

Revision ID: 0003
Revises: {{ "0001" if cookiecutter.queue == "none" else "0002" }}
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "{{ "0001" if cookiecutter.queue == "none" else "0002" }}"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("scopes", postgresql.JSONB(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
    )
    op.create_index("ix_api_keys_client_created_at", "api_keys", ["client", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_api_keys_client_created_at", table_name="api_keys")
    op.drop_table("api_keys")
