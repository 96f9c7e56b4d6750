"""Real services the tests talk to, and the rule for when one is missing.

Without INKWELL_REQUIRE_SERVICES a test whose service is missing is skipped; with it (CI) the
test fails, so a green CI run always means the real thing was exercised.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRE = os.environ.get("INKWELL_REQUIRE_SERVICES") == "1"
PG_ADMIN_URL = os.environ.get("INKWELL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("INKWELL_TEST_REDIS", "redis://127.0.0.1:6379/15")
BIN = Path(sys.executable).parent


def missing(what: str) -> None:
    """Skip, or fail when services are required."""
    if REQUIRE:
        pytest.fail(f"{what} (INKWELL_REQUIRE_SERVICES=1)")
    pytest.skip(what)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


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
