"""uWSGI: the ini and systemd unit for those who run Inkwell under uWSGI instead of gunicorn,
on a unix socket shared with nginx (`uwsgi_pass`, see nginx.render_site(uwsgi=True)), the
checks made on them, and a small client of the uwsgi protocol for probing that socket.

uWSGI is Debian's (`apt install uwsgi uwsgi-plugin-python3`, see docs/uwsgi.md): its python3
plugin embeds Debian's /usr/bin/python3, so the venv it loads must be built by that Python
(`venv_for_uwsgi`).
"""

from __future__ import annotations

import configparser
import fcntl
import grp
import hashlib
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path

from ..config import ConfigError
from . import gunicorn
from .render import render_template
from .settings import DeploySettings

INI_FILE = "inkwell.ini"
UNIT_FILE = "inkwell-uwsgi.service"
REQUIRED = ("need-plugin", "module", "master", "processes", "socket", "chmod-socket",
            "chown-socket", "die-on-term", "need-app")
APP_MODULE = "inkwell.deploy.uwsgi_app:app"
DEBIAN_UWSGI = Path("/usr/bin/uwsgi")
DEBIAN_PYTHON = Path("/usr/bin/python3")
# uWSGI refuses a unix socket path longer than 102 bytes ("invalid socket name"); nginx's limit
# (sun_path, 108 with its NUL) is looser.
SOCKET_PATH_MAX = 102
# What nginx's config or the ini would read as something else.
_SOCKET_PATH_UNSAFE = re.compile(r"[\s;{}#'\"$\\]")
_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# nginx sends up to 4 x 8k of request headers (large_client_header_buffers): uWSGI's buffer
# must hold them, or a reader with big cookies gets a 502 ("invalid request block size").
BUFFER_SIZE = 32768
# Connections waiting for a worker: as long as inkwell.socket's Backlog. uWSGI's default, 100,
# is a 502 for the 101st at once ("Resource temporarily unavailable"); the kernel caps it at
# net.core.somaxconn, and uWSGI refuses to start above that.
LISTEN_QUEUE = 2048
SOMAXCONN = Path("/proc/sys/net/core/somaxconn")


def listen_queue() -> int:
    try:
        return min(LISTEN_QUEUE, int(SOMAXCONN.read_text()))
    except (OSError, ValueError):
        return 128


def uwsgi_binary() -> str | None:
    return shutil.which("uwsgi") or (str(DEBIAN_UWSGI) if DEBIAN_UWSGI.exists() else None)


# --- the settings uWSGI and nginx must agree on ----------------------------------------------


def check_socket_path(path: Path, setting: str = "INKWELL_UWSGI_SOCKET") -> None:
    """Refuse a socket path uWSGI or nginx cannot use, naming the setting."""
    text = str(path)
    if not path.is_absolute():
        raise ConfigError(f"{setting} must be an absolute path such as /run/inkwell/uwsgi.sock, "
                          f"got {text!r}")
    if _SOCKET_PATH_UNSAFE.search(text):
        raise ConfigError(f"{setting} may not contain spaces or any of ;{{}}#'\"$\\ (nginx's "
                          f"config and uWSGI's ini would misread it), got {text!r}")
    if len(text.encode()) > SOCKET_PATH_MAX:
        raise ConfigError(
            f"{setting} is {len(text.encode())} bytes long; a unix socket path may have at "
            f"most {SOCKET_PATH_MAX} for uWSGI (nginx: 107): choose a shorter one, e.g. "
            "/run/inkwell/uwsgi.sock")


def check_reachable(path: Path, web_group: str, setting: str = "INKWELL_UWSGI_SOCKET") -> None:
    """Refuse a socket nginx's group could not reach: every folder above it that exists on
    this machine must let `web_group` pass (x for others, for that group, or for the user of
    that name, www-data, when it owns the folder)."""
    try:
        gid = grp.getgrnam(web_group).gr_gid
    except KeyError:
        return  # rendered elsewhere than it runs: nothing to look at here
    for folder in path.parents:
        try:
            info = folder.stat()
        except OSError:
            continue
        if info.st_mode & stat.S_IXOTH:
            continue
        if info.st_mode & stat.S_IXGRP and info.st_gid == gid:
            continue
        if info.st_mode & stat.S_IXUSR and _user_name(info.st_uid) == web_group:
            continue
        raise ConfigError(
            f"{setting}={path}: nginx's group {web_group} may not pass through {folder} "
            f"(mode {stat.S_IMODE(info.st_mode):o}), so every page would be a 502: put the "
            "socket under /run/inkwell (the unit's RuntimeDirectory)")


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def check_names(settings: DeploySettings) -> None:
    for setting, name in (("INKWELL_USER", settings.user),
                          ("the web server's group", settings.web_group)):
        if not _NAME.match(name):
            raise ConfigError(f"{setting} must be a plain user or group name such as inkwell, "
                              f"got {name!r}")


# --- rendering --------------------------------------------------------------------------------


def render_ini(settings: DeploySettings, ini_path: Path, venv: Path | None = None,
               environ: dict[str, str] | None = None) -> str:
    """The ini for `uwsgi --ini`. `venv` (default: the settings' venv) must be made by the
    Python uWSGI embeds; workers are counted from `environ` (default os.environ) as
    gunicorn counts them."""
    check_socket_path(settings.uwsgi_socket)
    check_names(settings)
    check_reachable(settings.uwsgi_socket, settings.web_group)
    return render_template(
        INI_FILE,
        s=settings,
        ini=ini_path,
        uwsgi=uwsgi_binary() or DEBIAN_UWSGI,
        venv=venv or settings.venv_bin.parent,
        app_module=APP_MODULE,
        workers=gunicorn.workers_from_env(os.environ if environ is None else environ),
        threads=gunicorn.THREADS,
        timeout=gunicorn.TIMEOUT,
        graceful_timeout=gunicorn.GRACEFUL_TIMEOUT,
        max_requests=gunicorn.MAX_REQUESTS,
        buffer_size=BUFFER_SIZE,
        listen=listen_queue(),
    )


def render_unit(settings: DeploySettings, ini_path: Path) -> str:
    """inkwell-uwsgi.service: uWSGI as INKWELL_USER with nginx's group, sandboxed as
    gunicorn's inkwell.service is."""
    from . import systemd

    check_socket_path(settings.uwsgi_socket)
    run = settings.uwsgi_socket.parent
    return render_template(
        UNIT_FILE, s=settings, ini=ini_path, uwsgi=uwsgi_binary() or DEBIAN_UWSGI,
        stop_timeout=systemd.stop_timeout(),
        writable=sorted({str(settings.instance_path), str(settings.media_root)}),
        runtime_dir=run.name if run.parent == Path("/run") else None,
    )


def read_ini(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.read_string(path.read_text(), source=str(path))
    return dict(parser["uwsgi"])


def check(path: Path, settings: DeploySettings) -> str | None:
    """Problems with the ini: unparsable, missing options, or out of step with the settings;
    and, where Debian's uWSGI is installed, whether it loads the file."""
    try:
        values = read_ini(path)
    except (configparser.Error, KeyError, OSError) as e:
        return f"{path} is not a valid uWSGI ini: {e}"
    problems = [f"missing option {name}" for name in REQUIRED if name not in values]
    if values.get("socket") != str(settings.uwsgi_socket):
        problems.append(f"socket {values.get('socket')} is not {settings.uwsgi_socket} (nginx)")
    if values.get("limit-post") != str(settings.upload_limit):
        problems.append("limit-post differs from MAX_UPLOAD_SIZE")
    if values.get("module") != APP_MODULE:
        problems.append(f"module is not {APP_MODULE}")
    if not values.get("processes", "").isdigit():
        problems.append("processes is not a number")
    binary = uwsgi_binary()
    if not problems and binary:
        # --exit=0: uWSGI reads the ini (strict = true refuses an unknown option, need-plugin a
        # missing plugin) and exits with 0 before starting anything.
        done = subprocess.run([binary, "--ini", str(path), "--exit=0"], capture_output=True,
                              text=True, timeout=60)
        if done.returncode != 0:
            problems.append(f"uWSGI refuses it: {(done.stdout + done.stderr).strip()[-500:]}")
    return "; ".join(problems) or None


# --- the Python uWSGI embeds ------------------------------------------------------------------


def embedded_python(binary: str | None = None) -> str | None:
    """The version of the Python uWSGI's python3 plugin embeds (3.11.2), None without uWSGI."""
    binary = binary or uwsgi_binary()
    if binary is None:
        return None
    done = subprocess.run([binary, "--need-plugin", "python3", "--python-version"],
                          capture_output=True, text=True, timeout=30)
    version = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
    return version[0] if version else None


def _python_version(python: Path) -> str:
    done = subprocess.run([str(python), "-c", "import platform; print(platform.python_version())"],
                          capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.strip()


def venv_for_uwsgi(project_venv: Path, source: Path, say=print) -> Path:
    """A venv uWSGI can load: `project_venv` when its Python is the one uWSGI embeds, otherwise
    a copy built by that Python (Debian's /usr/bin/python3) from the same lock files, kept in
    `project_venv`/debian-python and rebuilt when the lock files change.

    Mixing them works by accident at best: Debian's 3.11.2 core would run another build's
    standard library and compiled modules."""
    wanted = embedded_python()
    if wanted is None:
        raise ConfigError("uWSGI is not installed: sudo apt install uwsgi uwsgi-plugin-python3")
    if _python_version(project_venv / "bin" / "python") == wanted:
        return project_venv
    if not DEBIAN_PYTHON.exists() or _python_version(DEBIAN_PYTHON) != wanted:
        raise ConfigError(f"uWSGI embeds Python {wanted}, and neither {project_venv} nor "
                          f"{DEBIAN_PYTHON} is that Python: install uwsgi-plugin-python3 for "
                          "this system's python3")
    locks = [source / "requirements.lock", source / "requirements-build.lock"]
    stamp = hashlib.sha256(wanted.encode() + b"".join(p.read_bytes() for p in locks)).hexdigest()
    target = project_venv / "debian-python"
    done_file = target / f".installed-{stamp[:16]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(project_venv / ".debian-python.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time (parallel tests, two stacks)
        if done_file.exists():
            return target
        say(f"Building {target} with {DEBIAN_PYTHON} (Python {wanted}, the one uWSGI embeds) "
            "from the lock files; once per lock change, about a minute...")
        shutil.rmtree(target, ignore_errors=True)
        pip = [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        for step in ([str(DEBIAN_PYTHON), "-m", "venv", str(target)],
                     [*pip, "--require-hashes", *(a for p in locks for a in ("-r", str(p)))],
                     [*pip, "--no-deps", "--no-build-isolation", "-e", str(source)]):
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                shutil.rmtree(target, ignore_errors=True)
                raise ConfigError(f"building {target} failed at `{' '.join(step[:4])} ...`: "
                                  f"{(done.stdout + done.stderr).strip()[-800:]} (python3-venv "
                                  "must be installed: sudo apt install python3-venv)")
        done_file.touch()
    return target


# --- the uwsgi protocol, to ask the socket for a page as nginx does ---------------------------


def _packet(variables: dict[str, str]) -> bytes:
    body = b"".join(len(k.encode()).to_bytes(2, "little") + k.encode() +
                    len(v.encode()).to_bytes(2, "little") + v.encode()
                    for k, v in variables.items())
    return b"\x00" + len(body).to_bytes(2, "little") + b"\x00" + body


def get(socket_path: str, path: str, host: str, timeout: float) -> tuple[int, bytes, float]:
    """(status, body, seconds) of GET `path` asked over uWSGI's socket as nginx asks it.
    Raises FileNotFoundError, ConnectionRefusedError, PermissionError, TimeoutError as
    connect() does."""
    target, _, query = path.partition("?")
    variables = {"REQUEST_METHOD": "GET", "REQUEST_URI": path, "PATH_INFO": target,
                 "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": host,
                 "SERVER_PORT": "443", "HTTPS": "on", "REMOTE_ADDR": "127.0.0.1",
                 "HTTP_HOST": host, "HTTP_X_FORWARDED_PROTO": "https"}
    started = time.monotonic()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(socket_path)
        conn.sendall(_packet(variables))
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    match = re.match(rb"HTTP/\d\.\d (\d{3})", head)
    if not match:
        raise ConnectionResetError(f"no HTTP answer from {socket_path} ({len(answer)} bytes)")
    return int(match.group(1)), body, time.monotonic() - started


def wait_ready(socket_path: Path, host: str, proc: subprocess.Popen, log: Path,
               timeout: float = 60) -> None:
    """Until uWSGI at `socket_path` answers /healthz with 200; ConfigError if it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ConfigError(f"uWSGI exited with status {proc.returncode} while starting\n{tail}")
        try:
            if get(str(socket_path), "/healthz", host, 10)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise ConfigError(f"uWSGI did not answer /healthz on {socket_path} within {timeout:.0f} s")


def doctor(settings: DeploySettings) -> list[str]:
    """Notes on this machine's uWSGI (only needed for the uWSGI variant)."""
    binary = uwsgi_binary()
    if binary is None:
        return ["uwsgi is not installed (only needed for the uWSGI variant): "
                "sudo apt install uwsgi uwsgi-plugin-python3"]
    wanted = embedded_python(binary)
    if wanted is None:
        return ["uWSGI has no python3 plugin: sudo apt install uwsgi-plugin-python3"]
    python = settings.venv_bin / "python"
    have = _python_version(python) if python.exists() else None
    if have not in (None, wanted):
        return [f"uWSGI embeds Python {wanted} but {settings.venv_bin.parent} is Python "
                f"{have}: uWSGI needs a venv made by {DEBIAN_PYTHON} (docs/uwsgi.md)"]
    return []


def current_user_and_group() -> tuple[str, str]:
    """(user, primary group) of this process: who uWSGI runs as under `make stack`."""
    return _user_name(os.geteuid()), grp.getgrgid(os.getegid()).gr_name


def running(ini: Path) -> list[int]:
    """PIDs of uWSGI processes started with this ini (a master and its workers)."""
    wanted = str(ini).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and Path(argv[0].decode(errors="replace")).name.startswith("uwsgi") \
                and wanted in argv:
            pids.append(int(proc.name))
    return pids

