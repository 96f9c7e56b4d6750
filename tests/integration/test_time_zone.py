"""The blog's time zone (TIME_ZONE, issue 16), through real gunicorn: the editor shows and takes
times in it, readers' dates are its days, and stored and machine-read times stay UTC."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess

import pytest

from ..services import BIN
from .admin_support import admin_site
from .test_admin_editor import public, save, unique

ZONE = "Asia/Kolkata"  # UTC+05:30 all year, called IST


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("zone"), TIME_ZONE=ZONE) as site:
        yield site


def stored_date(site, slug: str) -> str:
    database = site.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(database) as db:
        return db.execute("SELECT published_at FROM posts WHERE slug = ?", (slug,)).fetchone()[0]


def test_a_schedule_is_entered_and_shown_in_the_blogs_time_zone(site, author):
    slug = unique("later")
    made = save(author, "/admin/posts/new", "schedule", title="Later", slug=slug,
                body="Soon.", publish_at="2030-01-01T10:00")
    assert made.status_code == 302, made.text
    assert stored_date(site, slug).startswith("2030-01-01 04:30:00")  # stored as UTC
    edit = author.get(made.headers["Location"]).text
    assert "Scheduled for 2030-01-01 10:00 IST." in edit  # the flash message
    assert "Scheduled for 2030-01-01 10:00 IST</span>" in edit  # the status
    assert 'value="2030-01-01T10:00"' in edit  # the field, as entered
    assert f"Publish date ({ZONE})" in edit
    listing = author.get("/admin/?status=scheduled").text
    assert "2030-01-01 10:00 IST" in listing


def test_readers_see_the_day_of_the_blogs_time_zone_and_machines_get_utc(site, author):
    slug = unique("new-year")
    made = save(author, "/admin/posts/new", "publish", title="New year", slug=slug,
                body="Fireworks.", publish_at="2026-01-01T02:00")
    assert made.status_code == 302, made.text
    assert stored_date(site, slug).startswith("2025-12-31 20:30:00")
    page = public(site, f"/posts/{slug}/").text
    assert re.search(r'<time datetime="2025-12-31T20:30:00Z">1 January 2026</time>', page)
    assert "<published>2025-12-31T20:30:00Z</published>" in public(site, "/feed.xml").text
    # The archive counts the blog's years too.
    assert f"/posts/{slug}/" in public(site, "/archive/2026/").text
    assert f"/posts/{slug}/" not in public(site, "/archive/2025/").text
    assert 'href="/archive/2026/"' in public(site, "/archive/").text


def test_an_unknown_time_zone_is_refused_at_start_with_what_to_write(tmp_path):
    env = {**os.environ, "INKWELL_ENV": "development", "TIME_ZONE": "Mars/Olympus_Mons",
           "SECRET_KEY": "test-" + "k" * 40, "INKWELL_INSTANCE_PATH": str(tmp_path)}
    done = subprocess.run([str(BIN / "inkwell"), "db", "status"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "TIME_ZONE must be a time zone name such as Europe/Berlin" in done.stderr
    assert "'Mars/Olympus_Mons'" in done.stderr and "Traceback" not in done.stderr
