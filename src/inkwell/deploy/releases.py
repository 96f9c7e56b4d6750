"""Push-to-deploy with rollback: `git push` to the server builds the new release beside the one
that runs, switches to it, and switches back when it does not come up healthy.

The layout under the deploy root (`inkwell deploy init --root /srv/inkwell`):

    repo.git/                  bare repository you push to; its pre-receive hook deploys
    releases/<stamp>-<commit>/ one folder per deploy: the pushed tree, its own .venv installed
                               from its own lock file, REVISION (the folder's name), and links
                               to the shared .env and instance folder
    shared/.env                settings (SECRET_KEY, APP_BIND, DATABASE_URL, ...)
    shared/instance/           SQLite database, media, compiled templates
    shared/static/<hash>/...   every kept release's static files under their content hash (the
                               app's ?v=), which nginx serves (STATIC_STORE): a page rendered
                               by the release before still gets its own files
    current -> releases/...    what the service runs (WorkingDirectory=/srv/inkwell/current)

One deploy at a time (a lock file), in four steps:

1. build: unpack the pushed commit, make its venv from its `requirements.lock`, install it, and
   import the app with the shared settings. Whatever fails here fails before anything changed.
2. switch: `current` is replaced in one rename, then the service restarts (RESTART_COMMAND,
   `systemctl restart inkwell.service` by default). Its ExecStartPre migrates the database;
   meanwhile inkwell.socket holds the requests, so none is refused.
3. check: gunicorn, asked directly at APP_BIND, must name the new release on /healthz and
   answer /readyz with 200 within HEALTH_TIMEOUT.
4. roll back when 2 or 3 fail: the database is migrated down to what the previous release needs
   (by the new release's scripts, the ones that know the way down), `current` goes back, the
   service restarts, and the push is refused: the branch on the server names what runs.

The hook runs as the user you push as (the service's user), so the restart goes through a
sudo rule that allows exactly that command (docs/vps.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from ..config import ConfigError, int_setting
from . import envfile, venvs
from .settings import app_bind_setting

DEFAULT_ROOT = Path("/srv/inkwell")
DEFAULT_RESTART = "sudo -n systemctl restart inkwell.service"
KEEP = 5  # releases kept on disk (the running one and the one before it always are)
LOCK_FILE = "requirements.lock"
BUILD_LOCK_FILE = "requirements-build.lock"
ZERO_COMMIT = "0" * 40
_NAME = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{7,40}$")

Log = Callable[[str], None]


class DeployError(Exception):
    """A deploy or rollback that did not happen; the message says what runs now."""


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def repo(self) -> Path:
        return self.root / "repo.git"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def shared(self) -> Path:
        return self.root / "shared"

    @property
    def env_file(self) -> Path:
        return self.shared / ".env"

    @property
    def instance(self) -> Path:
        return self.shared / "instance"

    @property
    def static_store(self) -> Path:
        return self.shared / "static"

    @property
    def venvs(self) -> Path:
        return self.shared / "venvs"

    @property
    def current(self) -> Path:
        return self.root / "current"

    def current_release(self) -> Path | None:
        """The release `current` points at (None before the first deploy)."""
        if not self.current.is_symlink():
            return None
        target = self.releases / Path(os.readlink(self.current)).name
        return target if target.is_dir() else None

    def all_releases(self) -> list[Path]:
        """Every complete release, oldest first (names start with their UTC time)."""
        if not self.releases.is_dir():
            return []
        return sorted(p for p in self.releases.iterdir()
                      if _NAME.match(p.name) and (p / "REVISION").is_file())


@dataclass(frozen=True)
class Target:
    """How to restart the service and where to ask it whether it is healthy (from shared/.env)."""

    restart: list[str]
    app_bind: str
    host: str
    health_timeout: int

    @classmethod
    def from_env_file(cls, path: Path) -> Target:
        if not path.is_file():
            raise DeployError(f"{path} does not exist: run `inkwell deploy init` first")
        values = envfile.values(path)
        try:
            app_bind = app_bind_setting(values.get("APP_BIND") or "127.0.0.1:8000")
            timeout = int_setting("HEALTH_TIMEOUT", 60, values, minimum=1)
        except ConfigError as e:
            raise DeployError(f"{path}: {e}") from None
        try:
            restart = shlex.split(values.get("RESTART_COMMAND") or DEFAULT_RESTART)
        except ValueError as e:
            raise DeployError(f"{path}: RESTART_COMMAND cannot be read ({e})") from None
        if not restart:
            raise DeployError(f"{path}: RESTART_COMMAND is empty")
        host = values.get("DOMAIN") or urlsplit(values.get("SITE_URL", "")).hostname
        return cls(restart, app_bind, host or "localhost", timeout)


# ---------------------------------------------------------------------------------- init


def hook_script(layout: Layout, branch: str, fallback: Path) -> str:
    """The pre-receive hook: the running release's `inkwell` deploys (the one `init` ran with
    before the first release exists); a non-zero exit refuses the push."""
    current = layout.current / ".venv" / "bin" / "inkwell"
    return (
        "#!/bin/sh\n"
        "# Written by `inkwell deploy init`: a push to the deployed branch builds, switches to\n"
        "# and checks the new release; when it fails, the push is refused, the old release runs.\n"
        f"for exe in {shlex.quote(str(current))} {shlex.quote(str(fallback))}; do\n"
        '    if [ -x "$exe" ] && "$exe" deploy --help >/dev/null 2>&1; then\n'
        f'        exec "$exe" deploy receive --root {shlex.quote(str(layout.root))} '
        f"--branch {shlex.quote(branch)}\n"
        "    fi\n"
        "done\n"
        'echo "inkwell: no inkwell command to deploy with" >&2\n'
        "exit 1\n"
    )


def init(layout: Layout, branch: str, env_text: str | None, log: Log) -> None:
    """Create the folders, the bare repository and its hook, and shared/.env when missing."""
    for folder in (layout.releases, layout.instance, layout.static_store):
        folder.mkdir(parents=True, exist_ok=True)
    if not (layout.repo / "HEAD").exists():
        _step(["git", "init", "--quiet", "--bare", f"--initial-branch={branch}",
               str(layout.repo)], None, 60, "git init failed")
        log(f"created {layout.repo}")
    hook = layout.repo / "hooks" / "pre-receive"
    hook.write_text(hook_script(layout, branch, Path(sys.argv[0]).resolve()))
    hook.chmod(0o755)
    log(f"wrote {hook}")
    if env_text is not None and not layout.env_file.exists():
        from .envfile import write_private

        write_private(layout.env_file, env_text)
        log(f"wrote {layout.env_file} (a fresh SECRET_KEY; adjust the rest)")


# ---------------------------------------------------------------------------------- deploy


def journal(layout: Layout, echo: Callable[[str], None]) -> Log:
    """A Log that shows each line (to the pusher, through git) and appends it to
    shared/deploy.log; a pusher who went away (ssh dropped) does not stop the deploy."""

    def log(line: str) -> None:
        try:
            echo(line)
        except OSError:
            pass
        record(layout, line)

    return log


def record(layout: Layout, line: str) -> None:
    """One entry of shared/deploy.log (one line: `inkwell doctor` reads the last)."""
    entry = line.replace("\n", " | ")
    with contextlib.suppress(OSError), open(layout.shared / "deploy.log", "a") as f:
        f.write(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} {entry}\n")


@contextlib.contextmanager
def locked(layout: Layout, log: Log) -> Iterator[None]:
    """One deploy or rollback at a time; a second one says whom it waits for, then waits."""
    layout.root.mkdir(parents=True, exist_ok=True)
    with open(layout.root / "deploy.lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            log(f"waiting for the deploy in progress (pid {lock.read().strip() or '?'})")
            fcntl.flock(lock, fcntl.LOCK_EX)
        lock.truncate(0)
        lock.write(str(os.getpid()))
        lock.flush()
        yield


def check_owner(root: Path) -> None:
    """Deploys run as the deploy root's owner (the user you push as): a release made by root
    would leave files that user's next push cannot replace."""
    if root.exists() and os.geteuid() != root.stat().st_uid:
        import pwd

        try:
            owner = pwd.getpwuid(root.stat().st_uid).pw_name
        except KeyError:
            owner = str(root.stat().st_uid)
        raise DeployError(f"{root} belongs to {owner}: run this as that user (sudo -u {owner} ...)")


def receive(layout: Layout, branch: str, updates: list[str], log: Log) -> None:
    """The pre-receive hook's work: deploy the new head of `branch`; other refs pass."""
    for line in updates:
        parts = line.split()
        if len(parts) != 3 or parts[2] != f"refs/heads/{branch}":
            continue
        old, new = parts[0], parts[1]
        if new == ZERO_COMMIT:
            raise DeployError(f"refusing to delete {branch}: it is what the server runs")
        deploy(layout, new, log, branch_was=(branch, old))


def deploy(layout: Layout, commit: str, log: Log,
           branch_was: tuple[str, str] | None = None) -> Path:
    """Build `commit`, switch to it, check it; on failure put the previous release back.

    `branch_was` (branch, commit it named when the push began): a push that waited for another
    one is refused when that one moved the branch meanwhile, or the server would run one commit
    while its branch names another."""
    target = Target.from_env_file(layout.env_file)
    with locked(layout, log):
        _branch_unmoved(layout, branch_was)
        prune_unfinished(layout, log)
        release = build(layout, commit, log)
        try:
            _branch_unmoved(layout, branch_was)
            previous = layout.current_release()
            database = (_databases_at_build.pop(release, None) or _database_revision(release)
                        if previous is not None else None)
            schema_ready = previous is None or _schema(release)[0] == database
            explain = None
            if previous is None or (schema_ready and _same_code(previous, release)):
                # Nothing serves yet (the first release), or the same code renders the new
                # posts (a content-only push): the content goes in before the switch.
                publish_content(release, log)
            elif schema_ready:
                # New code: checked now (refused with file:line, nothing changed), imported
                # by the new release's own start (ExecStartPre=inkwell setup) once the old one
                # has stopped serving: no reader sees new posts with the old code, or the new
                # code without them.
                publish_content(release, log, check_only=True)
            else:
                # New code and schema: its start migrates, then imports; when it fails, say
                # why (the database still at its schema) before going back.
                explain = lambda: _content_errors(release)  # noqa: E731
            switch(layout, target, release, previous, log, database_was=database,
                   explain=explain)
        except BaseException:
            if layout.current_release() != release:  # never remove what `current` names
                shutil.rmtree(release, ignore_errors=True)
            raise
        prune(layout, keep={release, previous}, log=log)
        return release


def publish_content(release: Path, log: Log, check_only: bool = False) -> None:
    """`inkwell setup` of the release: its content folder into the live database, all or
    nothing (check_only: imported and undone, `inkwell setup --check`); DeployError with each
    `file:line: what is wrong` when the files are refused."""
    started = time.monotonic()
    out = _step([_bin(release, "inkwell"), "setup", *(["--check"] if check_only else [])],
                release, 1800, "the content folder was not imported (nothing changed)")
    done = next((line for line in out.splitlines()
                 if line.startswith(("Imported", "Checked", "No "))), "content imported")
    log(f"{done} ({time.monotonic() - started:.1f} s)")


def _content_errors(release: Path) -> list[str]:
    """What `inkwell setup --check` of a release that did not come up says is wrong with its
    content folder (nothing when it is not the content)."""
    done = subprocess.run([_bin(release, "inkwell"), "setup", "--check"], cwd=release,
                          env=_child_env(release), capture_output=True, text=True, timeout=1800)
    return [line for line in (done.stdout + done.stderr).splitlines()
            if line.startswith("error:")] if done.returncode else []


def _same_code(running: Path, release: Path) -> bool:
    """Whether `release` runs the very code of `running` (only its content differs): both
    link the same venv, made for one code key."""
    try:
        return os.readlink(running / ".venv") == os.readlink(release / ".venv")
    except OSError:  # a release from before shared venvs: its own venv
        return False


def _branch_unmoved(layout: Layout, branch_was: tuple[str, str] | None) -> None:
    if branch_was is None:
        return
    branch, old = branch_was
    done = subprocess.run(["git", f"--git-dir={layout.repo}", "rev-parse", "--verify", "--quiet",
                           f"refs/heads/{branch}"], capture_output=True, text=True)
    now = done.stdout.strip() or ZERO_COMMIT
    if now != old:
        raise DeployError(f"{branch} moved to {now[:10]} while this push waited for another "
                          "deploy: pull, then push again")


def rollback(layout: Layout, log: Log) -> Path:
    """Go back to the release before the current one (its schema, its code)."""
    target = Target.from_env_file(layout.env_file)
    with locked(layout, log):
        current = layout.current_release()
        older = [r for r in layout.all_releases()
                 if current and r.name < current.name and _installed(r)]
        if current is None or not older:
            raise DeployError("there is no earlier release to go back to")
        switch(layout, target, older[-1], current, log)
        return older[-1]


def _installed(release: Path) -> bool:
    return (release / ".venv" / "bin" / "inkwell").is_file()


def build(layout: Layout, commit: str, log: Log) -> Path:
    """Unpack, install and import-check `commit` as a new release folder."""
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise DeployError(f"{commit!r} is not a commit id")
    name = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{commit[:10]}"
    # Built where it will run (a venv cannot move); REVISION, written last, marks it complete.
    release = layout.releases / name
    release.mkdir(parents=True)
    try:
        log(f"building release {name}")
        _unpack(layout.repo, commit, release)
        if not (release / LOCK_FILE).is_file():
            raise DeployError(f"the pushed tree has no {LOCK_FILE}: nothing to install from")
        _link_shared(release, log)
        started = time.monotonic()
        venv, how = _install(layout, release)
        log(f"{how} ({venv}) in {time.monotonic() - started:.1f} s; checking that the app "
            "starts")
        # Create the app as gunicorn would (same folder, same .env): a release that cannot
        # start, from a syntax error to a setting it refuses, is refused before any switch.
        # The same interpreter says which migrations the release has and where the database
        # is (two interpreter starts fewer on a content-only push).
        out = _step([_bin(release, "python"), "-c", _START_SCRIPT], release, 180,
                    "the new release does not start")
        _remember_schema(release, out)
        added = sum(publish_static(layout, r) for r in (layout.current_release(), release) if r)
        log(f"static files: {added} added to {layout.static_store}")
        (release / "REVISION").write_text(name + "\n")
    except BaseException:
        shutil.rmtree(release, ignore_errors=True)
        raise
    return release


def _static_files(release: Path) -> Iterator[tuple[str, Path]]:
    """(`<content hash>/<path>`, file) for each static file of the Inkwell in a release's venv."""
    from ..assets import file_hash

    for folder in sorted((release / ".venv").glob("lib/python*/site-packages/inkwell/static")):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix != ".gz":  # .gz: WhiteNoise's, not nginx's
                yield f"{file_hash(path)}/{path.relative_to(folder).as_posix()}", path


def publish_static(layout: Layout, release: Path) -> int:
    """Add a release's static files to the store as `<content hash>/<path>`, where nginx finds
    the file a page asks for by its ?v=; return how many were new. Files are public: readable
    by all, whatever the umask of the push."""
    added = 0
    umask = os.umask(0o022)  # folders 0755, files 0644 (the deploy is one thread)
    try:
        for name, path in _static_files(release):
            dest = layout.static_store / name
            if dest.is_file():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)  # the store too, on an older root
            partial = dest.with_name(f".{dest.name}.partial")
            shutil.copyfile(path, partial)
            os.replace(partial, dest)  # complete or absent: nginx never reads half a file
            added += 1
    finally:
        os.umask(umask)
    return added


def prune_static(layout: Layout, log: Log) -> None:
    """Remove the store's files that no kept release has."""
    if not layout.static_store.is_dir():
        return
    kept = {name.split("/", 1)[0] for r in layout.all_releases() for name, _ in _static_files(r)}
    for folder in layout.static_store.iterdir():
        if folder.is_dir() and folder.name not in kept:
            shutil.rmtree(folder, ignore_errors=True)
            log(f"removed old static files {folder.name}")


def _link_shared(release: Path, log: Log) -> None:
    """.env and instance/ of a release are links to shared/ (relative: the same folder works
    wherever the root is mounted); pushed ones are set aside, never used."""
    for name, shared in ((".env", Path("..") / ".." / "shared" / ".env"),
                         ("instance", Path("..") / ".." / "shared" / "instance")):
        path = release / name
        if path.is_symlink() or path.is_file():
            path.unlink()
            log(f"ignoring the pushed {name}: the server's is shared/{name}")
        elif path.is_dir():
            shutil.rmtree(path)
            log(f"ignoring the pushed {name}/: the server's is shared/{name}")
        path.symlink_to(shared)


def _unpack(repo: Path, commit: str, into: Path) -> None:
    # git's own environment stays: in a pre-receive hook the pushed objects are only reachable
    # through GIT_OBJECT_DIRECTORY / GIT_ALTERNATE_OBJECT_DIRECTORIES (git's quarantine).
    archive = subprocess.Popen(
        ["git", f"--git-dir={repo}", "archive", "--format=tar", commit],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    problem = None
    try:
        with tarfile.open(fileobj=archive.stdout, mode="r|") as tar:
            _extract(tar, into)
    except tarfile.TarError as e:
        problem = f"the pushed tree cannot be unpacked safely: {e}"
    finally:
        archive.stdout.close()
        if problem:
            archive.kill()
        error = archive.stderr.read().decode(errors="replace").strip()
        code = archive.wait()
    if problem:
        raise DeployError(problem)
    if code != 0:
        raise DeployError(f"git archive {commit} failed: {error}")


def _extract(tar: tarfile.TarFile, into: Path) -> None:
    """Every member inside `into`: no absolute paths, no `..`, no link leading out."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(into, filter="data")
        return
    # Python before 3.11.4 (Debian 12's 3.11.2 without the backport): the same rules by hand.
    root = into.resolve()
    for member in tar:
        target = (root / member.name).resolve()
        link = (target.parent / member.linkname).resolve() if member.issym() else target
        inside = target.is_relative_to(root) and link.is_relative_to(root)
        if not inside or member.isdev() or member.islnk() or os.path.isabs(member.linkname or ""):
            raise tarfile.TarError(f"{member.name!r} points outside the release")
        tar.extract(member, into, set_attrs=False)


def code_key(release: Path) -> str:
    """What a virtualenv is made from: the lock files and every file of the pushed tree
    except the content folder (posts and figures need no install). The same key, the same
    venv: a content-only push reuses it."""
    content = envfile.values(release / ".env").get("CONTENT_DIR") or "content"
    skip = {".venv", ".env", "instance", "REVISION", Path(content).parts[0]}
    digest = hashlib.sha256()
    for path in sorted(release.rglob("*")):
        relative = path.relative_to(release)
        if relative.parts[0] in skip or not path.is_file() or path.is_symlink():
            continue
        digest.update(f"{relative.as_posix()}\0{path.stat().st_mode & 0o111}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def _install(layout: Layout, release: Path) -> tuple[str, str]:
    """Give `release` a .venv: a link to shared/venvs/<code key>, built there unless a
    release of the same code and lock files already did; (the key, how: "reused" (no pip),
    "copied from ..." (a venv of the same lock files, with Inkwell installed again) or
    "installed" (every pin, from the lock files))."""
    venv = layout.venvs / code_key(release)
    done = venv / "INSTALLED"
    how = "reused the virtualenv of the same code"
    if not done.is_file():
        shutil.rmtree(venv, ignore_errors=True)  # a build cut short: start again
        venv.parent.mkdir(parents=True, exist_ok=True)
        key = venvs.lock_key(release)
        source = venvs.find_marked(_venvs_newest_first(layout), key)
        if source is not None:  # same lock files: copy, and install only Inkwell
            venvs.clone(source, venv, link=True)
            _install_inkwell(venv, release)
            how = f"copied the virtualenv {source.name} (same lock files), Inkwell installed"
        else:
            _build_venv(venv, release)
            how = "installed"
        venvs.mark(venv, key)
        done.write_text(release.name + "\n")
    (release / ".venv").symlink_to(Path("..") / ".." / "shared" / "venvs" / venv.name)
    return venv.name, how


def _venvs_newest_first(layout: Layout) -> list[Path]:
    """Every complete venv on the server that a new one could be copied from: the releases'
    (the newest first: its files are the likeliest in the page cache) and the tools install
    `deploy setup` made."""
    made = [v for v in layout.venvs.iterdir() if (v / "INSTALLED").is_file()] \
        if layout.venvs.is_dir() else []
    made.sort(key=lambda v: (v / "INSTALLED").stat().st_mtime, reverse=True)
    return [*made, layout.root / "tools"]


def _pip(venv: Path) -> list[str]:
    return [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
            "--disable-pip-version-check"]


def _build_venv(venv: Path, release: Path) -> None:
    """A venv at `venv` (where it stays: a venv cannot move) from the release's lock files."""
    _step([sys.executable, "-m", "venv", str(venv)], release, 300, "python -m venv failed")
    _step([*_pip(venv), "--require-hashes", "-r", str(release / LOCK_FILE)], release, 1800,
          f"pip install -r {LOCK_FILE} failed")
    if (release / BUILD_LOCK_FILE).is_file():  # the build backend pinned too: nothing unpinned
        _step([*_pip(venv), "--require-hashes", "-r", str(release / BUILD_LOCK_FILE)], release,
              900, f"pip install -r {BUILD_LOCK_FILE} failed")
    _install_inkwell(venv, release)


def _install_inkwell(venv: Path, release: Path) -> None:
    """Inkwell itself, from the release's tree, in place of whatever Inkwell `venv` held."""
    isolation = ["--no-build-isolation"] if (release / BUILD_LOCK_FILE).is_file() else []
    _step([*_pip(venv), "--no-deps", "--force-reinstall", *isolation, str(release)], release,
          900, "pip install of the release failed")


def prune_venvs(layout: Layout, log: Log) -> None:
    """Remove the shared venvs no kept release links to."""
    if not layout.venvs.is_dir():
        return
    used = {Path(os.readlink(r / ".venv")).name for r in layout.all_releases()
            if (r / ".venv").is_symlink()}
    for venv in layout.venvs.iterdir():
        if venv.name not in used:
            shutil.rmtree(venv, ignore_errors=True)
            log(f"removed the virtualenv {venv.name}, which no kept release uses")


def _bin(release: Path, name: str) -> str:
    return str(release / ".venv" / "bin" / name)


def _step(argv: list[str], release: Path | None, timeout: int, failed: str) -> str:
    """Run one step in `release` with its settings (None: anywhere, none); its output, or
    DeployError saying `failed` and the last lines it printed."""
    try:
        done = subprocess.run(argv, cwd=release, env=_child_env(release), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeployError(f"{failed}: no result after {timeout} s") from None
    except OSError as e:
        raise DeployError(f"{failed}: {e}") from None
    if done.returncode != 0:
        raise DeployError(f"{failed}:\n{output_tail(done)}")
    return done.stdout


_ASK = "ask"


def switch(layout: Layout, target: Target, to: Path, came_from: Path | None, log: Log,
           database_was: str | None = _ASK,
           explain: Callable[[], list[str]] | None = None) -> None:
    """Make `to` current and restart; if it does not come up, go back to `came_from`.
    `database_was`: the database's revision now, when the caller has just read it.
    `explain`: lines saying why `to` failed, asked before anything is undone."""
    if came_from is None:
        database_was = None
    else:
        _schema_for(to, leaving=came_from, log=log)  # may refuse: nothing has changed yet
        if database_was == _ASK:
            database_was = _database_revision(came_from)
    _point_current(layout, to)
    problem = _restart_and_check(target, to.name, log)
    if problem is None:
        log(f"release {to.name} is live")
        return
    log(f"release {to.name} did not come up: {problem}")
    for line in explain() if explain is not None else []:
        log(line)
    if came_from is None:
        layout.current.unlink()
        raise DeployError(f"release {to.name} failed and there is no earlier one to go back to")
    try:
        _schema_for(came_from, leaving=to, log=log, database_was=database_was)
    except DeployError as e:
        raise DeployError(
            f"release {to.name} failed ({problem}), and the database could not be brought back "
            f"to what {came_from.name} needs ({e}); {to.name} stays current"
        ) from None
    log(f"going back to {came_from.name}")
    _point_current(layout, came_from)
    again = _restart_and_check(target, came_from.name, log)
    if again is not None:
        raise DeployError(
            f"release {to.name} failed ({problem}); went back to {came_from.name}, "
            f"which does not answer either: {again}"
        )
    raise DeployError(f"release {to.name} failed ({problem}); {came_from.name} runs again")


def _schema_for(to: Path, leaving: Path, log: Log, database_was: str | None = None) -> None:
    """Before `leaving` hands over to `to`: when `to` needs an older schema, migrate the
    database down with `leaving`'s migrations (only the newer release knows the way down).
    When `to` is the newer one it upgrades the database itself as it starts (ExecStartPre).

    `database_was`, when going back after a failed deploy: the database's revision before that
    deploy. Already `leaving`'s then, another app server sharing the database migrated it and
    runs that schema: it is left as it is (the older code works on it until deployed again)."""
    to_head, to_known = _schema(to)
    from_head, from_known = _schema(leaving)
    if to_head == from_head or from_head in to_known:
        return
    if to_head not in from_known:
        raise DeployError(
            f"the migrations of {to.name} (head {to_head}) and {leaving.name} (head {from_head}) "
            "do not descend from one another: merge the migration branches first"
        )
    if database_was == from_head:
        log(f"the database was at {from_head} before this deploy (migrated by another app "
            "server): left as it is")
        return
    log(f"migrating the database down to {to_head} with {leaving.name}'s migrations")
    _step([_bin(leaving, "inkwell"), "db", "downgrade", to_head], leaving, 900,
          f"could not migrate the database down to {to_head}")


def _database_revision(release: Path) -> str | None:
    """The database's revision, read with `release`'s settings; None when it cannot be read."""
    script = ("from inkwell import create_app; from inkwell.extensions import db; "
              "from inkwell.migrations import current_revision\n"
              "with create_app().app_context(): print(current_revision(db.engine) or '')")
    try:
        out = _step([_bin(release, "python"), "-c", script], release, 120, "")
    except DeployError:
        return None
    return out.strip() or None


_schemas: dict[Path, tuple[str, frozenset[str]]] = {}  # by venv: its files never change
_SCHEMA_SCRIPT = ("import json; from inkwell.migrations import head_revision, known_revisions; "
                  "print(json.dumps([head_revision(), sorted(known_revisions())]))")


def _schema(release: Path) -> tuple[str, frozenset[str]]:
    """(head revision, every revision) of a release's migrations; asked once per venv (the
    releases of a content-only push share one)."""
    if (release / ".venv").resolve() not in _schemas:
        _remember_schema(release, _step([_bin(release, "python"), "-c", _SCHEMA_SCRIPT],
                                        release, 120, f"cannot read {release.name}'s migrations"))
    return _schemas[(release / ".venv").resolve()]


# Creates the app as gunicorn does, then prints the release's migrations and the database's
# revision (null when it cannot be read), as _SCHEMA_SCRIPT and _database_revision would.
_START_SCRIPT = """import json
from inkwell.wsgi import app
from inkwell.migrations import current_revision, head_revision, known_revisions
try:
    from inkwell.extensions import db
    with app.app_context():
        database = current_revision(db.engine)
except Exception:
    database = None
print(json.dumps([head_revision(), sorted(known_revisions()), database]))
"""
_databases_at_build: dict[Path, str | None] = {}


def _remember_schema(release: Path, out: str) -> None:
    answer = json.loads(out.strip().splitlines()[-1])
    _schemas[(release / ".venv").resolve()] = answer[0], frozenset(answer[1])
    if len(answer) > 2:
        _databases_at_build[release] = answer[2]


def _point_current(layout: Layout, release: Path) -> None:
    """Replace the `current` link in one rename: there is no moment without one."""
    staged = layout.root / "current.new"
    staged.unlink(missing_ok=True)
    staged.symlink_to(Path("releases") / release.name)
    staged.rename(layout.current)


def _restart_and_check(target: Target, name: str, log: Log) -> str | None:
    """Restart the service; None once it answers as `name` and is ready, else what is wrong."""
    log(f"restarting: {shlex.join(target.restart)}")
    try:
        done = subprocess.run(target.restart, capture_output=True, text=True, timeout=300,
                              env=_child_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"the restart command failed: {e}"
    if done.returncode != 0:
        return f"the restart command exited with {done.returncode}:\n{output_tail(done)}"
    return wait_healthy(target, name)


def wait_healthy(target: Target, name: str) -> str | None:
    """Poll gunicorn until /healthz names release `name` and /readyz says 200."""
    from .diagnose import get

    deadline = time.monotonic() + target.health_timeout
    problem = "no answer yet"
    while time.monotonic() < deadline:
        try:
            status, body, _ = get(target.app_bind, "/healthz", target.host, 5)
            answer = json.loads(body) if status == 200 else None
            running = answer.get("release") if isinstance(answer, dict) else None
            if running != name:
                problem = f"/healthz answered {status}, release {running!r}"
            else:
                status, body, _ = get(target.app_bind, "/readyz", target.host, 5)
                if status == 200:
                    return None
                problem = f"/readyz answered {status}: {body.decode(errors='replace')[:300]}"
        except (OSError, ValueError, http.client.HTTPException) as e:
            problem = f"{target.app_bind}: {e}"
        time.sleep(0.5)
    return f"not healthy after {target.health_timeout} s: {problem}"


def prune(layout: Layout, keep: set[Path | None], log: Log) -> None:
    """Remove all but the KEEP newest releases (and never one named in `keep`)."""
    releases = layout.all_releases()
    for old in releases[:-KEEP]:
        if old not in keep:
            shutil.rmtree(old, ignore_errors=True)
            log(f"removed old release {old.name}" if not old.exists()
                else f"could not remove old release {old.name}")
    prune_static(layout, log)
    prune_venvs(layout, log)


def prune_unfinished(layout: Layout, log: Log) -> None:
    """Release folders without REVISION are builds that were cut short (the lock is held, so
    none is in progress): remove them."""
    if not layout.releases.is_dir():
        return
    for folder in layout.releases.iterdir():
        if _NAME.match(folder.name) and not (folder / "REVISION").exists():
            shutil.rmtree(folder, ignore_errors=True)
            log(f"removed the unfinished build {folder.name}")


def _child_env(release: Path | None = None) -> dict[str, str]:
    """The hook's environment minus git's own variables (GIT_DIR would redirect a child's git),
    with the release's .env (shared/.env) on top: what the service gets from EnvironmentFile=,
    whatever the shell that deploys happens to have set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "VIRTUAL_ENV"))}
    if release is not None:
        env.update(envfile.values(release / ".env"))
    return env


def output_tail(done: subprocess.CompletedProcess, lines: int = 25) -> str:
    """The last lines a command printed (stdout, then stderr): what a failure message shows."""
    text = ((done.stdout or "") + (done.stderr or "")).strip().splitlines()
    return "\n".join(text[-lines:])
