"""The image alone, as docs/compose.md's "The image alone" runs it: build, `inkwell setup`, then
gunicorn; healthy (Docker's HEALTHCHECK), pages answer, a non-root user, a clean `docker stop`."""

from __future__ import annotations

import json
import re
import time
import urllib.request

from .checks import Checks
from .guide import Guide

BUILD = "docker build -t inkwell ."
SETUP = "docker run --rm -v inkwell-data:/data --env-file .env inkwell inkwell setup"
RUN = ("docker run -d --name inkwell -p 127.0.0.1:${PORT:-8000}:8000 -v inkwell-data:/data "
       "--env-file .env -e TRUSTED_PROXIES=0 inkwell")
STOP = "docker stop inkwell"
HEALTH_WAIT = 60  # a generous bound; the time it took is printed (goal: 10 s)


def build_image(checks: Checks, guide: Guide, measures: dict) -> None:
    def build() -> str:
        began = time.monotonic()
        guide.run(BUILD, timeout=1500)
        measures["image build s"] = round(time.monotonic() - began, 1)
        return f"{measures['image build s']} s"

    checks.run("docker build -t inkwell . (the Dockerfile, unchanged)", build, needed=True)

    def sizes() -> str:
        engine = guide.engine
        size = int(engine.run("image", "inspect", "-f", "{{.Size}}", "inkwell",
                              capture=True).stdout)
        history = engine.run("history", "--no-trunc", "--format", "{{.Size}}\t{{.CreatedBy}}",
                             "inkwell", capture=True).stdout
        venv = [line for line in history.splitlines() if "COPY" in line and "/venv" in line
                and "--from=" not in line or "/venv /venv" in line]
        base = int(engine.run("image", "inspect", "-f", "{{.Size}}", "python:3.11-slim-bookworm",
                              capture=True).stdout)
        measures["image MB"] = round(size / 1e6, 1)
        measures["image MB over its base (the stand-in python)"] = round((size - base) / 1e6, 1)
        measures["/venv layer"] = venv[0].split("\t")[0] if venv else "?"
        listing = engine.run("run", "--rm", "--entrypoint", "sh", "inkwell", "-c",
                             "ls /venv/lib/python3*/site-packages", capture=True).stdout.split()
        leftovers = [name for name in listing
                     if re.match(r"(pip|setuptools|plotly|narwhals)(-|$)", name)]
        assert not leftovers, f"the final /venv still has {leftovers}"
        return f"image {measures['image MB']} MB, /venv layer {measures['/venv layer']}"

    checks.run("the final /venv has no pip, setuptools or plotly package", sizes)


def image_alone(checks: Checks, guide: Guide, port: int, measures: dict) -> None:
    engine = guide.engine
    base = f"http://127.0.0.1:{port}"

    checks.run("docker run ... inkwell inkwell setup (migrations, the welcome post)",
               lambda: _last_line(guide.run(SETUP, timeout=300).stdout), needed=True)

    started = time.monotonic()
    checks.run("docker run -d ... inkwell (gunicorn) starts",
               lambda: guide.run(RUN).stdout.strip()[:12], needed=True)

    def healthy() -> str:
        deadline = started + HEALTH_WAIT
        status = "?"
        while time.monotonic() < deadline:
            status = engine.run("inspect", "-f", "{{.State.Health.Status}}", "inkwell",
                                capture=True).stdout.strip()
            if status == "healthy":
                measures["image alone: healthy after s"] = round(time.monotonic() - started, 1)
                return f"{measures['image alone: healthy after s']} s after docker run (goal 10 s)"
            time.sleep(0.25)
        raise AssertionError(f"health is {status} after {HEALTH_WAIT} s:\n{_logs(engine)}")

    checks.run("the container becomes healthy (HEALTHCHECK on /healthz)", healthy, needed=True)

    def pages() -> str:
        home = _get(f"{base}/")
        post = _get(f"{base}/posts/welcome/")
        css = re.search(r'href="(/static/css/[^"]+)"', post).group(1)
        _get(base + css)
        # Each plotly.js bundle js/charts.js may load (data-plotly-bundles), partial and full.
        bundles = re.findall(r'"(/static/vendor/plotly[^"]+\.min\.js[^"]*)"', post)
        assert len(bundles) == 3, f"plotly.js bundles on the post: {bundles}"
        for plotly in bundles:
            request = urllib.request.Request(base + plotly, headers={"Accept-Encoding": "gzip"})
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.headers["Content-Encoding"] == "gzip", f"{plotly} not gzipped"
        assert "<html" in home
        names = ", ".join(b.split("?")[0].rsplit("/", 1)[-1] for b in bundles)
        return f"/, /posts/welcome/, {css.split('?')[0]}, {names} (gzip)"

    checks.run("pages, a static file and plotly.min.js answer 200", pages)

    def non_root() -> str:
        uid = engine.run("exec", "inkwell", "id", "-u", capture=True).stdout.strip()
        top = engine.run("top", "inkwell", "-o", "pid,user,args", capture=True).stdout
        assert uid == "10001", f"runs as uid {uid}"
        assert "root" not in top.split("\n", 1)[1], top
        return "uid 10001, every process"

    checks.run("it runs as a non-root user", non_root)

    def clean_stop() -> str:
        began = time.monotonic()
        guide.run(STOP, timeout=60)
        took = time.monotonic() - began
        state = json.loads(engine.run("inspect", "-f", "{{json .State}}", "inkwell",
                                      capture=True).stdout)
        logs = _logs(engine)
        assert state["ExitCode"] == 0, f"exit code {state['ExitCode']}:\n{logs}"
        assert "Shutting down: Master" in logs, logs
        return f"exit 0 after {took:.1f} s, gunicorn shut down"

    checks.run("docker stop is clean (SIGTERM, exit 0)", clean_stop)


def cleanup(guide: Guide) -> None:
    guide.engine.run("rm", "-f", "inkwell", check=False, capture=True)
    guide.engine.run("volume", "rm", "-f", "inkwell-data", check=False, capture=True)


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200, f"{url}: {response.status}"
        return response.read().decode(errors="replace")


def _logs(engine) -> str:
    result = engine.run("logs", "--tail", "30", "inkwell", check=False, capture=True)
    return (result.stdout + result.stderr)[-3000:]


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""
