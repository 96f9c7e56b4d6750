"""Real services the tests talk to, and the rule for when one is missing.

Without INKWELL_REQUIRE_SERVICES a test whose service is missing is skipped; with it (CI) the
test fails, so a green CI run always means the real thing was exercised.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine

from inkwell.config import new_secret_key
from inkwell.migrations import upgrade

if TYPE_CHECKING:
    from PIL import Image

REQUIRE = os.environ.get("INKWELL_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("INKWELL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("INKWELL_TEST_REDIS", "redis://127.0.0.1:6379/15")
BIN = Path(sys.executable).parent
# Tests that parametrize the `database_url` fixture with these run on both databases.
BACKENDS = ["sqlite", "postgresql"]
S3_CREDENTIALS = {"S3_ACCESS_KEY_ID": "inkwell-test", "S3_SECRET_ACCESS_KEY": "inkwell-test"}


def missing(what: str) -> None:
    """Skip, or fail when services are required."""
    if REQUIRE:
        pytest.fail(f"{what} (INKWELL_REQUIRE_SERVICES=1)")
    pytest.skip(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need_binary(name: str) -> str:
    sbin = f"/usr/sbin/{name}"
    path = shutil.which(name) or (sbin if os.path.exists(sbin) else None)
    if not path:
        missing(f"{name} is not installed")
    return path


def wait_for_http(url: str, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise RuntimeError(f"server exited with {proc.returncode}:\n{out}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def gunicorn_server(env: dict, cwd: Path, extra_args: tuple[str, ...] = ()):
    """Run `gunicorn inkwell.wsgi:app` on a loopback port; yield its base URL."""
    port = free_port()
    full_env = {**os.environ, **env}
    proc = subprocess.Popen(
        [str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", "2",
         *extra_args, "inkwell.wsgi:app"],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(base + "/healthz", proc=proc)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def migrated(url: str) -> str:
    """Bring the (fresh) database at `url` to the newest schema; return `url`."""
    engine = create_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


def production_env(folder: Path, database_url: str, **more: str) -> dict[str, str]:
    """The environment of a production server: a fresh SECRET_KEY, the database, and the
    instance folder inside `folder`; `more` adds to it or replaces."""
    return {
        "INKWELL_ENV": "production",
        "SECRET_KEY": new_secret_key(),
        "DATABASE_URL": database_url,
        "INKWELL_INSTANCE_PATH": str(folder / "instance"),
        "SITE_URL": "http://blog.example",
        **more,
    }


def new_bucket(endpoint: str, public: bool = True) -> dict:
    """Create an empty bucket of our own on the S3 API at `endpoint`; return the settings that
    point Inkwell at it. A public one is made as compose's setup makes it: readers may GET
    objects, nothing else."""
    settings = {"S3_BUCKET": f"inkwell-{uuid.uuid4().hex[:12]}", "S3_ENDPOINT_URL": endpoint,
                "S3_REGION": "us-east-1", **S3_CREDENTIALS}
    if public:
        from inkwell.deploy.compose import create_public_bucket

        create_public_bucket(settings)
    else:
        import boto3

        boto3.client(
            "s3", endpoint_url=endpoint, region_name=settings["S3_REGION"],
            aws_access_key_id=settings["S3_ACCESS_KEY_ID"],
            aws_secret_access_key=settings["S3_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket=settings["S3_BUCKET"])
    return settings


def image_bytes(img: Image.Image, fmt: str, **options) -> bytes:
    """`img` saved as `fmt` (PIL's save options pass through), as the bytes of a file."""
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.getvalue()
