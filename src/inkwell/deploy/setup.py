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
 7. files          every deploy file rendered by this (root's) Inkwell into /etc/inkwell, where
                   the site's user cannot change what root's nginx and systemd load (a
                   self-signed certificate stands in until step 12), checked by nginx -t
 8. nginx          the site enabled, its cache and media folders made, nginx -t, reload
 9. firewall       when ufw is active: ports 80 and 443 opened (ssh is left as it is)
10. service        inkwell.service and inkwell.socket installed and enabled
11. first release  this checkout's HEAD pushed to repo.git as that user: built, started and
                   checked like every later push
12. certificate    certbot --webroot (Let's Encrypt, or --acme-server), then the site rendered
                   for the real certificate. Last, so that when the name does not point here
                   yet or the ACME server refuses, the site is up on the self-signed one and
                   running setup again after the fix gets the certificate.

`--until STEP` stops after a step (e.g. `files`, to read what would be installed first).

Root never writes through a path the site's user controls: what goes into the user's folders
(its ssh key, .env edits, the tools install) is written as that user, and the files root's
services load are rendered into root's /etc/inkwell.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import envfile, venvs
from .releases import DEFAULT_ROOT, Layout, output_tail

PACKAGES = ("nginx", "git", "python3-venv", "sudo", "ssl-cert")
SNAKEOIL = ("/etc/ssl/certs/ssl-cert-snakeoil.pem", "/etc/ssl/private/ssl-cert-snakeoil.key")
SUDOERS = Path("/etc/sudoers.d/inkwell-deploy")
RENDERED = Path("/etc/inkwell")
NGINX_SITE = Path("/etc/nginx/sites-enabled/inkwell.conf")
ACME_CA = RENDERED / "acme-ca.pem"  # --acme-ca-bundle, kept for renewals
CERTBOT_DROP_IN = Path("/etc/systemd/system/certbot.service.d/inkwell-acme-ca.conf")
WEB_PORTS = ("80/tcp", "443/tcp")
SYSTEMD_DIR = Path("/etc/systemd/system")


class SetupError(Exception):
    """A step that failed; the message names it and what to do."""


@dataclass(frozen=True)
class Options:
    site_url: str
    source: Path
    root: Path = DEFAULT_ROOT
    user: str = "inkwell"
    branch: str = "main"
    email: str | None = None  # None: no certificate (keep the self-signed one)
    ssh_key: str | None = None  # the public key's text
    acme_server: str | None = None  # an ACME directory URL; None: Let's Encrypt
    acme_ca_bundle: Path | None = None  # the CA that ACME server's HTTPS certificate is from

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
    last = STEPS.index(until)
    if last >= STEPS.index("nginx") and not Path("/run/systemd/system").is_dir():
        raise SetupError("systemd is not running on this machine (a container?): setup installs "
                         "systemd services. --until files prepares everything before that; "
                         "docs/compose.md runs Inkwell in containers")
    for number, name in enumerate(STEPS[: last + 1], start=1):
        log(f"[{number}/{len(STEPS)}] {name}")
        said = _STEPS[name](options, log)
        if said:
            log(f"      {said}")


# --- the steps ---------------------------------------------------------------------------------


def _packages(o: Options, log: Log) -> str | None:
    wanted = [*PACKAGES, *(["certbot"] if o.email else [])]
    missing = [p for p in wanted if not _installed(p)]
    if not missing:
        return "already installed"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", "DPkg::Lock::Timeout=600"]  # a new VM's first unattended-upgrades holds it
    _cmd(["apt-get", *wait, "update", "-qq"], env=env)
    _cmd(["apt-get", *wait, "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    return f"installed {' '.join(missing)}"


def _installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        raise SetupError("dpkg is not here: setup is for Debian and Ubuntu servers")
    done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True,
                          text=True)
    return done.returncode == 0 and done.stdout.endswith(" installed")


def _user(o: Options, log: Log) -> str | None:
    try:
        entry = pwd.getpwnam(o.user)
    except KeyError:
        if o.root.exists() and any(o.root.iterdir()):
            raise SetupError(f"{o.root} exists and is not empty: give a new --root") from None
        _cmd(["adduser", "--system", "--group", "--home", str(o.root),
              "--shell", "/usr/bin/git-shell", o.user])
        entry = pwd.getpwnam(o.user)
        said = f"created {o.user} (home {o.root}, shell git-shell)"
    else:
        if Path(entry.pw_dir) != o.root:
            raise SetupError(f"user {o.user} exists with home {entry.pw_dir}, not {o.root}: "
                             "pick another --user, or --root that home")
        said = "already there"
    # Its own, and open to nginx (www-data reads static files and media below it), whatever
    # adduser's SYS_DIR_MODE is on this machine.
    _cmd(["chown", f"{o.user}:{o.user}", str(o.root)])
    o.root.chmod(0o755)
    return said


def _ssh_key(o: Options, log: Log) -> str | None:
    keys = o.root / ".ssh" / "authorized_keys"
    if not o.ssh_key:
        return f"no --ssh-key: add your public key to {keys} before you push"
    # As the user: its folder, its permissions (root would follow a link it planted).
    script = ('umask 077; mkdir -p "$HOME/.ssh"; f="$HOME/.ssh/authorized_keys"; touch "$f"; '
              'key=$(cat); grep -qxF "$key" "$f" && exit 3; '
              '[ -s "$f" ] && [ -n "$(tail -c1 "$f")" ] && echo >> "$f"; '
              'printf "%s\\n" "$key" >> "$f"')
    done = _as_user(o, ["sh", "-c", script], check=False, input=o.ssh_key)
    if done.returncode == 3:
        return "already there"
    if done.returncode != 0:
        raise SetupError(f"could not add the key to {keys}: {done.stderr.strip()}")
    return f"added to {keys}"


def _sudo(o: Options, log: Log) -> str | None:
    rule = f"{o.user} ALL=(root) NOPASSWD: /usr/bin/systemctl restart inkwell.service\n"
    if SUDOERS.exists() and SUDOERS.read_text() == rule:
        return "already there"
    # sudo skips files in sudoers.d whose names hold a dot: the unchecked one is never read.
    with tempfile.NamedTemporaryFile("w", dir=SUDOERS.parent, prefix=".inkwell-",
                                     delete=False) as f:
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
    shutil.rmtree(o.tools, ignore_errors=True)  # an install cut short: start again
    source = Path(tempfile.mkdtemp(prefix=".tools-src-", dir=o.root))
    try:
        archive = subprocess.Popen(_git(o, "archive", "HEAD"), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        _cmd(["tar", "-x", "-C", str(source)], stdin=archive.stdout)
        if archive.wait() != 0:
            raise SetupError(f"git archive HEAD failed in {o.source}: "
                             f"{archive.stderr.read().decode(errors='replace').strip()}")
        # The venv running this setup (the guide's) with exactly the pins of HEAD's lock files:
        # a copy of it saves a whole `pip install -r` (5 min on a 1 GiB server), and every
        # release with the same lock files is then a copy too (releases.py).
        python3 = shutil.which("python3", path=USER_PATH) or "/usr/bin/python3"
        mine = venvs.running_venv_with_pins(source, Path(python3))
        if mine is not None:
            venvs.clone(mine, o.tools, link=False)  # root's files, copied: chowned below
        else:
            o.tools.mkdir()
        source.rename(o.tools / "src")
    finally:
        shutil.rmtree(source, ignore_errors=True)
    source = o.tools / "src"
    _cmd(["chown", "-R", f"{o.user}:{o.user}", str(o.tools)])
    python = str(o.tools / "bin" / "python")
    if mine is None:
        _as_user(o, ["python3", "-m", "venv", str(o.tools)])
        _as_user(o, [python, "-m", "pip", "install", "-q", "--require-hashes", "-r",
                     str(source / "requirements.lock"), "-r",
                     str(source / "requirements-build.lock")])
    _as_user(o, [python, "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
                 "--no-build-isolation", str(source)])
    # Which lock files it holds, so that the first release is a copy of it (written last).
    _as_user(o, ["tee", str(o.tools / venvs.MARK)], input=venvs.lock_key(source) + "\n")
    how = f"copied from {mine} (the same pins)" if mine is not None else "pip"
    return f"installed in {o.tools} ({how})"


def _deploy_root(o: Options, log: Log) -> str | None:
    done = _as_user(o, [o.inkwell, "deploy", "init", "--root", str(o.root), "--site-url",
                        o.site_url, "--branch", o.branch])
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else None


def _files(o: Options, log: Log) -> str | None:
    values = envfile.values(o.layout.env_file)
    changes = {"INKWELL_USER": o.user} if values.get("INKWELL_USER") != o.user else {}
    if not values.get("STATIC_STORE"):  # a deploy root made before the store existed
        changes["STATIC_STORE"] = str(o.layout.static_store)
    cert = values.get("TLS_CERT", "")
    if not cert or not Path(cert).exists():
        # nginx refuses a site whose certificate is missing: Debian's self-signed one stands in
        # until certbot has the real one (step 9).
        if not all(Path(p).exists() for p in SNAKEOIL):
            make = shutil.which("make-ssl-cert") or "/usr/sbin/make-ssl-cert"  # ssl-cert
            _cmd([make, "generate-default-snakeoil", "--force-overwrite"])
        changes.update({"TLS_CERT": SNAKEOIL[0], "TLS_KEY": SNAKEOIL[1]})
    if changes:
        _set_env(o, changes)
    site = _render(o)
    Path("/var/cache/nginx").mkdir(exist_ok=True)  # Debian's nginx has none; the cache goes in it
    from .nginx import check_site

    problem = check_site(site)
    if problem:
        raise SetupError(f"nginx -t refuses {site}:\n{problem}")
    return f"rendered into {RENDERED}; nginx -t accepts the site"


def _render(o: Options) -> Path:
    """Every deploy file from shared/.env, by this process's own (root's) Inkwell, into
    /etc/inkwell: root-owned, so the site's user (whose pushed code runs as it) cannot change
    what root's nginx and systemd load. Static files: those of the release `current` names."""
    from .cli import render_all
    from .settings import from_env

    settings = from_env({**envfile.values(o.layout.env_file), "INKWELL_USER": o.user})
    RENDERED.mkdir(mode=0o755, exist_ok=True)
    render_all(settings, RENDERED)
    return RENDERED / "nginx" / "inkwell.conf"


def _nginx(o: Options, log: Log) -> str | None:
    site = RENDERED / "nginx" / "inkwell.conf"
    media = Path(envfile.values(o.layout.env_file).get("MEDIA_ROOT") or o.layout.instance / "media")
    for folder in (o.layout.instance, media):
        if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
            raise SetupError(f"{folder} is not a folder: put one there")
        folder.mkdir(parents=True, exist_ok=True)
        # The service writes as its user; nginx (www-data) only reads media, so no group write.
        _cmd(["chown", "--no-dereference", f"{o.user}:www-data", str(folder)])
        folder.chmod(0o2750)
    if NGINX_SITE.is_symlink() or NGINX_SITE.exists():
        NGINX_SITE.unlink()
    NGINX_SITE.symlink_to(site)
    tested = _cmd(["nginx", "-t", "-q"], check=False)
    if tested.returncode != 0:
        NGINX_SITE.unlink()  # not left enabled: every later reload, and boot, would fail
        raise SetupError(f"nginx -t failed with the site enabled (now disabled again):\n"
                         f"{(tested.stdout + tested.stderr).strip()}")
    _cmd(["systemctl", "reload-or-restart", "nginx"])
    return f"{NGINX_SITE} -> {site}"


def _firewall(o: Options, log: Log) -> str | None:
    ufw = shutil.which("ufw") or "/usr/sbin/ufw"
    cloud = "a cloud provider's security list is not on this machine: open 80 and 443 there"
    if not Path(ufw).exists():
        return f"no ufw on this machine; {cloud} (docs/vps.md)"
    if "Status: active" not in _cmd([ufw, "status"]).stdout:
        return f"ufw is not active: nothing to open here; {cloud} (docs/vps.md)"
    for port in WEB_PORTS:
        _cmd([ufw, "allow", port])
    return f"ufw: allowed {' and '.join(WEB_PORTS)} (HTTP, HTTPS); {cloud} (docs/vps.md)"


def _certificate(o: Options, log: Log) -> str | None:
    if not o.email:
        return "skipped (--no-certificate): the site keeps the self-signed certificate"
    values = envfile.values(o.layout.env_file)
    domain = values.get("DOMAIN") or ""
    live = Path("/etc/letsencrypt/live") / domain
    env = {**os.environ, **_acme_ca(o)}
    if not (live / "fullchain.pem").exists():
        server = ["--server", o.acme_server] if o.acme_server else []
        done = _cmd(["certbot", "certonly", "--webroot", "-w", "/var/www/html", "-d", domain,
                     *server, "--email", o.email, "--agree-tos", "--non-interactive",
                     "--deploy-hook", "systemctl reload nginx"], env=env, check=False)
        if done.returncode != 0:
            by = o.acme_server or "Let's Encrypt"
            raise SetupError(
                f"certbot got no certificate for {domain} from {by}:\n{output_tail(done)}\n"
                f"The site is up with the self-signed certificate. Check that {domain} points "
                "at this server and that ports 80 and 443 are open to the internet (ufw, the "
                "cloud provider's security list), then run this command again.")
    _set_env(o, {"TLS_CERT": str(live / "fullchain.pem"), "TLS_KEY": str(live / "privkey.pem")})
    _files(o, log)
    _cmd(["nginx", "-t", "-q"])
    _cmd(["systemctl", "reload", "nginx"])
    return f"{live}; renewed by certbot's timer"


def _acme_ca(o: Options) -> dict[str, str]:
    """REQUESTS_CA_BUNDLE for certbot when the ACME server's HTTPS is from another CA (a test
    server such as Pebble), copied to /etc/inkwell and set for certbot's renewal timer too."""
    if o.acme_ca_bundle is None:
        return {}
    try:
        RENDERED.mkdir(mode=0o755, exist_ok=True)
        shutil.copyfile(o.acme_ca_bundle, ACME_CA)
        CERTBOT_DROP_IN.parent.mkdir(parents=True, exist_ok=True)
        CERTBOT_DROP_IN.write_text(f"[Service]\nEnvironment=REQUESTS_CA_BUNDLE={ACME_CA}\n")
    except OSError as e:
        raise SetupError(f"could not keep the ACME CA bundle in {ACME_CA}: {e}") from None
    _cmd(["systemctl", "daemon-reload"])
    return {"REQUESTS_CA_BUNDLE": str(ACME_CA)}


def _service(o: Options, log: Log) -> str | None:
    units = RENDERED / "systemd"
    for name in ("inkwell.service", "inkwell.socket"):
        try:
            shutil.copyfile(units / name, SYSTEMD_DIR / name)
        except OSError as e:
            raise SetupError(f"could not install {name}: {e}") from None
    _cmd(["systemctl", "daemon-reload"])
    # Enabled, not started: a request before the first release would start a service that
    # has nothing to run yet. The first release's restart starts both (Requires=).
    _cmd(["systemctl", "enable", "inkwell.service", "inkwell.socket"])
    return "enabled; both start with the first release"


def _first_release(o: Options, log: Log) -> str | None:
    running = o.layout.current_release()
    if running is not None:
        return f"{running.name} runs: push to deploy the next ones"
    # The checkout may be where that user cannot read (a 0700 home): hand it over as a bundle.
    with tempfile.TemporaryDirectory(prefix="inkwell-setup-") as tmp:
        bundle = Path(tmp) / "head.bundle"
        _cmd(_git(o, "bundle", "create", str(bundle), "HEAD"))
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


def _git(o: Options, *args: str) -> list[str]:
    """git in the checkout, also when root does not own it (git would call it dubious)."""
    return ["git", "-c", f"safe.directory={o.source}", "-C", str(o.source), *args]


def _cmd(argv: list[str], env: dict | None = None, stdin=None, cwd: Path | None = None,
         check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    try:
        done = subprocess.run(argv, env=env, stdin=stdin, cwd=cwd, capture_output=True,
                              text=True, timeout=1800, input=input)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise SetupError(f"{shlex.join(argv)}: {e}") from None
    if check and done.returncode != 0:
        raise SetupError(f"{shlex.join(argv)} failed:\n{output_tail(done)}")
    return done


USER_PATH = "/usr/local/bin:/usr/bin:/bin"


def _as_user(o: Options, argv: list[str], cwd: Path | None = None, check: bool = True,
             input: str | None = None) -> subprocess.CompletedProcess:
    """`argv` as the site's user, with its home and a plain PATH (none of root's settings)."""
    env = {"HOME": str(o.root), "PATH": USER_PATH,
           "LANG": os.environ.get("LANG", "C.UTF-8")}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONFIG_FILE", "HTTP_PROXY",
                 "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        if name in os.environ:  # how this machine reaches its package index
            env[name] = os.environ[name]
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"  # util-linux, in /usr/sbin
    return _cmd([runuser, "-u", o.user, "--", *argv], env=env, cwd=cwd or o.root,
                check=check, input=input)


_SET_ENV = """
import json, sys
from dotenv import set_key
for key, value in json.loads(sys.argv[2]).items():
    set_key(sys.argv[1], key, value, quote_mode="never")
"""


def _set_env(o: Options, values: dict[str, str]) -> None:
    """Set KEY=value lines in shared/.env, as the user (its file), with python-dotenv's
    set_key in the tools install (step 5): replaced in one rename, mode kept."""
    _as_user(o, [str(o.tools / "bin" / "python"), "-c", _SET_ENV, str(o.layout.env_file),
                 json.dumps(values)])


# In the order they run; `--until` names one.
_STEPS: dict[str, Callable[[Options, Log], str | None]] = {
    "packages": _packages, "user": _user, "ssh-key": _ssh_key, "sudo": _sudo, "tools": _tools,
    "deploy-root": _deploy_root, "files": _files, "nginx": _nginx, "firewall": _firewall,
    "service": _service, "first-release": _first_release, "certificate": _certificate,
}
STEPS = tuple(_STEPS)


def default_source() -> Path | None:
    """The checkout this inkwell runs from, when it is an editable install of one."""
    here = Path(__file__).resolve().parents[3]
    return here if (here / ".git").exists() and (here / "pyproject.toml").exists() else None

