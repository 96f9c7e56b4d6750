"""Run Alembic migrations from inside the app (`inkwell db upgrade`), no alembic.ini needed."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


def _config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["connection"] = connection
    return cfg


def _scripts():
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


# A PostgreSQL advisory lock key ("Inkwell" in ASCII) held while migrating.
MIGRATION_LOCK = 0x496E6B77656C6C


def _one_at_a_time(connection) -> None:
    """On PostgreSQL, wait until no other process migrates this database.

    Several app servers starting a new release run `inkwell db upgrade` at the same moment;
    without this, both create the same tables and one fails ("duplicate key value"). The lock
    lasts until the migration's transaction ends, and the one who waited then finds the schema
    up to date. (SQLite: the upgrade's write transaction already excludes the others.)"""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")


def upgrade(engine, revision: str = "head") -> None:
    from alembic import command

    with engine.begin() as connection:
        _one_at_a_time(connection)
        command.upgrade(_config(connection), revision)


def downgrade(engine, revision: str) -> None:
    from alembic import command

    with engine.begin() as connection:
        _one_at_a_time(connection)
        command.downgrade(_config(connection), revision)


def current_revision(engine) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return _scripts().get_current_head()


def known_revisions() -> set[str]:
    """Every revision this release's migrations know (a backup from a newer one is not)."""
    return {script.revision for script in _scripts().walk_revisions()}
