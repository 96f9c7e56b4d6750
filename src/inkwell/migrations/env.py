"""Alembic environment: runs on the connection `inkwell db upgrade` hands over."""

from alembic import context

from inkwell import models  # noqa: F401  (tables register on db.metadata)
from inkwell.extensions import db

target_metadata = db.metadata
connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
