"""`make stack`: the production topology on this machine, without root.

nginx (HTTP on 127.0.0.1:8080, HTTPS on 127.0.0.1:8443 with a certificate from a local CA made by
localca.py) -> gunicorn (gunicorn.conf.py) -> SQLite, or PostgreSQL when DATABASE_URL says so;
`server="uwsgi"`: Debian's uWSGI from the rendered ini on a unix socket instead (docs/uwsgi.md).
Everything it writes lives in one run folder (default instance/stack/). Tests and the benchmark
start the same `Stack` on free ports.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

from ..config import ConfigError, new_secret_key
from . import envfile, gunicorn, nginx, uwsgi
from .localca import CA_FILE, write_local_tls
from .settings import DeploySettings, from_env


def _secret_key(run_dir: Path) -> str:
    """A stable SECRET_KEY for the stack when .env has none (sessions survive restarts)."""
    path = run_dir / "secret-key"
    if not path.exists():
        envfile.write_private(path, new_secret_key())
    return path.read_text().strip()


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Put the held socket on fd 3, say so the way systemd does (sd_listen_fds), become gunicorn.
_HANDOFF = (
    "import os, sys\n"
    "held = int(os.environ.pop('INKWELL_HELD_FD'))\n"
    "os.dup2(held, 3)\n"
    "os.close(held) if held != 3 else None\n"
    "os.environ.update(LISTEN_FDS='1', LISTEN_PID=str(os.getpid()))\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def handed_over(held: socket.socket, command: list[str]) -> tuple[list[str], dict[str, str]]:
    """(argv, extra environment) that start `command` (gunicorn) on the listening socket `held`
    the way a systemd socket unit hands it over; run it with pass_fds=(held.fileno(),)."""
    return [sys.executable, "-c", _HANDOFF, *command], {"INKWELL_HELD_FD": str(held.fileno())}


def held_socket(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:`port` with a queue as long as inkwell.socket's."""
    held = socket.socket()
    held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    held.bind(("127.0.0.1", port))
    held.listen(2048)
    return held


@dataclass
class Stack:
    """nginx + gunicorn on loopback; `start()` / `stop()`, or use it as a context manager."""

    app_dir: Path
    run_dir: Path
    http_port: int = 8080
    https_port: int = 8443
    app_port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    # The environment to start from; default: .env in app_dir, then os.environ on top.
    base_env: dict[str, str] | None = None
    log_to_files: bool = False
    # Hold gunicorn's listening socket as the systemd socket unit does (inkwell.socket): while
    # gunicorn restarts, requests wait instead of being refused.
    hold_app_socket: bool = False
    # More than 1: that many gunicorns, each on its own port, behind nginx (APP_SERVERS), as
    # several app servers would be; they share this machine's database and media.
    app_servers: int = 1
    # "gunicorn", or "uwsgi": uWSGI from the rendered ini, nginx passing to its unix socket.
    server: str = "gunicorn"
    # nginx's workers run as this "user group" (as root; default: this process's user), e.g.
    # "www-data www-data" as on a server, where the socket's group decides who may connect.
    nginx_user: str | None = None
    env: dict[str, str] = field(init=False, default_factory=dict)
    settings: DeploySettings = field(init=False)
    _nginx: subprocess.Popen | None = field(init=False, default=None)
    _app: subprocess.Popen | None = field(init=False, default=None)
    _more_apps: list[subprocess.Popen] = field(init=False, default_factory=list)
    _more_ports: list[int] = field(init=False, default_factory=list)
    _held: socket.socket | None = field(init=False, default=None)
    _logs: list[IO] = field(init=False, default_factory=list)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.app_port}"

    @property
    def app_ports(self) -> list[int]:
        """Every gunicorn's port: app_port first."""
        return [self.app_port, *self._more_ports]

    @property
    def ca_file(self) -> Path:
        return self.run_dir / CA_FILE

    @property
    def app_log(self) -> Path:
        return self.run_dir / f"{self.server}.log"

    @property
    def uwsgi_ini(self) -> Path:
        return self.run_dir / uwsgi.INI_FILE

    def prepare(self) -> None:
        """Certificates, environment and rendered nginx/gunicorn configs; checked by nginx -t."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for port in (self.http_port, self.https_port):
            if not _port_is_free(port):
                raise ConfigError(
                    f"port {port} on 127.0.0.1 is in use: stop what uses it or run "
                    f"make stack STACK_HTTP_PORT=... STACK_HTTPS_PORT=..."
                )
        self.app_port = self.app_port or _free_port()
        if self.app_servers > 1 and self.hold_app_socket:
            raise ConfigError("a held app socket is for one gunicorn: use app_servers=1")
        if self.server not in ("gunicorn", "uwsgi"):
            raise ConfigError(f"STACK_SERVER must be gunicorn or uwsgi, got {self.server!r}")
        if self.server == "uwsgi" and (self.app_servers > 1 or self.hold_app_socket):
            raise ConfigError("uWSGI runs as one app server on its own socket: use "
                              "STACK_APP_SERVERS=1 (several app servers are gunicorn's)")
        while len(self._more_ports) < self.app_servers - 1:
            port = _free_port()
            if port != self.app_port and port not in self._more_ports:
                self._more_ports.append(port)
        _, cert, key = write_local_tls(self.run_dir, f"{self.http_url}/ca.crl")
        if self.base_env is not None:
            env = dict(self.base_env)
        else:
            env = envfile.values(self.app_dir / ".env")
            env.update(os.environ)
        env.update(
            {
                "INKWELL_ENV": "production",
                "SITE_URL": self.https_url,
                "TRUSTED_PROXIES": "1",
                "APP_BIND": f"127.0.0.1:{self.app_port}",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.pop("APP_SERVERS", None)  # a production .env's servers are not this stack's
        if self._more_ports:
            env["APP_SERVERS"] = ",".join(f"127.0.0.1:{p}" for p in self.app_ports)
        env.setdefault("INKWELL_INSTANCE_PATH", str(self.app_dir / "instance"))
        if len(env.get("SECRET_KEY", "")) < 32:
            env["SECRET_KEY"] = _secret_key(self.run_dir)
        env.update(self.extra_env)
        self.env = env
        self.settings = replace(
            from_env(env),
            domain="127.0.0.1",
            http_listen=(f"127.0.0.1:{self.http_port}",),
            https_listen=(f"127.0.0.1:{self.https_port}",),
            tls_cert=str(cert),
            tls_key=str(key),
            cache_dir=self.run_dir / "cache",
            acme_webroot=self.run_dir / "acme",
            app_dir=self.app_dir,
        )
        if self.nginx_user:
            self._files_for_nginx_user()
        if self.server == "uwsgi":
            self._prepare_uwsgi()
        unavailable = self.run_dir / nginx.UNAVAILABLE_FILE
        unavailable.write_text(nginx.render_unavailable_page(self.settings))
        site = self.run_dir / nginx.SITE_FILE
        site.write_text(nginx.render_site(self.settings, unavailable,
                                          uwsgi=self.server == "uwsgi"))
        main = self.run_dir / "nginx.conf"
        main.write_text(nginx.render_main(self.run_dir, site, user=self.nginx_user))
        (self.run_dir / gunicorn.CONF_FILE).write_text(gunicorn.render_conf())
        nginx.prepare_run_dir(self.run_dir)
        Path(self.settings.media_root).mkdir(parents=True, exist_ok=True)
        problem = nginx.check(main, self.run_dir)
        if problem:
            raise ConfigError(f"nginx does not accept the rendered config:\n{problem}")

    def _files_for_nginx_user(self) -> None:
        """nginx's workers run as another user, who may not enter a private checkout (a 403
        for every static file): they serve copies in the run folder instead."""
        static, plotly = self.run_dir / "static", self.run_dir / "plotly"
        for source, copy in ((self.settings.static_root, static),
                             (self.settings.plotly_root, plotly)):
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(source, copy)
        self.settings = replace(self.settings, static_root=static, plotly_root=plotly)

    def _prepare_uwsgi(self) -> None:
        """The ini, its socket in the run folder, owned by this user and nginx's group."""
        user, group = uwsgi.current_user_and_group()
        if self.nginx_user:
            group = self.nginx_user.split()[-1]
        socket_path = self.run_dir / "uwsgi.sock"
        uwsgi.check_socket_path(socket_path, "the stack's socket (a shorter --run-dir helps)")
        self.settings = replace(self.settings, uwsgi_socket=socket_path, user=user,
                                web_group=group)
        self.env["INKWELL_UWSGI_SOCKET"] = str(self.settings.uwsgi_socket)  # for inkwell doctor
        checkout = Path(__file__).resolve().parents[3]  # its lock files make uWSGI's venv
        venv = uwsgi.venv_for_uwsgi(self.settings.venv_bin.parent, checkout)
        self.uwsgi_ini.write_text(uwsgi.render_ini(self.settings, self.uwsgi_ini, venv,
                                                   self.env))

    def _output(self, name: str) -> IO | None:
        if not self.log_to_files:
            return None
        log = open(self.run_dir / name, "ab")  # noqa: SIM115 (closed in stop())
        self._logs.append(log)
        return log

    def migrate(self) -> None:
        """`inkwell setup`: migrations, and the welcome post on an empty database."""
        subprocess.run(
            [str(self.settings.venv_bin / "inkwell"), "setup"],
            cwd=self.app_dir,
            env=self.env,
            check=True,
            stdout=self._output("setup.log"),
            stderr=subprocess.STDOUT if self.log_to_files else None,
        )

    def start_app(self, cpu: str | None = None) -> None:
        if self.server == "uwsgi":
            binary = uwsgi.uwsgi_binary() or "uwsgi"
            self._app = self._spawn([binary, "--ini", str(self.uwsgi_ini)], self.env,
                                    self.app_log.name, cpu)
            uwsgi.wait_ready(self.settings.uwsgi_socket, self.settings.domain, self._app,
                             self.app_log)
            return
        command = [
            str(self.settings.venv_bin / "gunicorn"),
            "--config", str(self.run_dir / gunicorn.CONF_FILE),
            "inkwell.wsgi:app",
        ]
        first, env, keep = command, self.env, ()
        if self.hold_app_socket:
            self._held = self._held or held_socket(self.app_port)
            first, extra = handed_over(self._held, command)
            env, keep = {**env, **extra}, (self._held.fileno(),)
        self._app = self._spawn(first, env, "gunicorn.log", cpu, keep)
        _wait_for(f"{self.app_url}/healthz", self._app, "gunicorn", self.run_dir / "gunicorn.log")
        for port in self._more_ports:  # more app servers: the same gunicorn, on their ports
            log = f"gunicorn-{port}.log"
            proc = self._spawn(command, {**self.env, "APP_BIND": f"127.0.0.1:{port}"}, log, cpu)
            self._more_apps.append(proc)
            _wait_for(f"http://127.0.0.1:{port}/healthz", proc, "gunicorn", self.run_dir / log)

    def _spawn(self, command: list[str], env: dict[str, str], log: str, cpu: str | None,
               keep: tuple[int, ...] = ()) -> subprocess.Popen:
        out = self._output(log)
        return subprocess.Popen(
            _pinned(command, cpu), cwd=self.app_dir, env=env, pass_fds=keep,
            stdout=out, stderr=subprocess.STDOUT if out else None,
        )

    def stop_app(self) -> None:
        _stop(self._app, signal.SIGTERM, gunicorn.GRACEFUL_TIMEOUT + 5)
        self._app = None
        for proc in self._more_apps:
            _stop(proc, signal.SIGTERM, gunicorn.GRACEFUL_TIMEOUT + 5)
        self._more_apps.clear()

    def start_nginx(self, cpu: str | None = None) -> None:
        command = [nginx.nginx_binary() or "nginx", "-p", str(self.run_dir),
                   "-c", str(self.run_dir / "nginx.conf")]
        out = self._output("nginx.log")
        self._nginx = subprocess.Popen(
            _pinned(command, cpu), stdout=out, stderr=subprocess.STDOUT if out else None
        )
        _wait_for(f"{self.http_url}/.well-known/acme-challenge/ready", self._nginx, "nginx",
                  self.run_dir / "nginx-error.log", any_status=True)

    def stop_nginx(self) -> None:
        _stop(self._nginx, signal.SIGQUIT, 10)
        self._nginx = None

    def start(self, app_cpu: str | None = None, nginx_cpu: str | None = None) -> Stack:
        self.prepare()
        self.migrate()
        try:
            self.start_app(app_cpu)
            self.start_nginx(nginx_cpu)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.stop_nginx()
        self.stop_app()
        if self._held is not None:
            self._held.close()
            self._held = None
        for log in self._logs:
            log.close()
        self._logs.clear()

    @property
    def app_pid(self) -> int | None:
        return self._app.pid if self._app is not None else None

    def nginx_running(self) -> bool:
        return self._nginx is not None and self._nginx.poll() is None

    def app_exit_status(self) -> int | None:
        """gunicorn's exit status once it has stopped; None while it runs (or never started)."""
        return self._app.poll() if self._app is not None else None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _pinned(command: list[str], cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu, *command] if cpu is not None else command


def _wait_for(
    url: str, proc: subprocess.Popen, name: str, log: Path, any_status: bool = False
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ConfigError(f"{name} exited with status {proc.returncode} while starting\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            if any_status:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise ConfigError(f"{name} did not answer {url} within 60 s")


def _stop(proc: subprocess.Popen | None, sig: int, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _app_line(stack: Stack) -> str:
    if stack.server == "uwsgi":
        return (f"unix:{stack.settings.uwsgi_socket}   uWSGI (uwsgi protocol, for nginx; "
                f"master pid {stack.app_pid}, ini {stack.uwsgi_ini})")
    return f"{stack.app_url}/   gunicorn directly (master pid {stack.app_pid})"


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def run_forever(app_dir: Path, run_dir: Path, http_port: int, https_port: int,
                app_servers: int = 1, server: str = "gunicorn") -> None:
    """What `make stack` runs: start, print the URLs, stop everything on Ctrl-C.

    nginx keeps running if gunicorn stops (as on a server, where they are separate services):
    readers then get cached pages or the "back in a moment" page, which is worth seeing once.
    """
    stack = Stack(app_dir=app_dir, run_dir=run_dir, http_port=http_port, https_port=https_port,
                  app_servers=app_servers, server=server)
    stack.start()
    more = "".join(f"  http://127.0.0.1:{port}/   another gunicorn (APP_SERVERS)\n"
                   for port in stack.app_ports[1:])
    print(
        f"\nInkwell production stack is up (Ctrl-C stops it):\n"
        f"  {stack.https_url}/   HTTPS (nginx, TLS from a local CA)\n"
        f"  {stack.http_url}/    HTTP, redirects to HTTPS\n"
        f"  {_app_line(stack)}\n{more}"
        f"Trust the CA to avoid browser warnings: {stack.ca_file}\n"
        f"  e.g. curl --cacert {stack.ca_file} {stack.https_url}/\n",
        flush=True,
    )
    # Also SIGINT: started in the background by a script, Python would inherit it ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _interrupt)
    app_reported = False
    try:
        while stack.nginx_running():
            status = stack.app_exit_status()
            if not app_reported and status is not None:
                print(
                    f"{stack.server} stopped (exit status {status}); nginx keeps "
                    "answering: cached pages, or the 'back in a moment' page. Ctrl-C stops it.",
                    file=sys.stderr, flush=True,
                )
                app_reported = True
            time.sleep(0.5)
        print("nginx stopped on its own; stopping the stack.", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"\nStopping nginx and {stack.server}...", flush=True)
    finally:
        stack.stop()
    print("Stopped.")
