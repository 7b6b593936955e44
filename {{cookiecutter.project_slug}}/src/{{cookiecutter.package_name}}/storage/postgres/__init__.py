"""PostgreSQL adapter: SQLAlchemy Core over asyncpg, schema managed by Alembic."""
