"""The PaaS path as Heroku's classic Python buildpack takes it, from a fresh clone of HEAD.

What the buildpack does (heroku/heroku-buildpack-python, bin/compile): it needs exactly one of
requirements.txt, Pipfile.lock, poetry.lock or uv.lock; reads the Python version from
.python-version; runs `pip install -r requirements.txt` with its own flags; runs bin/post_compile
from the app's folder. The platform then runs the Procfile's `release` line, then `web` with
$PORT, behind a router that terminates HTTPS and sets X-Forwarded-*.

Played here, nothing Inkwell-specific: a new venv where the buildpack puts Python
(.heroku/python) with the pip it comes with, the buildpack's install command and hook, then the
Procfile's lines run by bash with a PaaS's variables, as `nobody` (when the test runs as root)
so that the app folder and HOME are read-only and only TMPDIR is writable. Requests are sent as
the router sends them. Not played: the buildpack's own Python build and pip upgrade, a real
router, a real PaaS. pip's cache is used (the buildpack passes --no-cache-dir) to keep it fast.

Cost: 70-120 s measured on a shared 2-core machine, 33-77 s of it the build (a venv, ~50 wheels
from pip's cache, Inkwell, the .gz files); then eight release runs and two gunicorn starts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from inkwell.config import new_secret_key, normalise_database_url

from ..services import PG_ADMIN_URL, free_port, missing, new_bucket, wait_for_http

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.container, pytest.mark.postgres]

PACKAGE_MANAGER_FILES = ("requirements.txt", "Pipfile.lock", "poetry.lock", "uv.lock")
# lib/pip.sh's install command (its --no-cache-dir left out: see the module's docstring).
BUILDPACK_PIP_INSTALL = ["pip", "install", "-r", "requirements.txt", "--exists-action=w",
                         "--no-input", "--progress-bar", "off"]
SITE_URL = "https://inkwell-paas.example"
# What the router adds to a reader's request.
ROUTER_HEADERS = {"Host": "inkwell-paas.example", "X-Forwarded-Proto": "https",
                  "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Port": "443"}
# Run the app as a user who may write nowhere but TMPDIR, when we are root and can switch.
READER = (["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
          if os.geteuid() == 0 and shutil.which("setpriv") else [])


def pins(requirements: str) -> list[str]:
    """The requirements of a pip requirements file, one string each (hashes and markers
    included), without comments; sorted."""
    joined = requirements.replace("\\\n", " ")
    lines = (line.strip() for line in joined.splitlines())
    return sorted(" ".join(line.split()) for line in lines if line and not line.startswith("#"))


def procfile(app: Path) -> dict[str, str]:
    """Process type -> command, as the platform reads the Procfile."""
    entries = (line.split(":", 1) for line in (app / "Procfile").read_text().splitlines()
               if line.strip() and not line.startswith("#"))
    return {name.strip(): command.strip() for name, command in entries}


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


def test_requirements_txt_has_the_pins_of_requirements_lock():
    """requirements.txt is what the buildpack installs; requirements.lock what everything else
    does (make setup, the Dockerfile, deploys). `make lock` writes both from the same pins."""
    lock = (REPO / "requirements.lock").read_text()
    buildpack_file = (REPO / "requirements.txt").read_text()
    assert pins(buildpack_file) == pins(lock), "requirements.txt and requirements.lock differ: " \
        "run `make lock` (its last line regenerates requirements.txt offline)"
    assert all("--hash=sha256:" in pin for pin in pins(buildpack_file))  # pip's hash mode
    drifted = lock.replace("--hash=sha256:", "--hash=sha256:0", 1)
    assert pins(drifted) != pins(lock)  # a changed pin is seen


def test_python_version_file_is_the_locks_python():
    version = (REPO / ".python-version").read_text().strip()
    assert re.fullmatch(r"3\.(1[0-4])", version), "the buildpack supports 3.10-3.14 (N.N form)"
    assert f"--python-version {version}" in (REPO / "requirements.lock").read_text()


def python_for(version: str) -> str:
    """A Python of the version .python-version names, as the buildpack would install, that the
    reader can run too (pyenv's under /root is out of nobody's reach)."""
    candidates = [shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin"), sys.executable]
    for python in filter(None, candidates):
        probe = [*READER, python, "-c", "import sys, venv, ensurepip; print(sys.version)"]
        done = subprocess.run(probe, capture_output=True, text=True)
        if done.returncode == 0 and done.stdout.startswith(f"{version}."):
            return python
    missing(f"no Python {version} (.python-version) that {READER[1:2] or 'this user'} can run")


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """A folder in /tmp the reader may enter (pytest's own are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="inkwell-paas-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def app_dir(workdir) -> Path:
    """The slug: a fresh clone of HEAD, built as the buildpack builds it."""
    app = workdir / "app"
    run(["git", "clone", "--quiet", str(REPO), str(app)])
    found = [name for name in PACKAGE_MANAGER_FILES if (app / name).is_file()]
    assert found == ["requirements.txt"], "the buildpack needs exactly one package manager file"
    python_home = app / ".heroku" / "python"
    run([python_for((app / ".python-version").read_text().strip()), "-m", "venv",
         str(python_home)])
    # PIP_* from this machine pass through, as an app's PIP_EXTRA_INDEX_URL does on Heroku.
    build_env = {**os.environ, "PATH": f"{python_home / 'bin'}:{os.environ['PATH']}",
                 "PYTHONUNBUFFERED": "1", "LANG": "C.UTF-8"}
    build_env.pop("VIRTUAL_ENV", None)
    for name in ("SECRET_KEY", "DATABASE_URL", "SITE_URL", "INKWELL_ENV"):
        build_env.pop(name, None)  # the build needs no settings
    run([*BUILDPACK_PIP_INSTALL, f"--src={python_home / 'src'}"], cwd=app, env=build_env)
    run(["bin/post_compile"], cwd=app, env=build_env)
    return app


def postgres_url(name: str) -> str:
    """Database `name` on the test PostgreSQL as a postgres:// URL, as PaaS add-ons hand out."""
    return f"postgres://{PG_ADMIN_URL.split('://', 1)[1].rsplit('/', 1)[0]}/{name}"


@pytest.fixture(scope="module")
def paas_env(app_dir, workdir, s3_endpoint) -> dict[str, str]:
    """What a dyno's environment holds: the host's variables, the app's config vars (but
    DATABASE_URL; media in a bucket, as docs/paas.md says), and what the buildpack's
    .profile.d sets (PATH, PYTHONPATH=$HOME); HOME is the app folder."""
    tmp = workdir / "tmp"
    tmp.mkdir()
    tmp.chmod(0o1777)
    return {
        "PATH": f"{app_dir / '.heroku' / 'python' / 'bin'}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(app_dir),
        "PYTHONPATH": str(app_dir),
        "PYTHONUNBUFFERED": "true",
        "LANG": "C.UTF-8",
        "TMPDIR": str(tmp),
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "2",
        "SECRET_KEY": new_secret_key(),
        "SITE_URL": SITE_URL,
        "TRUSTED_PROXIES": "1",
        "MEDIA_BACKEND": "s3",
        **new_bucket(s3_endpoint),
    }


def dyno(app: Path, command: str, profile: bool = True) -> list[str]:
    """`command` as a dyno starts it: bash in the app's folder, .profile.d/ sourced first
    (hosts that do not source it: `profile=False`)."""
    sourced = 'for script in .profile.d/*.sh; do . "$script"; done; ' if profile else ""
    return [*READER, "bash", "-c", sourced + command]


def release(app: Path, env: dict[str, str], profile: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(dyno(app, procfile(app)["release"], profile), cwd=app, env=env,
                          capture_output=True, text=True, timeout=300)


def one_off(app: Path, env: dict[str, str], command: str) -> subprocess.CompletedProcess:
    """`heroku run COMMAND`: a dyno of its own, with the app's config vars."""
    return subprocess.run(dyno(app, command), cwd=app, env=env, capture_output=True, text=True,
                          timeout=300)


@contextmanager
def web(app: Path, env: dict[str, str]) -> Iterator[str]:
    server = subprocess.Popen(dyno(app, procfile(app)["web"]), cwd=app, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    base = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_for_http(base + "/healthz", timeout=90, proc=server)
        yield base
    finally:
        os.killpg(server.pid, 15)
        server.communicate(timeout=60)


def get(url: str, headers: dict[str, str] | None = None):
    """One request as the router sends it; the response (an HTTPError is one too), read."""
    request = urllib.request.Request(url, headers={**ROUTER_HEADERS, **(headers or {})})

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    try:
        response = urllib.request.build_opener(NoRedirects).open(request, timeout=30)
    except urllib.error.HTTPError as e:
        response = e
    response.body = response.read()
    return response


def post_urls(base: str) -> set[str]:
    """Every post and page the sitemap lists, checked to answer 200."""
    sitemap = get(base + "/sitemap.xml")
    assert sitemap.status == 200
    urls = set(re.findall(r"<loc>([^<]+)</loc>", sitemap.body.decode()))
    for url in urls:
        assert url.startswith(SITE_URL + "/")
        assert get(base + url[len(SITE_URL):]).status == 200, url
    return urls


def write_posts(folder: Path, count: int) -> Path:
    folder.mkdir()
    for n in range(count):
        (folder / f"paas-post-{n}.md").write_text(
            f"---\ntitle: PaaS post {n}\ntags: [paas]\n---\n\nWritten before release {n}.\n")
    return folder


def test_release_and_web_serve_as_the_router_calls_them(app_dir, paas_env, workdir,
                                                        empty_pg_database):
    paas_env = {**paas_env, "DATABASE_URL": postgres_url(empty_pg_database)}
    first = release(app_dir, paas_env)
    assert first.returncode == 0, first.stdout + first.stderr
    with web(app_dir, paas_env) as base:
        for path in ("/", "/posts/welcome/", "/feed.xml", "/readyz"):
            assert get(base + path).status == 200, path

        home = get(base + "/")
        assert home.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "upgrade-insecure-requests" in home.headers["Content-Security-Policy"]
        for page in (home, get(base + "/feed.xml")):
            links = re.findall(r'(?:href|src)="(https?://[^"]+)"', page.body.decode())
            assert links and all(link.startswith(SITE_URL + "/") for link in links), links
        # Straight to the app, without the router's headers: plain http, no HSTS.
        with urllib.request.urlopen(base + "/") as plain:
            assert "Strict-Transport-Security" not in plain.headers

        stylesheet = re.search(r'href="(/static/css/site\.css\?v=\w+)"', home.body.decode())
        css = get(base + stylesheet.group(1), {"Accept-Encoding": "gzip"})
        assert css.status == 200 and css.headers["Content-Encoding"] == "gzip"
        cache_control = css.headers["Cache-Control"]
        assert "max-age=31536000" in cache_control and "immutable" in cache_control

        # A one-off command on the running release (`heroku run inkwell import ...`).
        posts = write_posts(workdir / "posts", 3)
        imported = one_off(app_dir, paas_env, f"inkwell import {posts}")
        assert imported.returncode == 0, imported.stderr
        before = post_urls(base)
    assert {f"{SITE_URL}/posts/paas-post-{n}/" for n in range(3)} <= before
    assert f"{SITE_URL}/posts/welcome/" in before

    second = release(app_dir, paas_env)  # the next deploy: release, then new web processes
    assert second.returncode == 0, second.stdout + second.stderr
    with web(app_dir, paas_env) as base:
        assert post_urls(base) == before


@pytest.mark.parametrize("change, variable", [
    ({"SECRET_KEY": None}, "SECRET_KEY"),
    ({"SECRET_KEY": "changeme"}, "SECRET_KEY"),
    ({"DATABASE_URL": "postgres://postgres@127.0.0.1:{closed_port}/inkwell"}, "DATABASE_URL"),
    ({"DATABASE_URL": None}, "DATABASE_URL"),
    ({"SITE_URL": "http://inkwell-paas.example"}, "SITE_URL"),
    ({"MEDIA_BACKEND": None}, "MEDIA_BACKEND"),  # local media, on a disk thrown away
])
def test_a_bad_setting_fails_the_release_with_one_line(app_dir, paas_env, empty_pg_database,
                                                       change, variable):
    """The release step fails, so the platform keeps the previous release; nothing is written."""
    env = {**paas_env, "DATABASE_URL": postgres_url(empty_pg_database)}
    for name, value in change.items():
        if value is None:
            env.pop(name)
        else:
            env[name] = value.format(closed_port=free_port())
    failed = release(app_dir, env)
    assert failed.returncode != 0
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], failed.stderr
    assert "Traceback" not in failed.stdout + failed.stderr
    engine = create_engine(normalise_database_url(postgres_url(empty_pg_database)))
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_the_procfile_alone_marks_the_paas(app_dir, paas_env):
    """Hosts that run the Procfile's lines without sourcing .profile.d/ (Nixpacks) get the
    PaaS checks too."""
    env = {**paas_env, "SITE_URL": "http://inkwell-paas.example",
           "DATABASE_URL": postgres_url("never-reached")}
    failed = release(app_dir, env, profile=False)
    assert failed.returncode != 0 and "SITE_URL must be an https://" in failed.stderr
