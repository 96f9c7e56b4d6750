"""Fixtures: `app`, `client`, `runner` on a fresh database; `database_url` for both SQLite and
PostgreSQL; `write_posts` to make Markdown files; `live_server` to run the real gunicorn.
`make_app` builds a testing app outside the fixtures (module-scoped ones)."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from inkwell import create_app
from inkwell.config import normalise_database_url
from inkwell.extensions import db

from .services import PG_ADMIN_URL, free_port, gunicorn_server, migrated, missing, production_env


@pytest.fixture(scope="session")
def pg_database():
    """A PostgreSQL database of our own for this test session, migrated once."""
    admin = create_engine(normalise_database_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as e:
        admin.dispose()
        missing(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {type(e).__name__}")
    name = f"inkwell_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield migrated(normalise_database_url(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name))
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def empty_pg_database():
    """The name of a new PostgreSQL database without any table, dropped afterwards."""
    admin = create_engine(normalise_database_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    name = f"inkwell_empty_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:
        admin.dispose()
        missing(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {type(e).__name__}")
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def pg_url(name: str) -> str:
    """The psycopg URL of database `name` on the test PostgreSQL server."""
    return normalise_database_url(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)


@pytest.fixture
def empty_engine(request, tmp_path):
    """An engine on an empty database of the test's `backend` parameter ("sqlite" or
    "postgresql"), for migrations run up and down; disposed afterwards."""
    if request.getfixturevalue("backend") == "postgresql":
        url = pg_url(request.getfixturevalue("empty_pg_database"))
    else:
        url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [t for t in db.metadata.sorted_tables]
        names = ", ".join(f'"{t.name}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 API (moto's server) on a loopback port for the whole session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        missing(f"moto's S3 server is not installed: {e}")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(params=["sqlite"])
def database_url(request, tmp_path):
    """An empty, migrated database. Tests that parametrize it with BACKENDS run on both."""
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_database")
        _empty_postgres(url)
        return url
    return migrated(f"sqlite:///{tmp_path / 'inkwell.sqlite3'}")


@pytest.fixture
def settings(database_url, tmp_path) -> dict:
    return {
        "INKWELL_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "SITE_URL": "http://blog.example",
    }


@contextmanager
def make_app(folder: Path, **overrides) -> Iterator[Flask]:
    """A testing app (settings from `overrides`) whose instance folder is `folder`/instance;
    INKWELL_INSTANCE_PATH stays set to it until the block ends, then the engine is disposed."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("INKWELL_INSTANCE_PATH", str(folder / "instance"))
        app = create_app({"INKWELL_ENV": "testing", **overrides})
        try:
            yield app
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture
def app(settings, tmp_path):
    with make_app(tmp_path, **settings) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def write_posts(tmp_path):
    """write_posts({"hello.md": "...markdown..."}) -> the folder holding them."""
    folder = tmp_path / "posts"

    def write(files: dict[str, str | bytes]) -> Path:
        for name, content in files.items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content).lstrip(), encoding="utf-8")
        return folder

    return write


@pytest.fixture
def import_posts(app, write_posts):
    """Write Markdown files and import them through the same code as `inkwell import`."""
    from inkwell.content.files import import_path
    from inkwell.database import write_intent

    def run(files: dict[str, str | bytes]):
        folder = write_posts(files)
        with app.app_context(), write_intent():
            return import_path(folder, app.config["IMPORT_MAX_FILE_SIZE"])

    return run


@pytest.fixture
def live_server(settings, tmp_path):
    """Start real gunicorn (production settings) on this test's database; yield its URL."""
    env = production_env(
        tmp_path, settings["SQLALCHEMY_DATABASE_URI"],
        MEDIA_ROOT=settings["MEDIA_ROOT"], SITE_URL=settings["SITE_URL"],
    )

    def start(**more_env):
        return gunicorn_server({**env, **more_env}, cwd=tmp_path)

    return start
