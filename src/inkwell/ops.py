"""Health endpoints for load balancers and `inkwell doctor`: JSON, never cached."""

from __future__ import annotations

import functools
import ipaddress
import time
from pathlib import Path

from flask import Blueprint, request
from sqlalchemy import text

from .extensions import db

bp = Blueprint("ops", __name__)


@functools.cache
def release() -> str | None:
    """The release this process runs: push-to-deploy writes REVISION into each release folder,
    the service's working directory (deploy/releases.py). None anywhere else."""
    try:
        return Path("REVISION").read_text().strip()[:80] or None
    except OSError:
        return None


def _asked_on_this_machine() -> bool:
    """A request straight to gunicorn from this host (a deploy, `inkwell doctor`), not one
    through nginx from a reader (ProxyFix puts the reader's address in remote_addr)."""
    address = request.remote_addr or ""  # empty on a unix socket
    try:
        return not address or ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@bp.get("/healthz")
def healthz():
    """The process is up and can answer; checks nothing else. Asked from this machine, also
    says which release runs, so a deploy can tell the new gunicorn from the old one (readers
    are not told: it names a commit and a time)."""
    body = {"status": "ok"}
    if _asked_on_this_machine():
        body["release"] = release()
    return body, 200, {"Cache-Control": "no-store"}


@functools.cache
def _code_revision() -> str | None:
    from .migrations import head_revision

    return head_revision()


def _check_database() -> str | None:
    """The database answers, and its schema is the one this code needs (a deploy that skipped
    `inkwell db upgrade` would otherwise answer every page with a 503)."""
    try:
        revision = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as e:  # any failure here is the answer, not a crash
        db.session.rollback()
        return f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
    if revision != _code_revision():
        return (
            f"the schema is at revision {revision or '(none)'} but this code needs "
            f"{_code_revision()}: run `inkwell db upgrade`"
        )
    return None


def _check_media() -> str | None:
    from .storage import get_store

    return get_store().check_writable()


@bp.get("/readyz")
def readyz():
    """Ready for traffic: the database answers and media storage is writable."""
    started = time.perf_counter()
    checks = {"database": _check_database(), "media": _check_media()}
    ok = all(v is None for v in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {k: ("ok" if v is None else v) for k, v in checks.items()},
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return body, 200 if ok else 503, {"Cache-Control": "no-store"}
