"""`inkwell deploy setup`: a fresh Debian or Ubuntu server to a running blog, in one command.

Run as root from a checkout of Inkwell. Each step says what it does, skips what is already
done (so running it again after a failure, or later, is safe) and stops at the first failure
with the last lines of the command that failed:

 1. packages       nginx, git, python3-venv, sudo, ssl-cert, and certbot for the certificate
 2. user           a system user (home: the deploy root, shell: git-shell, so it can push and
                   pull over ssh and nothing else)
 3. ssh key        your public key in its authorized_keys, so `git push` works
 4. sudo rule      that user may run `systemctl restart inkwell.service` as root, nothing else
 5. tools          this checkout installed in ROOT/tools: the hook deploys with it until the
                   first release exists
 6. deploy root    `inkwell deploy init` as that user: repo.git and its hook, shared/.env
 7. files          `inkwell deploy render` as that user, into shared/deploy (a self-signed
                   certificate stands in until step 9)
 8. nginx          the site enabled, its cache and media folders made, nginx -t, reload
 9. certificate    certbot --webroot, then the site rendered for the real certificate
10. service        inkwell.service and inkwell.socket installed and enabled
11. first release  this checkout's HEAD pushed to repo.git as that user: built, started and
                   checked like every later push

`--until STEP` stops after a step (e.g. `files`, to read what would be installed first).
"""

from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .releases import Layout

STEPS = ("packages", "user", "ssh-key", "sudo", "tools", "deploy-root", "files", "nginx",
         "certificate", "service", "first-release")
PACKAGES = ("nginx", "git", "python3-venv", "sudo", "ssl-cert")
SNAKEOIL = ("/etc/ssl/certs/ssl-cert-snakeoil.pem", "/etc/ssl/private/ssl-cert-snakeoil.key")
SUDOERS = Path("/etc/sudoers.d/inkwell-deploy")
NGINX_SITE = Path("/etc/nginx/sites-enabled/inkwell.conf")
SYSTEMD_DIR = Path("/etc/systemd/system")


class SetupError(Exception):
    """A step that failed; the message names it and what to do."""


@dataclass(frozen=True)
class Options:
    site_url: str
    source: Path
    root: Path = Path("/srv/inkwell")
    user: str = "inkwell"
    branch: str = "main"
    email: str | None = None  # None: no certificate (keep the self-signed one)
    ssh_key: str | None = None  # the public key's text

    @property
    def layout(self) -> Layout:
        return Layout(self.root)

    @property
    def tools(self) -> Path:
        return self.root / "tools"

    @property
    def inkwell(self) -> str:
        return str(self.tools / "bin" / "inkwell")


Log = Callable[[str], None]


def run(options: Options, until: str, log: Log) -> None:
    if until not in STEPS:
        raise SetupError(f"--until {until}: the steps are {', '.join(STEPS)}")
    if os.geteuid() != 0:
        raise SetupError("run it as root (sudo): it installs packages, a user and services")
    source = options.source
    if not (source / ".git").exists() or not (source / "requirements.lock").exists():
        raise SetupError(f"{options.source} is not a checkout of Inkwell (no .git or "
                         "requirements.lock): run it from one, or give --source")
    steps: dict[str, Callable[[Options, Log], str | None]] = {
        "packages": _packages, "user": _user, "ssh-key": _ssh_key, "sudo": _sudo,
        "tools": _tools, "deploy-root": _deploy_root, "files": _files, "nginx": _nginx,
        "certificate": _certificate, "service": _service, "first-release": _first_release,
    }
    last = STEPS.index(until)
    if last >= STEPS.index("nginx") and not Path("/run/systemd/system").is_dir():
        raise SetupError("systemd is not running on this machine (a container?): setup installs "
                         "systemd services. --until files prepares everything before that; "
                         "docs/compose.md runs Inkwell in containers")
    for number, name in enumerate(STEPS[: last + 1], start=1):
        log(f"[{number}/{len(STEPS)}] {name}")
        said = steps[name](options, log)
        if said:
            log(f"      {said}")


# --- the steps ---------------------------------------------------------------------------------


def _packages(o: Options, log: Log) -> str | None:
    wanted = [*PACKAGES, *(["certbot"] if o.email else [])]
    missing = [p for p in wanted if not _installed(p)]
    if not missing:
        return "already installed"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    _cmd(["apt-get", "update", "-qq"], env=env)
    _cmd(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    return f"installed {' '.join(missing)}"


def _installed(package: str) -> bool:
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True,
                          text=True)
    return done.returncode == 0 and done.stdout.endswith(" installed")


def _user(o: Options, log: Log) -> str | None:
    try:
        entry = pwd.getpwnam(o.user)
    except KeyError:
        _cmd(["adduser", "--system", "--group", "--home", str(o.root),
              "--shell", "/usr/bin/git-shell", o.user])
        return f"created {o.user} (home {o.root}, shell git-shell)"
    if Path(entry.pw_dir) != o.root:
        raise SetupError(f"user {o.user} exists with home {entry.pw_dir}, not {o.root}: pick "
                         "another --user, or --root that home")
    return "already there"


def _ssh_key(o: Options, log: Log) -> str | None:
    keys = o.root / ".ssh" / "authorized_keys"
    if not o.ssh_key:
        return f"no --ssh-key: add your public key to {keys} before you push"
    entry = pwd.getpwnam(o.user)
    keys.parent.mkdir(mode=0o700, exist_ok=True)
    present = keys.read_text().splitlines() if keys.exists() else []
    if o.ssh_key in present:
        return "already there"
    with keys.open("a") as f:
        f.write(o.ssh_key + "\n")
    for path, mode in ((keys.parent, 0o700), (keys, 0o600)):
        os.chown(path, entry.pw_uid, entry.pw_gid)
        path.chmod(mode)
    return f"added to {keys}"


def _sudo(o: Options, log: Log) -> str | None:
    rule = f"{o.user} ALL=(root) NOPASSWD: /usr/bin/systemctl restart inkwell.service\n"
    if SUDOERS.exists() and SUDOERS.read_text() == rule:
        return "already there"
    with tempfile.NamedTemporaryFile("w", dir=SUDOERS.parent, delete=False) as f:
        f.write(rule)
    staged = Path(f.name)
    staged.chmod(0o440)
    try:
        _cmd(["visudo", "-c", "-q", "-f", str(staged)])  # a broken file would lock sudo out
        staged.rename(SUDOERS)
    finally:
        staged.unlink(missing_ok=True)
    return f"{SUDOERS}: {rule.strip()}"


def _tools(o: Options, log: Log) -> str | None:
    if _as_user(o, [o.inkwell, "deploy", "--help"], check=False).returncode == 0:
        return f"already installed in {o.tools}"
    source = o.tools / "src"
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(o.source), "archive", "HEAD"],
                               stdout=subprocess.PIPE)
    _cmd(["tar", "-x", "-C", str(source)], stdin=archive.stdout)
    if archive.wait() != 0:
        raise SetupError(f"git archive HEAD failed in {o.source}")
    _cmd(["chown", "-R", f"{o.user}:{o.user}", str(o.tools)])
    python = str(o.tools / "bin" / "python")
    _as_user(o, ["python3", "-m", "venv", str(o.tools)])
    _as_user(o, [python, "-m", "pip", "install", "-q", "--require-hashes", "-r",
                 str(source / "requirements.lock")])
    _as_user(o, [python, "-m", "pip", "install", "-q", "--no-deps", str(source)])
    return f"installed in {o.tools}"


def _deploy_root(o: Options, log: Log) -> str | None:
    done = _as_user(o, [o.inkwell, "deploy", "init", "--root", str(o.root), "--site-url",
                        o.site_url, "--branch", o.branch])
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else None


def _files(o: Options, log: Log) -> str | None:
    env_file = o.layout.env_file
    values = _env_values(env_file)
    cert = values.get("TLS_CERT", "")
    if not cert or not Path(cert).exists():
        # nginx refuses a site whose certificate is missing: Debian's self-signed one stands in
        # until certbot has the real one (step 9).
        if not all(Path(p).exists() for p in SNAKEOIL):
            make = shutil.which("make-ssl-cert") or "/usr/sbin/make-ssl-cert"  # ssl-cert
            _cmd([make, "generate-default-snakeoil", "--force-overwrite"])
        _set_env(env_file, {"TLS_CERT": SNAKEOIL[0], "TLS_KEY": SNAKEOIL[1]})
    _as_user(o, [o.inkwell, "deploy", "render", "--out", "deploy"], cwd=o.layout.shared)
    site = o.layout.shared / "deploy" / "nginx" / "inkwell.conf"
    Path("/var/cache/nginx").mkdir(exist_ok=True)  # Debian's nginx has none; the cache goes in it
    from .nginx import check_site

    problem = check_site(site)
    if problem:
        raise SetupError(f"nginx -t refuses {site}:\n{problem}")
    return f"rendered into {site.parent.parent}; nginx -t accepts the site"


def _nginx(o: Options, log: Log) -> str | None:
    deploy = o.layout.shared / "deploy"
    media = Path(_env_values(o.layout.env_file).get("MEDIA_ROOT") or o.layout.instance / "media")
    media.mkdir(parents=True, exist_ok=True)
    for folder in {o.layout.instance, media}:
        _cmd(["chown", "-R", f"{o.user}:www-data", str(folder)])
        folder.chmod(0o2770)  # the service (group www-data) writes; nginx reads media
    if NGINX_SITE.is_symlink() or NGINX_SITE.exists():
        NGINX_SITE.unlink()
    NGINX_SITE.symlink_to(deploy / "nginx" / "inkwell.conf")
    _cmd(["nginx", "-t", "-q"])
    _cmd(["systemctl", "reload-or-restart", "nginx"])
    return f"{NGINX_SITE} -> {deploy / 'nginx' / 'inkwell.conf'}"


def _certificate(o: Options, log: Log) -> str | None:
    if not o.email:
        return "skipped (--no-certificate): the site keeps the self-signed certificate"
    values = _env_values(o.layout.env_file)
    domain = values.get("DOMAIN") or ""
    live = Path("/etc/letsencrypt/live") / domain
    if not (live / "fullchain.pem").exists():
        _cmd(["certbot", "certonly", "--webroot", "-w", "/var/www/html", "-d", domain,
              "--email", o.email, "--agree-tos", "--non-interactive",
              "--deploy-hook", "systemctl reload nginx"])
    _set_env(o.layout.env_file, {"TLS_CERT": str(live / "fullchain.pem"),
                                 "TLS_KEY": str(live / "privkey.pem")})
    _files(o, log)
    _cmd(["nginx", "-t", "-q"])
    _cmd(["systemctl", "reload", "nginx"])
    return f"{live}; renewed by certbot's timer"


def _service(o: Options, log: Log) -> str | None:
    units = o.layout.shared / "deploy" / "systemd"
    for name in ("inkwell.service", "inkwell.socket"):
        shutil.copyfile(units / name, SYSTEMD_DIR / name)
    _cmd(["systemctl", "daemon-reload"])
    _cmd(["systemctl", "enable", "inkwell.service"])
    _cmd(["systemctl", "enable", "--now", "inkwell.socket"])
    return "inkwell.socket listening; inkwell.service starts with the first release"


def _first_release(o: Options, log: Log) -> str | None:
    if o.layout.current_release() is not None:
        return f"{o.layout.current_release().name} runs: push to deploy the next ones"
    # The checkout may be where that user cannot read (a 0700 home): hand it over as a bundle.
    with tempfile.TemporaryDirectory(prefix="inkwell-setup-") as tmp:
        bundle = Path(tmp) / "head.bundle"
        _cmd(["git", "-C", str(o.source), "bundle", "create", str(bundle), "HEAD"])
        os.chmod(tmp, 0o755)
        bundle.chmod(0o644)
        work = o.root / "tools" / "first-push"
        shutil.rmtree(work, ignore_errors=True)
        _as_user(o, ["git", "clone", "-q", str(bundle), str(work)])
        done = _as_user(o, ["git", "-C", str(work), "push", str(o.layout.repo),
                            f"HEAD:refs/heads/{o.branch}"])
        shutil.rmtree(work, ignore_errors=True)
    for line in done.stderr.splitlines():
        log(f"      {line}")
    return None


# --- helpers -----------------------------------------------------------------------------------


def _cmd(argv: list[str], env: dict | None = None, stdin=None, cwd: Path | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, env=env, stdin=stdin, cwd=cwd, capture_output=True,
                              text=True, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SetupError(f"{shlex.join(argv)}: {e}") from None
    if check and done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise SetupError(f"{shlex.join(argv)} failed:\n{tail}")
    return done


def _as_user(o: Options, argv: list[str], cwd: Path | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    """`argv` as the site's user, with its home and a plain PATH (none of root's settings)."""
    env = {"HOME": str(o.root), "PATH": "/usr/local/bin:/usr/bin:/bin",
           "LANG": os.environ.get("LANG", "C.UTF-8")}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONFIG_FILE"):
        if name in os.environ:  # how this machine reaches its package index
            env[name] = os.environ[name]
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"  # util-linux, in /usr/sbin
    return _cmd([runuser, "-u", o.user, "--", *argv], env=env, cwd=cwd or o.root,
                check=check)


def _env_values(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v or "" for k, v in dotenv_values(path).items()}


def _set_env(path: Path, values: dict[str, str]) -> None:
    """Set KEY=value lines in a .env file in place (mode and owner kept)."""
    lines = path.read_text().splitlines()
    for key, value in values.items():
        line = f"{key}={value}"
        found = [i for i, text in enumerate(lines) if text.startswith(f"{key}=")]
        if found:
            lines[found[0]] = line
        else:
            lines.append(line)
    path.write_text("\n".join(lines) + "\n")


def default_source() -> Path | None:
    """The checkout this inkwell runs from, when it is an editable install of one."""
    here = Path(__file__).resolve().parents[3]
    return here if (here / ".git").exists() and (here / "pyproject.toml").exists() else None

