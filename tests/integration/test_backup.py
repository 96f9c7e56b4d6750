"""`inkwell backup` / `inkwell restore`: the whole blog in one file and back, byte for byte, across
SQLite and PostgreSQL; a damaged file is refused before anything is touched."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import textwrap
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import inspect, select, text

from inkwell.extensions import db
from inkwell.storage import get_store

from ..conftest import make_app, pg_url
from ..services import migrated

POSTS = {
    "backups-then-restores.md": """\
        ---
        title: Backups, then restores
        date: 2026-03-01T10:00:00+00:00
        tags: [ops, "Données"]
        description: Why a restore is the only backup test.
        extra_field: kept
        aliases: [/2019/03/backups.html]
        ---
        Some **Markdown** with $e^{i\\pi} + 1 = 0$ and a [link](https://example.com).

        ```python
        print("hi")
        ```
        """,
    "draft.md": "---\ntitle: Not yet\ndraft: true\n---\nA draft about zebras.\n",
}
STEM = "a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4"  # media are named as the server names uploads


def _webp(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, "WEBP", quality=80)
    return buffer.getvalue()


MEDIA = {f"{STEM}.webp": _webp((640, 480)), f"{STEM}-480.webp": _webp((480, 360))}
SKIP = {"user_sessions", "site_state", "sign_in_attempts"}


def fill(app, folder: Path) -> None:
    """Posts (imported from `folder`), tags, a redirect, an author and media files with their
    records."""
    from inkwell.admin.passwords import hash_password
    from inkwell.content.files import import_path
    from inkwell.database import write_intent
    from inkwell.models import Media, Post, SlugRedirect, User

    folder.mkdir()
    for name, markdown in POSTS.items():
        (folder / name).write_text(textwrap.dedent(markdown), encoding="utf-8")
    with app.app_context(), write_intent():
        import_path(folder, app.config["IMPORT_MAX_FILE_SIZE"])
    with app.app_context():
        store = get_store()
        for key, data in MEDIA.items():
            store.save(key, data, "image/webp")
        db.session.add(Media(key=STEM, content_type="image/webp", width=640, height=480,
                             size=len(MEDIA[f"{STEM}.webp"]), alt="A ünïcode alt",
                             variants={"original": f"{STEM}.webp", "480": f"{STEM}-480.webp",
                                       "480.webp": f"{STEM}-480.webp"}))
        db.session.add(User(email="author@example.com", password_hash=hash_password("x" * 16)))
        post = db.session.scalar(select(Post).where(Post.slug == "backups-then-restores"))
        db.session.add(SlugRedirect(kind="post", old_slug="old-name", post_id=post.id))
        db.session.commit()


def snapshot(app) -> dict:
    """Every row of every backed-up table (values as JSON would carry them) and every media file."""
    with app.app_context():
        rows = {}
        for table in db.metadata.sorted_tables:
            if table.name in SKIP:
                continue
            result = db.session.execute(select(table).order_by(*table.primary_key.columns))
            rows[table.name] = [{k: v.isoformat() if hasattr(v, "isoformat") else v
                                 for k, v in row._mapping.items()} for row in result]
        store = get_store()
        # Share cards are drawn from the rows (test_share_cards_are_drawn_again_not_carried).
        media = {key: hashlib.sha256(store.read(key)).hexdigest() for key in store.keys()
                 if not key.startswith("cards/")}
    return {"rows": rows, "media": media}


def target(tmp_path: Path, database_url: str):
    return make_app(tmp_path / "target", SQLALCHEMY_DATABASE_URI=database_url,
                    MEDIA_ROOT=str(tmp_path / "target-media"), SITE_URL="http://blog.example")


@pytest.fixture
def target_url(request, tmp_path):
    """A new database without any table: SQLite, or PostgreSQL when parametrized so."""
    if request.param == "postgresql":
        return pg_url(request.getfixturevalue("empty_pg_database"))
    return f"sqlite:///{tmp_path / 'target.sqlite3'}"


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("target_url", ["sqlite", "postgresql"], indirect=True)
def test_a_restore_gives_back_every_row_and_file(app, runner, tmp_path,
                                                  database_url, target_url):
    fill(app, tmp_path / "posts")
    before = snapshot(app)
    archive = tmp_path / "blog.tar.gz"
    result = runner.invoke(args=["backup", str(archive)])
    assert result.exit_code == 0, result.output
    assert oct(archive.stat().st_mode & 0o777) == "0o600"  # it holds password hashes
    kept = runner.invoke(args=["backup", str(archive)])
    assert kept.exit_code == 1 and "exists" in kept.output  # an older backup is not lost

    with target(tmp_path, target_url) as restored:
        result = restored.test_cli_runner().invoke(args=["restore", str(archive)])
        assert result.exit_code == 0, result.output
        assert "Restored 2 posts" in result.output and "2 media files" in result.output
        after = snapshot(restored)
        assert after == before
        client = restored.test_client()
        page = client.get("/posts/backups-then-restores/")
        assert page.status_code == 200 and b"<math" in page.data
        assert client.get("/posts/old-name/").status_code == 301
        assert client.get("/2019/03/backups.html").status_code == 301  # path_redirects too
        assert b"Backups, then restores" in client.get("/search?q=restores").data
        with restored.app_context():  # ids go on from the restored ones (PostgreSQL sequences)
            from inkwell.models import Tag

            db.session.add(Tag(name="new", slug="new"))
            db.session.commit()
        again = tmp_path / "again.tar.gz"
        assert restored.test_cli_runner().invoke(args=["backup", str(again)]).exit_code == 0
    assert _member(again, f"media/{STEM}.webp") == MEDIA[f"{STEM}.webp"]


def _member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as archive:
        return archive.extractfile(name).read()


def _rewrite(path: Path, out: Path, change) -> None:
    """Copy a backup, letting `change(name, data) -> data | None` alter or drop members."""
    with tarfile.open(path) as source, tarfile.open(out, "w:gz") as copy:
        for member in source:
            data = change(member.name, source.extractfile(member).read())
            if data is None:
                continue
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))


def _with_rows(rows: bytes):
    """A change that replaces database.jsonl and fixes the manifest to match (a consistent but
    foreign file)."""
    def change(name, data):
        if name == "database.jsonl":
            return rows
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["files"]["database.jsonl"] = {
                "size": len(rows), "sha256": hashlib.sha256(rows).hexdigest()}
            return json.dumps(manifest).encode()
        return data
    return change


def _rows_changed(backup: Path, table: str, **values) -> bytes:
    """The backup's database.jsonl with `values` set in every row of `table`."""
    lines = []
    for line in _member(backup, "database.jsonl").decode().splitlines():
        entry = json.loads(line)
        if entry["table"] == table:
            entry["row"].update(values)
        lines.append(json.dumps(entry))
    return ("\n".join(lines) + "\n").encode()


def _flip_media(name, data):
    return data[:10] + bytes([data[10] ^ 1]) + data[11:] if name.startswith("media/") else data


def _no_files(manifest: bytes) -> bytes:
    return json.dumps({**json.loads(manifest), "files": {}}).encode()


def _newer(name, data):
    if name == "manifest.json":
        return json.dumps({**json.loads(data), "revision": "9999"}).encode()
    return data


def test_a_damaged_backup_is_refused_before_anything_is_touched(app, runner, tmp_path):
    fill(app, tmp_path / "posts")
    good = tmp_path / "good.tar.gz"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0
    data = good.read_bytes()
    cases = {
        "media byte flipped": (_flip_media, "is damaged"),
        "manifest gone": (lambda n, d: None if n == "manifest.json" else d, "has no manifest"),
        "a file gone": (lambda n, d: None if n.startswith("media/") else d, "does not hold"),
        "from a newer release": (_newer, "made by a newer Inkwell"),
        "rows of another schema": (_with_rows(b'{"table": "posts", "row": {"colour": 1}}\n'),
                                   "line 1 does not fit this schema"),
        "unknown table": (_with_rows(b'{"table": "payments", "row": {}}\n'), "does not fit"),
        "text for a number": (_with_rows(_rows_changed(good, "posts", reading_minutes="lots")),
                              "posts.reading_minutes must be a whole number"),
        "a slug too long": (_with_rows(_rows_changed(good, "posts", slug="x" * 201)),
                            "posts.slug is longer than 200"),
        "two tags, one slug": (_with_rows(_rows_changed(good, "tags", slug="same")),
                               "two tags rows share (slug)"),
        "a link to no post": (_with_rows(_rows_changed(good, "post_tags", post_id=999)),
                              "points at posts 999"),
        "not UTF-8": (_with_rows(b"\xff\xfe\n"), "not UTF-8"),
        "a manifest and nothing else": (
            lambda n, d: _no_files(d) if n == "manifest.json" else None,
            "not an Inkwell backup manifest"),
    }
    files = {name: tmp_path / f"{name}.tar.gz" for name in cases}
    for name, (change, _) in cases.items():
        _rewrite(good, files[name], change)
    files["cut short"] = tmp_path / "short.tar.gz"
    files["cut short"].write_bytes(data[: len(data) // 2])
    files["not a backup"] = tmp_path / "notes.txt"
    files["not a backup"].write_text("hello")
    expected = {name: message for name, (_, message) in cases.items()}
    expected.update({"cut short": "not a readable backup", "not a backup": "not a readable"})

    url = migrated(f"sqlite:///{tmp_path / 'target.sqlite3'}")  # holds the welcome post ...
    with target(tmp_path, url) as restored:
        assert restored.test_cli_runner().invoke(args=["setup"]).exit_code == 0
        before = snapshot(restored)
        for name, path in files.items():
            result = restored.test_cli_runner().invoke(args=["restore", "--force", str(path)])
            assert result.exit_code == 1, (name, result.output)
            assert expected[name] in result.output, (name, result.output)
            assert "Traceback" not in result.output
            assert snapshot(restored) == before, name  # ... still, and no media appeared


def test_a_database_with_content_is_replaced_only_when_asked(app, runner, tmp_path):
    fill(app, tmp_path / "posts")
    archive = tmp_path / "blog.tar.gz"
    assert runner.invoke(args=["backup", str(archive)]).exit_code == 0
    with target(tmp_path, migrated(f"sqlite:///{tmp_path / 'target.sqlite3'}")) as restored:
        cli = restored.test_cli_runner()
        assert cli.invoke(args=["setup"]).exit_code == 0  # the welcome post
        refused = cli.invoke(args=["restore", str(archive)])
        assert refused.exit_code == 1 and "already has content" in refused.output
        with restored.app_context():
            get_store().save("ffff0000.webp", b"not in the backup", "image/webp")
        assert cli.invoke(args=["restore", "--force", str(archive)]).exit_code == 0
        assert snapshot(restored) == snapshot(app)  # the extra file is gone too
        assert restored.test_client().get("/posts/welcome/").status_code == 404


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_backup_of_an_older_schema_restores_into_this_release(app, runner, tmp_path):
    """Made before migration 0002 (site_state): its rows are brought up by the migrations, and
    restored into a new database or one a release step already migrated (a PaaS)."""
    from inkwell.migrations import current_revision, head_revision

    fill(app, tmp_path / "posts")
    expected = _with_defaults_of_0006(snapshot(app))
    expected["rows"]["path_redirects"] = []  # table of 0007: a backup of 0001 has no rows
    archive = tmp_path / "blog.tar.gz"
    assert runner.invoke(args=["backup", str(archive)]).exit_code == 0
    old = tmp_path / "0001.tar.gz"
    _rewrite(archive, old, _at_revision("0001"))
    fresh = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    for name, url in (("fresh", fresh), ("migrated", migrated(f"sqlite:///{tmp_path / 'm.db'}"))):
        with target(tmp_path / name, url) as restored:
            result = restored.test_cli_runner().invoke(args=["restore", str(old)])
            assert result.exit_code == 0, (name, result.output)
            assert snapshot(restored) == expected, name
            with restored.app_context():
                assert current_revision(db.engine) == head_revision()
                assert inspect(db.engine).has_table("site_state")


# Tables newer than 0001 (site_state has its row from the migration, path_redirects none).
_ADDED_AFTER_0001 = {"site_state", "path_redirects"}

# Columns migration 0006 added: a backup from before it has no values for them, so the restored
# rows get the migration's defaults.
_ADDED_IN_0006 = {
    "posts": {"render_version": 0, "image_urls": None, "revision": 1, "share_nonce": None},
    "post_tags": {"position": 0},
    "media": {"name": ""},
}


def _with_defaults_of_0006(snap: dict) -> dict:
    for table, defaults in _ADDED_IN_0006.items():
        for row in snap["rows"][table]:
            row.update(defaults)
    return snap


def _at_revision(revision: str):
    """A change that makes a backup look like one from `revision`: the manifest says so, and
    the rows of tables that revision did not have are gone."""
    def change(name, data):
        if name == "database.jsonl":
            kept = [line for line in data.decode().splitlines()
                    if json.loads(line)["table"] not in _ADDED_AFTER_0001]
            return ("\n".join(kept) + "\n").encode()
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["revision"] = revision
            return json.dumps(manifest).encode()
        return data
    return _with_rows_fixed(change)


def _with_rows_fixed(change):
    """`change`, then the manifest's entry for database.jsonl made to match the new rows."""
    rows: dict[str, bytes] = {}

    def fixed(name, data):
        data = change(name, data)
        if name == "database.jsonl":
            rows["data"] = data
        if name == "manifest.json":
            manifest = json.loads(data)
            manifest["files"]["database.jsonl"] = {
                "size": len(rows["data"]), "sha256": hashlib.sha256(rows["data"]).hexdigest()}
            return json.dumps(manifest).encode()
        return data
    return fixed


def test_media_in_a_bucket_come_back_into_a_bucket_or_onto_disk(settings, s3_endpoint, tmp_path):
    """MEDIA_BACKEND=s3 on both sides, and from a bucket to local disk."""
    from ..services import new_bucket

    with make_app(tmp_path / "source", **settings, MEDIA_BACKEND="s3",
                  **new_bucket(s3_endpoint)) as source:
        fill(source, tmp_path / "posts")
        archive = tmp_path / "blog.tar.gz"
        assert source.test_cli_runner().invoke(args=["backup", str(archive)]).exit_code == 0
        expected = snapshot(source)
    assert set(expected["media"]) == set(MEDIA)
    for name, media in (("bucket", {"MEDIA_BACKEND": "s3", **new_bucket(s3_endpoint)}),
                        ("disk", {"MEDIA_BACKEND": "local"})):
        url = f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
        with make_app(tmp_path / name, SQLALCHEMY_DATABASE_URI=url, SITE_URL="http://b.example",
                      MEDIA_ROOT=str(tmp_path / f"{name}-media"), **media) as restored:
            result = restored.test_cli_runner().invoke(args=["restore", str(archive)])
            assert result.exit_code == 0, result.output
            assert snapshot(restored) == expected, name


@pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
def test_a_backup_is_one_snapshot_while_authors_write(app, runner, tmp_path, monkeypatch):
    """A tagged post saved by another connection while the backup reads table after table is
    either wholly in the backup or not at all: the file always restores."""
    from sqlalchemy import create_engine

    from inkwell import backup

    fill(app, tmp_path / "posts")
    writer = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    tables = backup._tables

    def tables_while_writing():
        for table in tables():
            yield table
            if table.name == "posts":  # posts read: a new post and its tag link arrive
                with writer.begin() as conn:
                    conn.execute(text(
                        "INSERT INTO posts (id, kind, slug, title, description, status, "
                        "published_at, updated_at, created_at, body_markdown, body_html, "
                        "toc_html, summary_html, plain_text, has_chart, has_math, show_toc, "
                        "reading_minutes, extra, source_hash) VALUES (500, 'post', 'late', "
                        "'Late', '', 'published', :t, :t, :t, '', '', '', '', '', false, "
                        "false, false, 1, '{}', '')"), {"t": datetime(2026, 1, 1)})
                    conn.execute(text("INSERT INTO post_tags (post_id, tag_id) "
                                      "SELECT 500, MIN(id) FROM tags"))

    monkeypatch.setattr(backup, "_tables", tables_while_writing)
    archive = tmp_path / "blog.tar.gz"
    result = runner.invoke(args=["backup", str(archive)])
    monkeypatch.setattr(backup, "_tables", tables)
    writer.dispose()
    assert result.exit_code == 0, result.output
    with target(tmp_path, f"sqlite:///{tmp_path / 'target.sqlite3'}") as restored:
        result = restored.test_cli_runner().invoke(args=["restore", str(archive)])
        assert result.exit_code == 0, result.output


def test_times_with_an_offset_are_kept_as_utc():
    from inkwell.backup_checks import column_value as _value
    from inkwell.models import Post

    column = Post.__table__.c.published_at
    assert _value(column, "2026-01-01T09:00:00+05:00") == datetime(2026, 1, 1, 4, 0)
    assert _value(column, "2026-01-01T09:00:00") == datetime(2026, 1, 1, 9, 0)


def test_a_backup_killed_earlier_leaves_nothing_behind(app, runner, tmp_path):
    stale = tmp_path / ".blog.tar.gz.abc123.partial"
    stale.write_bytes(b"x" * 1000)
    assert runner.invoke(args=["backup", str(tmp_path / "blog.tar.gz")]).exit_code == 0
    assert not stale.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


# --- hostile backups that pass the checksums (issue 15) -----------------------------------------


def _members_changed(rows: bytes | None = None, add: dict[str, bytes] | None = None,
                     replace: dict[str, bytes] | None = None):
    """A change that puts `rows` in database.jsonl, replaces and adds members, and writes a
    manifest that matches: a consistent file that only its contents can betray."""
    add, replace = add or {}, replace or {}
    new: dict[str, bytes] = {}

    def change(name, data):
        if name == "database.jsonl" and rows is not None:
            data = rows
        data = replace.get(name, data)
        if name == "manifest.json":
            manifest = json.loads(data)
            for member, content in {**new, **add}.items():
                manifest["files"][member] = {"size": len(content),
                                             "sha256": hashlib.sha256(content).hexdigest()}
            return json.dumps(manifest).encode()
        new[name] = data
        return data
    return change


def _rewrite_adding(path: Path, out: Path, change, add: dict[str, bytes]) -> None:
    """_rewrite, with `add`'s members put before the manifest (written last, as backups are)."""
    with tarfile.open(path) as source, tarfile.open(out, "w:gz") as copy:
        for member in source:
            if member.name == "manifest.json":
                for name, content in add.items():
                    info = tarfile.TarInfo(name)
                    info.size = len(content)
                    copy.addfile(info, io.BytesIO(content))
            data = change(member.name, source.extractfile(member).read())
            member.size = len(data)
            copy.addfile(member, io.BytesIO(data))


def _deep_rows(backup: Path) -> bytes:
    """posts.extra nested 100,000 levels deep (RecursionError while read or written)."""
    changed = _rows_changed(backup, "posts", extra="DEEP").decode()
    return changed.replace('"DEEP"', "[" * 100_000 + "]" * 100_000).encode()


HTML = b"<!doctype html><script>alert(document.domain)</script>"
BAD_ROWS = {
    "a lone surrogate": (lambda good: _rows_changed(good, "posts", title="\ud800"),
                         "posts.title holds a lone surrogate"),
    "a NUL": (lambda good: _rows_changed(good, "posts", title="a\x00b"), "posts.title holds NUL"),
    "year 1 with an offset": (
        lambda good: _rows_changed(good, "posts", published_at="0001-01-01T00:00:00+01:00"),
        "posts.published_at is out of range"),
    "year 9999": (lambda good: _rows_changed(good, "posts", updated_at="9999-12-31T00:00:00"),
                  "posts.updated_at is out of range"),
    "JSON 100,000 levels deep": (_deep_rows, "nested too deeply"),
    "a number too large": (lambda good: _rows_changed(good, "posts", reading_minutes=2**40),
                           "posts.reading_minutes is out of range"),
}
BAD_MEDIA = {
    "an HTML page": ({"media/evil.html": HTML}, {}, "media/evil.html is not a media file name"),
    "an SVG": ({"media/evil.svg": b"<svg onload='alert(1)'/>"}, {},
               "media/evil.svg is not a media file name"),
    "HTML bytes named .webp": ({}, {f"media/{STEM}.webp": HTML},
                               f"media/{STEM}.webp is not the WebP image its media row says"),
    "a PNG named .webp": ({}, {f"media/{STEM}-480.webp": b"\x89PNG\r\n\x1a\n" + bytes(40)},
                          f"media/{STEM}-480.webp is not the WebP image its media row says"),
}


def _refused_and_nothing_written(tmp_path: Path, archive: Path, message: str, **settings):
    url = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    with make_app(tmp_path / "target", SQLALCHEMY_DATABASE_URI=url, SITE_URL="http://b.example",
                  MEDIA_ROOT=str(tmp_path / "target-media"), **settings) as restored:
        result = restored.test_cli_runner().invoke(args=["restore", str(archive)])
        assert result.exit_code == 1, result.output
        assert message in result.output, result.output
        assert "Traceback" not in result.output and len(result.output.splitlines()) == 1
        with restored.app_context():
            assert not list(get_store().keys())
            tables = inspect(db.engine).get_table_names()
            if "posts" in tables:
                assert not db.session.execute(text("SELECT count(*) FROM posts")).scalar()


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_value_the_database_cannot_take_is_refused_before_anything_is_written(
        app, runner, tmp_path, case):
    fill(app, tmp_path / "posts")
    good = tmp_path / "good.tar.gz"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0
    make_rows, message = BAD_ROWS[case]
    bad = tmp_path / "bad.tar.gz"
    _rewrite(good, bad, _with_rows(make_rows(good)))
    _refused_and_nothing_written(tmp_path, bad, message)


@pytest.mark.parametrize("case", BAD_MEDIA)
def test_media_are_only_images_named_and_shaped_as_their_rows_say(app, runner, tmp_path, case):
    fill(app, tmp_path / "posts")
    good = tmp_path / "good.tar.gz"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0
    add, replace, message = BAD_MEDIA[case]
    bad = tmp_path / "bad.tar.gz"
    _rewrite_adding(good, bad, _members_changed(add=add, replace=replace), add)
    _refused_and_nothing_written(tmp_path, bad, message)


def test_a_file_the_rows_do_not_name_is_not_restored(app, runner, tmp_path):
    fill(app, tmp_path / "posts")
    good = tmp_path / "good.tar.gz"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0
    stray = {f"media/{'f' * 32}.svg": b"<svg xmlns='http://www.w3.org/2000/svg' onload='x()'/>"}
    bad = tmp_path / "stray.tar.gz"
    _rewrite_adding(good, bad, _members_changed(add=stray), stray)
    with target(tmp_path, f"sqlite:///{tmp_path / 't.sqlite3'}") as restored:
        result = restored.test_cli_runner().invoke(args=["restore", str(bad)])
        assert result.exit_code == 0, result.output
        with restored.app_context():
            assert {k for k in get_store().keys() if not k.startswith("cards/")} == set(MEDIA)


def test_a_file_larger_than_the_limit_is_refused_unread(app, runner, tmp_path):
    """A 3 MB member of zeros (a few KB compressed) against a 1 MB limit: refused from the
    member's header, before its bytes are read, and nothing is written."""
    fill(app, tmp_path / "posts")
    good = tmp_path / "good.tar.gz"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0
    zeros = {f"media/{STEM}-960.webp": bytes(3 * 1024 * 1024)}
    bad = tmp_path / "zeros.tar.gz"
    _rewrite_adding(good, bad, _members_changed(add=zeros), zeros)
    assert bad.stat().st_size < 100_000
    _refused_and_nothing_written(tmp_path, bad, f"media/{STEM}-960.webp is 3145728 bytes; "
                                 "the limit is 1048576 (BACKUP_MAX_FILE_SIZE)",
                                 BACKUP_MAX_FILE_SIZE=1024 * 1024)
    _refused_and_nothing_written(tmp_path, bad, "the limit is 2097152 (BACKUP_MAX_SIZE)",
                                 BACKUP_MAX_SIZE=2 * 1024 * 1024)


def test_a_restore_that_fails_while_writing_rows_takes_its_files_away(app, runner, tmp_path,
                                                                       monkeypatch):
    """Whatever fails once the files are written (here the database, mid-insert), the files
    the restore added are removed and the answer is one line."""
    import inkwell.backup as backup

    fill(app, tmp_path / "posts")
    good = tmp_path / "good.tar.gz"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0

    def fails(*args):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(backup, "_after_insert", fails)
    _refused_and_nothing_written(tmp_path, good, "the restore failed and was undone: "
                                 "RecursionError")


def test_a_restore_stopped_half_way_takes_its_files_away(app, runner, tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM, which restore turns into the same) after the first file is written:
    the restore stops, and the file it wrote is gone."""
    from inkwell.storage.local import LocalStore

    fill(app, tmp_path / "posts")
    good = tmp_path / "good.tar.gz"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0
    saved = []
    save = LocalStore.save_file

    def interrupted(self, key, file, content_type):
        if saved:
            raise KeyboardInterrupt
        save(self, key, file, content_type)
        saved.append(key)

    monkeypatch.setattr(LocalStore, "save_file", interrupted)
    with target(tmp_path, f"sqlite:///{tmp_path / 't.sqlite3'}") as restored:
        with restored.app_context(), pytest.raises(KeyboardInterrupt):
            from inkwell.backup import restore

            restore(good)
        assert saved
        with restored.app_context():
            assert not list(get_store().keys())


def test_a_large_media_file_is_restored_without_being_held_in_memory(app, runner, tmp_path):
    """A picture followed by 48 MB of padding (allowed after an image's end) goes from the
    backup to the store in chunks: Python's peak allocation stays a fraction of the file
    (before, each member was joined into one bytes object: at least the whole file)."""
    import tracemalloc

    fill(app, tmp_path / "posts")
    good = tmp_path / "good.tar.gz"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0
    name = f"media/{STEM}.webp"
    padded = MEDIA[f"{STEM}.webp"] + bytes(48 * 1024 * 1024)
    big = tmp_path / "big.tar.gz"
    _rewrite(good, big, _members_changed(replace={name: padded}))
    with target(tmp_path, f"sqlite:///{tmp_path / 't.sqlite3'}") as restored:
        tracemalloc.start()
        try:
            result = restored.test_cli_runner().invoke(args=["restore", str(big)])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert result.exit_code == 0, result.output
        with restored.app_context():
            assert hashlib.sha256(get_store().read(f"{STEM}.webp")).digest() \
                == hashlib.sha256(padded).digest()
    assert peak < len(padded) // 4, f"peak {peak / 1e6:.1f} MB, file {len(padded) / 1e6:.0f} MB"


def test_share_cards_are_drawn_again_not_carried(app, runner, tmp_path):
    """A published post's share card is drawn from its row: the backup leaves cards out and
    the restore draws the same card (same key, same bytes) again."""
    from inkwell.share_cards import CARDS

    fill(app, tmp_path / "posts")
    with app.app_context():
        cards = {key: get_store().read(key) for key in get_store().keys()
                 if key.startswith(CARDS)}
    assert cards, "the imported posts have no share card"
    good = tmp_path / "good.tar.gz"
    assert runner.invoke(args=["backup", str(good)]).exit_code == 0
    with tarfile.open(good) as archive:
        assert not [n for n in archive.getnames() if n.startswith(f"media/{CARDS}")]
    with target(tmp_path, f"sqlite:///{tmp_path / 't.sqlite3'}") as restored:
        result = restored.test_cli_runner().invoke(args=["restore", str(good)])
        assert result.exit_code == 0, result.output
        with restored.app_context():
            store = get_store()
            assert {key: store.read(key) for key in cards} == cards
