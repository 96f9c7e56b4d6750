"""Push-to-deploy end to end: `git push` to a deploy root made by `inkwell deploy init`, the real
pre-receive hook, a venv per release installed from the lock file, and gunicorn restarted on a
held socket (service_manager.py does what systemd does here).

The tests build on each other in file order, one deploy root for the module: a first push, a
second one under load (a new template and a new migration), a push of the older code again (the
database migrated down first), `inkwell deploy rollback` (up again), a push whose migration
fails after the switch, and a push whose app cannot even start. Each build
installs the lock file into a fresh venv (~25 s).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from inkwell.assets import file_hash
from inkwell.deploy.diagnose import connection
from inkwell.migrations import head_revision

from ..services import BIN, free_port, need_binary

REPO = Path(__file__).resolve().parents[2]
MANAGER = Path(__file__).with_name("service_manager.py")
# The tests build on one another: one worker runs them all, in order (make test: --dist loadfile).
pytestmark = pytest.mark.container

MARKER = "<!-- deployed: release two -->"


def _git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org", "PIP_NO_COMPILE": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONFIG_FILE",
                 "LANG"):
        if name in os.environ:
            env[name] = os.environ[name]
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def _get(address: str, path: str) -> tuple[int, bytes]:
    # A browser's patience, not a deadline: on a loaded host the restart's queue can wait > 10 s.
    conn = connection(address, timeout=60)
    try:
        conn.request("GET", path, headers={"Host": "blog.example"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _release_on_air(address: str) -> str | None:
    status, body = _get(address, "/healthz")
    assert status == 200
    return json.loads(body)["release"]


class Site:
    def __init__(self, root: Path, work: Path, address: str) -> None:
        self.root, self.work, self.address = root, work, address

    def commit(self, message: str) -> str:
        _git("add", "-A", cwd=self.work)
        _git("commit", "-q", "-m", message, cwd=self.work)
        return _git("rev-parse", "HEAD", cwd=self.work).stdout.strip()

    def push(self) -> subprocess.CompletedProcess:
        return _git("push", str(self.root / "repo.git"), "HEAD:main", cwd=self.work, check=False)

    def deployed_commit(self) -> str:
        return _git("rev-parse", "main", cwd=self.root / "repo.git").stdout.strip()

    def current(self) -> str:
        return Path(os.readlink(self.root / "current")).name

    def releases(self) -> list[str]:
        return sorted(p.name for p in (self.root / "releases").iterdir())

    def tables(self) -> set[str]:
        with sqlite3.connect(self.root / "shared/instance/inkwell.sqlite3") as db:
            return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}

    def restarts(self) -> int:
        result = self.root / "service" / "result"
        return json.loads(result.read_text())["generation"] if result.exists() else 0

    def journal(self) -> str:
        return (self.root / "service" / "journal.log").read_text(errors="replace")


def _push_while(site, read) -> subprocess.CompletedProcess:
    """`site.push()`, with `read()` called again and again in another thread meanwhile."""
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            read()

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        return site.push()
    finally:
        stop.set()
        thread.join()


def _copy_checkout(into: Path) -> None:
    """The project as it is on disk (committed or not), without ignored files."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    need_binary("git")
    root, work = tmp_path_factory.mktemp("deploy-root"), tmp_path_factory.mktemp("work")
    port = free_port()
    address = f"127.0.0.1:{port}"
    clean = {"PATH": os.environ["PATH"], "HOME": str(root)}
    done = subprocess.run([str(BIN / "inkwell"), "deploy", "init", "--root", str(root),
                           "--site-url", "http://blog.example"],
                          env=clean, cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    env_file = root / "shared" / ".env"
    restart = f"{sys.executable} {MANAGER} restart {root}"
    lines = [line for line in env_file.read_text().splitlines()
             if not line.startswith(("APP_BIND=", "RESTART_COMMAND=", "HEALTH_TIMEOUT="))]
    env_file.write_text("\n".join([*lines, f"APP_BIND={address}", "WEB_CONCURRENCY=1",
                                   f"RESTART_COMMAND={restart}", "HEALTH_TIMEOUT=30", ""]))
    manager = subprocess.Popen([sys.executable, str(MANAGER), "serve", str(root), str(port)],
                               env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    _copy_checkout(work)
    _git("init", "-q", "-b", "main", cwd=work)
    site = Site(root, work, address)
    site.commit("release one")
    yield site
    manager.terminate()
    manager.wait(60)


def test_init_writes_a_bare_repository_with_a_hook_and_private_settings(site):
    hook = site.root / "repo.git" / "hooks" / "pre-receive"
    assert os.access(hook, os.X_OK)
    assert "deploy receive" in hook.read_text()
    env_file = site.root / "shared" / ".env"
    assert env_file.stat().st_mode & 0o077 == 0
    text = env_file.read_text()
    assert f"INKWELL_APP_DIR={site.root / 'current'}" in text
    assert f"INKWELL_INSTANCE_PATH={site.root / 'shared' / 'instance'}" in text


def test_first_push_builds_migrates_and_serves_the_release(site):
    pushed = _git("rev-parse", "HEAD", cwd=site.work).stdout.strip()
    done = site.push()
    assert done.returncode == 0, done.stderr
    assert "is live" in done.stderr  # the hook's output reaches the pusher
    assert site.deployed_commit() == pushed
    release = site.current()
    assert release.endswith(pushed[:10])
    assert _release_on_air(site.address) == release
    assert _get(site.address, "/readyz")[0] == 200
    assert (site.root / "releases" / release / ".venv" / "bin" / "gunicorn").exists()


def test_second_push_switches_without_refusing_a_request(site):
    first = site.current()
    base = site.work / "src/inkwell/templates/base.html"
    base.write_text(base.read_text() + MARKER + "\n")
    css = site.work / "src/inkwell/static/css/site.css"
    old_css, old_v = css.read_bytes(), file_hash(css)
    css.write_bytes(old_css + b"/* release two */\n")
    _write_migration(site.work, "9001", head_revision(), "CREATE TABLE deploy_probe (id INTEGER)",
                     "DROP TABLE deploy_probe")
    pushed = site.commit("release two: a template change and a migration")

    answers: list[object] = []

    def read() -> None:
        try:
            answers.append(_get(site.address, "/")[0])
        except OSError as e:
            answers.append(type(e).__name__)

    done = _push_while(site, read)
    assert done.returncode == 0, done.stderr
    # The same lock files: release one's venv copied, only Inkwell installed again.
    assert re.search(r"copied the virtualenv \w+ \(same lock files\)", done.stderr), done.stderr
    assert site.deployed_commit() == pushed
    assert site.current() != first and site.current().endswith(pushed[:10])
    assert _release_on_air(site.address) == site.current()
    status, body = _get(site.address, "/")
    assert status == 200 and MARKER.encode() in body
    assert "deploy_probe" in site.tables()
    # Both stylesheets are in the static store, each under the ?v= its pages ask for.
    store = site.root / "shared" / "static"
    new_v = re.search(rb"site\.css\?v=(\w+)", body).group(1).decode()
    assert new_v != old_v and (store / old_v / "css" / "site.css").read_bytes() == old_css
    assert (store / new_v / "css" / "site.css").read_bytes().endswith(b"/* release two */\n")
    # Requests kept coming during the build and the restart; none was refused or failed.
    assert len(answers) > 50
    assert set(answers) == {200}, {a: answers.count(a) for a in set(answers)}
    assert site.releases() == sorted([first, site.current()])


def test_pushing_older_code_migrates_down_before_the_switch(site):
    """A revert: the new release (newest by time) needs an older schema than the running one;
    the running release's migrations take the database down before the switch."""
    second = site.current()
    base = site.work / "src/inkwell/templates/base.html"
    base.write_text(base.read_text().replace(MARKER + "\n", ""))
    (site.work / "src/inkwell/migrations/versions/9001_probe.py").unlink()
    pushed = site.commit("revert release two")
    done = site.push()
    assert done.returncode == 0, done.stderr
    assert f"migrating the database down to {head_revision()} with {second}'s" in done.stderr
    assert site.current().endswith(pushed[:10]) and site.current() > second
    assert _release_on_air(site.address) == site.current()
    assert "deploy_probe" not in site.tables()
    assert MARKER.encode() not in _get(site.address, "/")[1]


def test_rollback_goes_back_one_release_and_its_schema(site):
    reverted = site.current()
    done = subprocess.run([str(BIN / "inkwell"), "deploy", "rollback", "--root", str(site.root)],
                          capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert done.returncode == 0, done.stdout + done.stderr
    second = site.current()
    assert second < reverted
    assert _release_on_air(site.address) == second
    assert "deploy_probe" in site.tables()  # release two upgraded the database again
    assert MARKER.encode() in _get(site.address, "/")[1]
    listing = subprocess.run([str(BIN / "inkwell"), "deploy", "releases", "--root",
                              str(site.root)], capture_output=True, text=True).stdout
    assert f"* {second}" in listing and f"  {reverted}" in listing
    log = (site.root / "shared" / "deploy.log").read_text()
    assert f"release {second} is live" in log


def test_a_push_that_waited_while_the_branch_moved_is_refused(site):
    from inkwell.deploy.releases import DeployError, Layout, deploy

    with pytest.raises(DeployError, match="moved to .* while this push waited"):
        deploy(Layout(site.root), "a" * 40, print, branch_was=("main", "b" * 40))
    assert _release_on_air(site.address) == site.current()


def test_a_release_that_fails_after_the_switch_is_rolled_back_and_the_push_refused(site):
    running, before = site.current(), site.deployed_commit()  # release two, after the rollback
    restarts = site.restarts()
    _write_migration(site.work, "9001", head_revision(), "CREATE TABLE deploy_probe (id INTEGER)",
                     "DROP TABLE deploy_probe")
    _write_migration(site.work, "9002", "9001", "CREATE TABLE doomed (id INTEGER)", "",
                     fail=True)
    pushed = site.commit("release three: a migration that fails on the server")
    done = site.push()
    assert done.returncode != 0
    assert "did not come up" in done.stderr and f"{running} runs again" in done.stderr
    assert site.deployed_commit() == before != pushed  # the branch still names what runs
    assert site.current() == running
    assert _release_on_air(site.address) == running
    assert _get(site.address, "/readyz")[0] == 200
    assert site.restarts() == restarts + 2  # the failed start, then the old release again
    assert "broken on purpose" in site.journal()
    assert not any(name.endswith(pushed[:10]) for name in site.releases())  # removed
    assert "doomed" not in site.tables() and "deploy_probe" in site.tables()


def test_a_release_that_cannot_start_is_refused_before_anything_changes(site):
    running, restarts = site.current(), site.restarts()
    (site.work / "src/inkwell/migrations/versions/9002_probe.py").unlink()
    wsgi = site.work / "src/inkwell/wsgi.py"
    wsgi.write_text(wsgi.read_text() + "\nraise RuntimeError('cannot start on purpose')\n")
    pushed = site.commit("release four: an app that does not import")
    done = site.push()
    assert done.returncode != 0
    assert "does not start" in done.stderr and "cannot start on purpose" in done.stderr
    assert site.deployed_commit() != pushed
    assert site.current() == running and site.restarts() == restarts  # never switched
    assert not any(name.endswith(pushed[:10]) for name in site.releases())  # removed


def _write_migration(work: Path, revision: str, down: str | None, up_sql: str, down_sql: str,
                     fail: bool = False) -> None:
    upgrade_body = (f"    op.execute({up_sql!r})\n"
                    + ("    raise RuntimeError('broken on purpose')\n" if fail else ""))
    downgrade_body = f"    op.execute({down_sql!r})\n" if down_sql else "    pass\n"
    (work / f"src/inkwell/migrations/versions/{revision}_probe.py").write_text(
        f'"""A migration made by test_push_deploy."""\n\nfrom alembic import op\n\n'
        f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = None\n"
        f"depends_on = None\n\n\ndef upgrade() -> None:\n{upgrade_body}\n\n"
        f"def downgrade() -> None:\n{downgrade_body}"
    )


def test_doctor_names_the_running_release_and_a_switch_without_a_restart(site):
    from inkwell.deploy.diagnose import check_releases
    from inkwell.deploy.releases import Layout, _point_current

    running, layout = site.current(), Layout(site.root)
    findings = check_releases(site.root / "current", site.address, "blog.example")
    assert findings[-1].ok and f"{running}, and gunicorn runs it" in findings[-1].what
    assert findings[0].what.startswith("last deploy: ") and "deploy failed" in findings[0].what
    other = next(name for name in site.releases() if name != running)
    _point_current(layout, site.root / "releases" / other)  # as a deploy cut short would
    try:
        findings = check_releases(site.root / "current", site.address, "blog.example")
        assert not findings[-1].ok
        assert f"gunicorn runs release {running} but" in findings[-1].what
    finally:
        _point_current(layout, site.root / "releases" / running)


# ------------------------------------------------------------------ posts in git (issue 20)


def _png(width: int, height: int) -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (width, height), (30, 90, 160)).save(out, "PNG")
    return out.getvalue()


FRESH = "---\ntitle: Fresh from git\ndate: 2026-11-02\n---\n\nText.\n\n![Fig. 1](p99.png)\n"


def _site_state(site: Site) -> dict:
    """Everything a refused push must leave as it was: every row, every stored media file,
    the running release and its pages, byte for byte."""
    with sqlite3.connect(site.root / "shared/instance/inkwell.sqlite3") as db:
        rows = list(db.iterdump())
    media = site.root / "shared/instance/media"
    files = {p.name: p.read_bytes() for p in media.rglob("*") if p.is_file()} \
        if media.is_dir() else {}
    pages = {path: _get(site.address, path) for path in ("/", "/posts/fresh/", "/feed.xml")}
    return {"rows": rows, "media": files, "current": site.current(),
            "releases": site.releases(), "pages": pages, "branch": site.deployed_commit()}


def test_a_content_only_push_goes_live_reusing_the_venv_with_its_figures(site):
    running = site.current()
    # On top of the server's branch, the running release's code exactly (the pushes above left
    # the work tree changed, and the rollback left the branch naming another commit).
    _git("reset", "-q", "--hard", site.deployed_commit(), cwd=site.work)
    _git("read-tree", "--reset", "-u", running.rsplit("-", 1)[1], cwd=site.work)
    _git("clean", "-fdq", cwd=site.work)  # pip's cache the hook left in HOME (the work tree)
    folder = site.work / "content" / "posts" / "2026-11-fresh"
    folder.mkdir(parents=True)
    (folder / "index.md").write_text(FRESH)
    (folder / "p99.png").write_bytes(_png(1200, 600))
    pushed = site.commit("a post with a figure, nothing else")
    done = site.push()
    assert done.returncode == 0, done.stderr
    differ = subprocess.run(["diff", "-rq", "--exclude=.venv", "--exclude=content",
                             str(site.root / "releases" / running), str(site.root / "current/")],
                            capture_output=True, text=True).stdout
    assert "reused the virtualenv of the same code" in done.stderr, differ + done.stderr
    assert site.current().endswith(pushed[:10])
    venv = os.readlink(site.root / "current" / ".venv")
    assert os.readlink(site.root / "releases" / running / ".venv") == venv  # one venv, no pip
    status, page = _get(site.address, "/posts/fresh/")
    assert status == 200 and b"Fresh from git" in page
    # The figure is stored media with its widths and WebP, linked through srcset.
    picture = re.search(rb"<picture>.*?</picture>", page).group(0).decode()
    assert 'type="image/webp"' in picture and " 960w" in picture and " 480w" in picture
    for url in re.findall(r"(/media/[0-9a-f]+[-\w]*\.(?:png|webp))", picture):
        status, body = _get(site.address, url)
        assert status == 200 and body[:4] in (b"\x89PNG", b"RIFF")


def test_a_push_with_a_bad_front_matter_line_is_refused_and_changes_nothing(site):
    before = _site_state(site)
    (site.work / "content" / "posts" / "broken.md").write_text(
        "---\ntitle: Broken\ndate: not a date: at all\n---\n\nText.\n")
    folder = site.work / "content" / "posts" / "2026-11-fresh"
    (folder / "second.png").write_bytes(_png(700, 300))  # would be stored, if anything were
    (folder / "index.md").write_text(FRESH + "\n![Fig. 2](second.png)\n")
    pushed = site.commit("a bad front matter line")
    done = site.push()
    assert done.returncode != 0
    assert "content/posts/broken.md:3:" in done.stderr, done.stderr
    assert "nothing changed" in done.stderr
    assert site.deployed_commit() != pushed
    assert not any(name.endswith(pushed[:10]) for name in site.releases())
    assert _site_state(site) == before


@pytest.mark.parametrize("link, made", [
    ("../../../../../../etc/passwd", None),
    ("secrets.png", "../../.env"),  # inside the tree, but the release's .env is shared/.env
    ("missing.png", None),
])
def test_a_figure_outside_the_content_folder_or_missing_is_refused(site, link, made):
    _git("reset", "-q", "--hard", site.deployed_commit(), cwd=site.work)
    before = _site_state(site)
    post = site.work / "content" / "posts" / "leaky.md"
    if made:
        (post.parent / link).symlink_to(made)
    post.write_text(f"---\ntitle: Leaky\n---\n\nText.\n\n![x]({link})\n")
    pushed = site.commit(f"a figure: {link}")
    done = site.push()
    assert done.returncode != 0
    assert "content/posts/leaky.md:7: the figure" in done.stderr, done.stderr
    assert ("outside the content folder" if made or ".." in link else "does not exist") \
        in done.stderr
    assert "SECRET_KEY" not in done.stderr
    assert site.deployed_commit() != pushed
    assert _site_state(site) == before


def test_a_symlink_to_an_absolute_path_is_refused_before_anything(site):
    _git("reset", "-q", "--hard", site.deployed_commit(), cwd=site.work)
    before = _site_state(site)
    post = site.work / "content" / "posts" / "leaky.md"
    (post.parent / "host.png").symlink_to("/etc/hostname")
    post.write_text("---\ntitle: Leaky\n---\n\n![x](host.png)\n")
    site.commit("a figure linked to /etc/hostname")
    done = site.push()
    assert done.returncode != 0
    assert "'content/posts/host.png' is a link to an absolute path" in done.stderr, done.stderr
    assert _site_state(site) == before


def test_a_removed_file_unpublishes_its_post_and_leaves_browser_posts_alone(site):
    _git("reset", "-q", "--hard", site.deployed_commit(), cwd=site.work)
    # A post written in the browser: in the database only, no file (as the editor saves it).
    with sqlite3.connect(site.root / "shared/instance/inkwell.sqlite3") as db:
        db.execute(
            "INSERT INTO posts (kind, slug, title, description, status, published_at, "
            "updated_at, created_at, body_markdown, body_html, toc_html, summary_html, "
            "plain_text, has_chart, has_math, show_toc, reading_minutes, extra, source_hash) "
            "VALUES ('post', 'typed-in-browser', 'Typed', '', 'published', '2026-01-02', "
            "'2026-01-02', '2026-01-02', 'x', '<p>x</p>', '', '', 'x', 0, 0, 0, 1, '{}', '')")
    shutil.rmtree(site.work / "content" / "posts" / "2026-11-fresh")
    pushed = site.commit("the fresh post removed")
    done = site.push()
    assert done.returncode == 0, done.stderr
    assert site.current().endswith(pushed[:10])
    assert "1 unpublished" in done.stderr
    assert _get(site.address, "/posts/fresh/")[0] == 404
    assert b"Fresh from git" not in _get(site.address, "/")[1]
    assert _get(site.address, "/posts/typed-in-browser/")[0] == 200
    with sqlite3.connect(site.root / "shared/instance/inkwell.sqlite3") as db:
        kept = db.execute(
            "SELECT status, source_removed FROM posts WHERE slug = 'fresh'").fetchall()
    assert kept == [("draft", 1)]  # never deleted


def test_a_push_with_a_migration_and_a_bad_file_goes_back_to_the_running_release(site):
    """With a migration the import runs once the new release has migrated and come up; a
    refused import then puts the running release back, its schema too."""
    _git("reset", "-q", "--hard", site.deployed_commit(), cwd=site.work)
    running, before = site.current(), site.deployed_commit()
    tables = site.tables()
    probe = site.work / "src/inkwell/migrations/versions/9001_probe.py"  # release two's
    _write_migration(site.work, "9101", "9001" if probe.exists() else head_revision(),
                     "CREATE TABLE content_probe (id INT)", "DROP TABLE content_probe")
    (site.work / "content" / "posts" / "broken.md").write_text(
        "---\ntitle: Broken\ndate: not a date: at all\n---\n\nText.\n")
    pushed = site.commit("a migration and a bad front matter line")
    done = site.push()
    assert done.returncode != 0
    assert "content/posts/broken.md:3:" in done.stderr, done.stderr
    assert f"going back to {running}" in done.stderr
    assert site.current() == running and _release_on_air(site.address) == running
    assert site.deployed_commit() == before != pushed
    assert site.tables() == tables  # content_probe migrated up, then down again
    assert not any(name.endswith(pushed[:10]) for name in site.releases())


def test_a_code_push_with_new_posts_shows_both_at_once(site):
    """New code and a new post in one push: the content is checked before the switch and
    imported by the new release's start (ExecStartPre=inkwell setup), after the old release
    stopped serving. A reader polling the home page throughout sees either the old template
    without the post or the new template with it, never one without the other."""
    from datetime import UTC, datetime, timedelta

    _git("reset", "-q", "--hard", site.deployed_commit(), cwd=site.work)
    _git("clean", "-fdq", cwd=site.work)
    marker = "<!-- deployed: together -->"
    base = site.work / "src/inkwell/templates/base.html"
    base.write_text(base.read_text().replace("</body>", f"{marker}\n</body>"))
    yesterday = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")
    (site.work / "content" / "posts" / "together.md").write_text(
        f"---\ntitle: Arrives with its template\ndate: {yesterday}\n---\n\nText.\n")
    pushed = site.commit("a template change and a new post")

    seen: list[tuple[bool, bool]] = []
    failures: list[object] = []

    def read() -> None:
        try:
            status, body = _get(site.address, "/")
        except OSError as e:
            failures.append(type(e).__name__)
            return
        if status != 200:
            failures.append(status)
            return
        seen.append((marker.encode() in body, b"Arrives with its template" in body))

    done = _push_while(site, read)
    assert done.returncode == 0, done.stderr
    assert "Checked (nothing written)" in done.stderr, done.stderr  # before the switch
    assert site.current().endswith(pushed[:10])
    assert not failures, failures
    assert (False, False) in seen and (True, True) in seen, set(seen)  # both were seen
    assert set(seen) <= {(False, False), (True, True)}, {s: seen.count(s) for s in set(seen)}


def test_a_code_push_with_a_bad_post_is_refused_before_the_switch(site):
    running, before = site.current(), site.deployed_commit()
    tables = site.tables()
    base = site.work / "src/inkwell/templates/base.html"
    base.write_text(base.read_text() + "<!-- never deployed -->\n")
    (site.work / "content" / "posts" / "broken-too.md").write_text(
        "---\ntitle: Broken\ndate: 2026-02-30\n---\n\nText.\n")
    pushed = site.commit("new code and a bad front matter line")
    done = site.push()
    assert done.returncode != 0
    assert "content/posts/broken-too.md:3:" in done.stderr, done.stderr
    assert "is live" not in done.stderr and "restart" not in done.stderr.lower()
    assert site.current() == running and _release_on_air(site.address) == running
    assert site.deployed_commit() == before != pushed
    assert site.tables() == tables
    _git("reset", "-q", "--hard", before, cwd=site.work)
