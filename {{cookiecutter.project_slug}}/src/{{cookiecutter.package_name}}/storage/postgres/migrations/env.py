"""Alembic environment: runs on the connection the migrator hands over."""

from alembic import context

from {{ cookiecutter.package_name }}.storage.postgres.schema import complete_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    command = "{{ cookiecutter.project_slug }} migrate"
    raise RuntimeError(f"Run migrations with `{command}`, which provides the connection.")

context.configure(
    connection=connection,
    target_metadata=complete_metadata(),
    compare_type=True,
    compare_server_default=True,
)
with context.begin_transaction():
    context.run_migrations()
