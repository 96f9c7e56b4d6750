"""The container's command path without a Docker engine: install from the lock file into a clean
venv exactly as the Dockerfile's build stage does (its own RUN line), then run the final stage's
CMD with its ENV and probe it with its HEALTHCHECK command. The image itself, built and run on a
real engine with compose, is `make container-test` (tests/containers/).

Cost: about 25-30 s (a venv, ~50 wheels from pip's local wheel cache/find-links, one gunicorn
start). It runs in CI like every test; deselect it locally with `-m "not container"`.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from inkwell.config import new_secret_key

from ..services import free_port, wait_for_http

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.container


def final_stage() -> str:
    return (REPO / "Dockerfile").read_text().replace("\\\n", " ").rsplit("\nFROM ", 1)[1]


def instruction(stage: str, name: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", stage, re.M)]


def dockerfile_env(stage: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in instruction(stage, "ENV"):
        for pair in shlex.split(line):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("container") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    # The same steps as the Dockerfile's build stage.
    subprocess.run([*pip, "--require-hashes", "-r", str(REPO / "requirements.lock"),
                    "-r", str(REPO / "requirements-build.lock")], check=True)
    # The build stage's last RUN as written (Inkwell installed, plotly.min.js kept, pip,
    # setuptools and the plotly package removed), with this venv for /venv.
    work = venv.parent / "src"
    work.mkdir()
    step = re.sub(r"/venv\b", str(venv), install_step()).replace("/src/", f"{work}/")
    subprocess.run(["sh", "-c", step], cwd=REPO, check=True)
    return venv


def install_step() -> str:
    build = (REPO / "Dockerfile").read_text().replace("\\\n", " ").split("\nFROM ")[1]
    step = instruction(build, "RUN")[-1]
    assert "pip install --no-deps" in step and "bundle_plotly" in step, step
    return step


def test_lock_file_installs_into_a_clean_venv(clean_venv):
    site = next((clean_venv / "lib").glob("python3*/site-packages"))
    installed = {p.name.split("-")[0].lower() for p in site.glob("*.dist-info")}
    assert "inkwell" in installed and "flask" in installed and "gunicorn" in installed
    # Nothing from the dev tools leaks into the runtime image; the build tools and the
    # 65 MB plotly package (only plotly.min.js is served) are gone from the final venv.
    for left_out in ("pytest", "hypothesis", "moto", "playwright", "ruff", "pip",
                     "setuptools", "plotly", "narwhals"):
        assert left_out not in installed, left_out
    bundled = clean_venv / "share" / "inkwell-plotly"
    assert (bundled / "plotly.min.js").stat().st_size > 1_000_000
    assert (bundled / "plotly.min.js.gz").exists() and (bundled / "version").exists()


def test_dockerfile_cmd_serves_the_blog(clean_venv, tmp_path):
    stage = final_stage()
    cmd = json.loads(instruction(stage, "CMD")[0])
    healthcheck = json.loads(re.search(r"CMD\s+(\[.*\])", instruction(stage, "HEALTHCHECK")[0])
                             .group(1))
    workdir = tmp_path / "app"
    workdir.mkdir()
    assert "COPY gunicorn.conf.py /app/" in stage
    (workdir / "gunicorn.conf.py").write_text((REPO / "gunicorn.conf.py").read_text())
    shutil.copytree(REPO / "content", workdir / "content")  # the image carries /app/content

    port = free_port()
    env = {k: v for k, v in dockerfile_env(stage).items() if k != "PATH"}
    assert env["INKWELL_ENV"] == "production" and env["APP_BIND"] == "0.0.0.0:8000"
    env.update({
        "PATH": f"{clean_venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "INKWELL_INSTANCE_PATH": str(tmp_path / "data"),
        "APP_BIND": f"127.0.0.1:{port}",
        "SECRET_KEY": new_secret_key(),
        "SITE_URL": "https://blog.example",  # what docker run -e / compose's .env provide
        "WEB_CONCURRENCY": "1",
    })
    # What the compose setup container (or `docker run ... inkwell setup`) does first.
    subprocess.run(["inkwell", "setup"], cwd=workdir, env=env, check=True, capture_output=True)
    server = subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30, proc=server)
        probe = [part.replace("127.0.0.1:8000", f"127.0.0.1:{port}") for part in healthcheck]
        assert subprocess.run(probe, env=env, cwd=workdir).returncode == 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/posts/welcome/") as response:
            assert response.status == 200
            page = response.read().decode()
        css = re.search(r'href="(/static/css/site\.css\?v=\w+)"', page).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{css}") as response:
            assert response.status == 200  # WhiteNoise: no nginx in a bare container
        # The plotly.js bundles js/charts.js picks from (data-plotly-bundles): partial and full.
        bundles = re.findall(r'"(/static/vendor/plotly[^"]+\.min\.js[^"]*)"', page)
        assert len(bundles) == 3, bundles
        for plotly in bundles:
            gzipped = urllib.request.Request(f"http://127.0.0.1:{port}{plotly}",
                                             headers={"Accept-Encoding": "gzip"})
            with urllib.request.urlopen(gzipped) as response:  # compressed at build time
                assert response.headers["Content-Encoding"] == "gzip"
                assert len(response.read()) < 2_500_000
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0].decode(errors="replace")
    assert "Using worker: gthread" in output
    assert "Shutting down: Master" in output
    assert os.path.exists(tmp_path / "data" / "inkwell.sqlite3")
