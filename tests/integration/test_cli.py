"""The `inkwell` console script, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from inkwell.migrations import head_revision

from ..services import BIN

INKWELL = str(BIN / "inkwell")


@pytest.fixture
def env(tmp_path):
    return {
        **os.environ,
        "INKWELL_ENV": "development",
        "SECRET_KEY": "test-" + "k" * 10 + "abcdefghijklmnopqrstuvwxyz",
        "INKWELL_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "CONTENT_DIR": str(Path(__file__).resolve().parents[2] / "content"),  # the welcome post
    }


def inkwell(*args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([INKWELL, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_setup_migrates_and_adds_the_welcome_post_once(env, tmp_path):
    first = inkwell("setup", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "2 created" in first.stdout  # the welcome post and the about page
    second = inkwell("setup", env=env, cwd=tmp_path)
    assert "0 created, 0 updated, 2 unchanged" in second.stdout


def test_import_reports_bad_files_without_a_traceback_and_exits_nonzero(env, tmp_path):
    inkwell("db", "upgrade", env=env, cwd=tmp_path)
    posts = tmp_path / "posts"
    posts.mkdir()
    (posts / "ok.md").write_text("---\ntitle: Fine\n---\nBody\n")
    (posts / "broken.md").write_text("---\ntitle: [oops\n---\nBody\n")
    result = inkwell("import", str(posts), env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "broken.md:2:" in result.stderr
    assert "Traceback" not in result.stderr
    assert "1 created" in result.stdout and "1 failed" in result.stdout


def test_export_writes_markdown_files(env, tmp_path):
    inkwell("setup", env=env, cwd=tmp_path)
    result = inkwell("export", str(tmp_path / "out"), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "out" / "welcome.md").read_text()
    assert text.startswith("---\ntitle: Welcome to Inkwell\n")


def test_export_never_replaces_a_different_file_unless_told(env, tmp_path):
    inkwell("setup", env=env, cwd=tmp_path)
    out = tmp_path / "out"
    assert inkwell("export", str(out), env=env, cwd=tmp_path).returncode == 0
    exported = (out / "welcome.md").read_text()
    # Exporting again over its own files is fine.
    assert inkwell("export", str(out), env=env, cwd=tmp_path).returncode == 0
    (out / "welcome.md").write_text("precious notes\n")
    result = inkwell("export", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "welcome.md" in result.stderr and "--overwrite" in result.stderr
    assert (out / "welcome.md").read_text() == "precious notes\n"
    result = inkwell("export", "--overwrite", str(out), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (out / "welcome.md").read_text() == exported


def test_secret_prints_a_strong_key_without_any_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "INKWELL_ENV")}
    result = inkwell("secret", env=env, cwd=tmp_path)
    assert result.returncode == 0 and len(result.stdout.strip()) >= 48


def test_unsafe_production_settings_are_a_message_not_a_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "INKWELL_ENV")}
    result = inkwell("setup", env=env, cwd=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_status_says_when_migrations_are_missing(env, tmp_path):
    before = inkwell("db", "status", env=env, cwd=tmp_path)
    assert before.returncode == 1 and "inkwell db upgrade" in before.stdout
    upgraded = inkwell("db", "upgrade", env=env, cwd=tmp_path)
    assert "Database upgraded from revision (empty) to" in upgraded.stdout
    after = inkwell("db", "status", env=env, cwd=tmp_path)
    head = head_revision()
    assert after.returncode == 0 and f"database: {head}" in after.stdout
    again = inkwell("db", "upgrade", env=env, cwd=tmp_path)
    assert f"Database is up to date (revision {head})." in again.stdout


def test_db_downgrade_goes_to_a_known_revision_and_refuses_others(env, tmp_path):
    inkwell("db", "upgrade", env=env, cwd=tmp_path)
    unknown = inkwell("db", "downgrade", "9999", env=env, cwd=tmp_path)
    assert unknown.returncode == 1 and "'9999' is not a revision" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    down = inkwell("db", "downgrade", "0002", env=env, cwd=tmp_path)
    assert down.returncode == 0, down.stderr
    assert f"from revision {head_revision()} down to 0002" in down.stdout
    assert "database: 0002" in inkwell("db", "status", env=env, cwd=tmp_path).stdout


def test_db_upgrade_leaves_a_database_a_newer_release_migrated(env, tmp_path):
    """With several app servers on one database, a server still on the older release (not
    deployed yet, or restarting) finds a revision it does not know: it leaves it, says so, and
    starts (exit 0) instead of failing in a loop; /readyz names the mismatch meanwhile."""
    import sqlite3

    inkwell("db", "upgrade", env=env, cwd=tmp_path)
    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:
        db.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
    done = inkwell("db", "upgrade", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "at revision f00dfeed, which this release does not know" in done.stdout
    with sqlite3.connect(tmp_path / "cli.sqlite3") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [("f00dfeed",)]


def test_a_database_made_before_site_state_upgrades_with_its_row(tmp_path):
    """0001 -> 0002 on a blog with posts: site_state gets its one row."""
    from sqlalchemy import create_engine, text

    from inkwell.migrations import upgrade

    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        upgrade(engine, "0001")
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, content_changed_at FROM site_state")).all()
    finally:
        engine.dispose()
    assert len(rows) == 1 and rows[0][0] == 1 and rows[0][1]


def test_help_without_any_settings_lists_every_command_and_no_traceback(tmp_path):
    bare = {k: v for k, v in os.environ.items()
            if k not in ("SECRET_KEY", "INKWELL_ENV", "SITE_URL", "DATABASE_URL")}
    result = inkwell("--help", env=bare, cwd=tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "SECRET_KEY is not set" in result.stderr  # one line saying why the app did not load
    for command in ("setup", "import", "export", "create-admin", "db", "media", "deploy"):
        assert f"  {command} " in result.stdout, command


def test_flask_cli_shows_a_settings_error_as_one_line(tmp_path):
    """`flask --app inkwell ...` works too, and says what is wrong the way `inkwell` does."""
    env = {**os.environ, "INKWELL_ENV": "production", "SECRET_KEY": "short",
           "FLASK_SKIP_DOTENV": "1"}
    done = subprocess.run([str(Path(INKWELL).parent / "flask"), "--app", "inkwell", "db",
                           "status"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "Error: SECRET_KEY is too weak" in done.stderr


def test_site_url_follows_the_port_on_a_laptop(env, tmp_path):
    """`PORT=9000 make run`: links in pages, feed and sitemap name that port."""
    inkwell("setup", env=env, cwd=tmp_path)
    probe = ("from inkwell import create_app; "
             "print(create_app().config['SITE_URL'])")
    done = subprocess.run([str(Path(INKWELL).parent / "python"), "-c", probe], cwd=tmp_path,
                          env={**{k: v for k, v in env.items() if k != "SITE_URL"},
                               "PORT": "9000"}, capture_output=True, text=True)
    assert done.stdout.strip() == "http://127.0.0.1:9000", done.stderr


def test_app_servers_starting_together_migrate_postgresql_once(tmp_path, empty_pg_database):
    """Several app servers start a new release at once, each running `inkwell db upgrade` on
    the one PostgreSQL database: one migrates, the others wait for it and find the schema up
    to date. (Without the lock two of three such starts failed here: "duplicate key value".)"""
    from sqlalchemy import create_engine

    from inkwell.migrations import current_revision

    from ..conftest import pg_url

    url = pg_url(empty_pg_database)
    env = {**os.environ, "INKWELL_ENV": "testing", "SECRET_KEY": "x" * 40, "DATABASE_URL": url}
    starts = [subprocess.Popen([str(BIN / "inkwell"), "db", "upgrade"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for _ in range(3)]
    outputs = [(p.wait(120), p.stdout.read()) for p in starts]
    assert [code for code, _ in outputs] == [0, 0, 0], outputs
    engine = create_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_app_servers_starting_together_import_the_content_once(tmp_path, empty_pg_database):
    """Each app server's start runs `inkwell setup` (migrate, then import the content folder)
    on the one PostgreSQL database: the imports take turns, every start succeeds, and each
    post exists once."""
    from sqlalchemy import create_engine, text

    from ..conftest import pg_url

    content = tmp_path / "content" / "posts"
    content.mkdir(parents=True)
    for n in range(300):
        (content / f"post-{n}.md").write_text(
            f"---\ntitle: Post {n}\ndate: 2026-01-{n % 28 + 1:02d}\n---\n\nText {n}.\n")
    url = pg_url(empty_pg_database)
    env = {**os.environ, "INKWELL_ENV": "testing", "SECRET_KEY": "x" * 40, "DATABASE_URL": url,
           "CONTENT_DIR": str(tmp_path / "content")}
    starts = [subprocess.Popen([str(BIN / "inkwell"), "setup"], cwd=tmp_path, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for _ in range(3)]
    outputs = [(p.wait(300), p.stdout.read()) for p in starts]
    assert [code for code, _ in outputs] == [0, 0, 0], outputs
    assert sum("300 created" in out for _, out in outputs) == 1, outputs
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            count = connection.execute(text("SELECT count(*) FROM posts WHERE slug LIKE "
                                            "'post-%'")).scalar()
        assert count == 300
    finally:
        engine.dispose()
