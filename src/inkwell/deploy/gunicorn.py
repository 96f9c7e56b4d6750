"""gunicorn: settings computed from the environment and the machine, hooks, rendering, checks.

`gunicorn.conf.py` at the repository root (and the copy `inkwell deploy render` writes for a VPS)
is three lines that import `settings_from_env()` and the hooks from here.

Workers: WEB_CONCURRENCY when set; otherwise two per CPU, but never more than the memory that
is actually available can hold (MemAvailable / measured worker size, keeping headroom), so a
1 GB VM is not pushed into swap or the OOM killer by the classic "(2 x cores) + 1".
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
from pathlib import Path

from ..config import ConfigError
from .settings import TEMPLATES

# RSS a gthread worker adds after 10k requests (bench/stack.py: 68 MB, of which ~24 MB private,
# the rest shared with the preloaded master); fitting workers by it leaves extra room.
WORKER_RSS_BYTES = 68 * 1024 * 1024
# Memory left for nginx, PostgreSQL, the page cache and everything else on the machine.
HEADROOM_FRACTION = 0.25
MIN_HEADROOM_BYTES = 256 * 1024 * 1024
THREADS = 4
TIMEOUT = 30
GRACEFUL_TIMEOUT = 25
KEEPALIVE = 5  # longer than nginx's upstream keepalive_timeout (4 s): nginx closes first
MAX_REQUESTS = 2000
MAX_REQUESTS_JITTER = 200
# %(h)s is REMOTE_ADDR after ProxyFix has applied TRUSTED_PROXIES: the reader's address.
ACCESS_LOG_FORMAT = '%(h)s - %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(M)sms'
CONF_FILE = "gunicorn.conf.py"


def mem_available_bytes(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """MemAvailable from the kernel (what can be used without swapping), or None if unknown."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_count() -> int:
    """CPUs this process may run on (respects taskset and cgroup cpusets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_count(
    cpus: int, mem_available: int | None, worker_rss: int = WORKER_RSS_BYTES
) -> int:
    """Two gthread workers per CPU, capped by what the available memory holds with headroom."""
    by_cpu = max(1, 2 * cpus)
    if mem_available is None:
        return by_cpu
    headroom = max(MIN_HEADROOM_BYTES, int(mem_available * HEADROOM_FRACTION))
    by_memory = (mem_available - headroom) // worker_rss
    return max(1, min(by_cpu, by_memory))


def workers_from_env(environ: dict[str, str] | os._Environ = os.environ) -> int:
    raw = environ.get("WEB_CONCURRENCY", "").strip()
    if raw:
        if not raw.isdigit() or int(raw) < 1:
            raise ConfigError(
                f"WEB_CONCURRENCY must be a whole number of workers >= 1, got {raw!r}"
            )
        return int(raw)
    return worker_count(cpu_count(), mem_available_bytes())


def settings_from_env(environ: dict[str, str] | os._Environ = os.environ) -> dict:
    """The gunicorn settings, as module-level names of a config file expect them."""
    bind = environ.get("APP_BIND", "").strip()
    if not bind and environ.get("PORT", "").strip():  # PaaS hosts hand out $PORT
        bind = f"0.0.0.0:{environ['PORT'].strip()}"
    return {
        "wsgi_app": "inkwell.wsgi:app",
        "bind": [bind or "127.0.0.1:8000"],
        "workers": workers_from_env(environ),
        "worker_class": "gthread",
        "threads": THREADS,
        "preload_app": True,
        "max_requests": MAX_REQUESTS,
        "max_requests_jitter": MAX_REQUESTS_JITTER,
        "timeout": TIMEOUT,
        "graceful_timeout": GRACEFUL_TIMEOUT,
        "keepalive": KEEPALIVE,
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        # A unix socket shared with nginx: owner and group may use it, nobody else.
        "umask": 0o007,
        # gunicorn >= 24 opens a control socket in $HOME; nothing here uses it, and two
        # instances (or a read-only home under systemd) would trip over it.
        "control_socket_disable": True,
    }


def pre_fork(server, worker) -> None:
    """Freeze the preloaded app's objects so the collector never touches (and copies) them."""
    gc.freeze()


def shared_limits_warning(workers: int, redis_url: str) -> str | None:
    """Sign-in limits kept in each worker's memory let a guesser try `workers` times as often."""
    if workers > 1 and not redis_url:
        return (
            f"sign-in limits are counted in each worker's memory: with {workers} workers, up to "
            f"{workers} times LOGIN_RATE_LIMIT_IP/_ACCOUNT guesses get through; set REDIS_URL "
            "so that every worker shares one count (nginx limits /admin/login per address too)"
        )
    return None


def when_ready(server) -> None:
    """Say at start-up what the operator should know about this configuration."""
    warning = shared_limits_warning(server.cfg.workers, os.environ.get("REDIS_URL", "").strip())
    if warning:
        server.log.warning("inkwell: %s", warning)


class _Gather:
    """Stands in for a socket while a response's first write runs: keeps what it is sent."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.parts.append(data)


def _flush(sock, gathered: _Gather) -> None:
    if gathered.parts:
        sock.sendall(b"".join(gathered.parts))  # one part: join hands back that very object


def _one_send_response_class(base: type) -> type:
    """gunicorn's HTTP/1 response, except that the head and the first body chunk leave in one
    send (gunicorn sends them in two).

    A worker killed between those two sends (the OOM killer, a crash; with gthread the gap can
    last a GIL switch, milliseconds) leaves nginx holding a 200 head and a cut body: it has
    already passed the head on, so it cannot retry, and the reader gets a broken page (the
    `kill_worker` drill: 3 read errors in 17,505 requests). In one send, a kill comes either
    before it (nginx gets no answer and retries the GET) or after it (the page was sent whole:
    Flask hands gunicorn a page as one chunk). The bytes sent are gunicorn's own: its write()
    runs unchanged against a stand-in socket. Files sent with sendfile are not affected.
    """

    class OneSendResponse(base):
        def write(self, arg):
            if self.headers_sent:
                return super().write(arg)
            sock, gathered = self.sock, _Gather()
            self.sock = gathered
            try:
                super().write(arg)
            except BaseException:
                self.sock = sock
                with contextlib.suppress(OSError):  # the write's own error is the one to tell
                    _flush(sock, gathered)
                raise
            self.sock = sock
            _flush(sock, gathered)

    OneSendResponse.__qualname__ = OneSendResponse.__name__ = f"OneSend{base.__name__}"
    return OneSendResponse


def send_head_with_body() -> None:
    """Make gunicorn's HTTP/1 responses send head and first body chunk together (once)."""
    from gunicorn.http import wsgi

    if not getattr(wsgi.Response, "_inkwell_one_send", False):
        wsgi.Response = _one_send_response_class(wsgi.Response)
        wsgi.Response._inkwell_one_send = True


def post_fork(server, worker) -> None:
    """Each worker sends a response's head with its body (see send_head_with_body); and a
    forked worker must not reuse the master's database connections: drop them unclosed."""
    send_head_with_body()
    if not server.cfg.preload_app:
        return
    app = server.app.wsgi()
    if not hasattr(app, "app_context"):
        return
    from ..extensions import db

    with app.app_context():
        db.engine.dispose(close=False)


def render_conf() -> str:
    """The gunicorn.conf.py for a VPS: the same file as at the repository root."""
    return (TEMPLATES / CONF_FILE).read_text()


def check_conf(conf: Path, gunicorn: Path, cwd: Path | None = None) -> str | None:
    """`gunicorn --check-config`; the error text, or None when the file loads."""
    result = subprocess.run(
        [str(gunicorn), "--check-config", "-c", str(conf)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )
    return None if result.returncode == 0 else (result.stdout + result.stderr).strip()


def doctor(settings) -> list[str]:
    """Problems a person should fix before starting gunicorn on this machine."""
    problems = []
    workers = workers_from_env()
    warning = shared_limits_warning(workers, os.environ.get("REDIS_URL", "").strip())
    if warning:
        problems.append(warning)
    available = mem_available_bytes()
    if available is not None and workers * WORKER_RSS_BYTES > available:
        problems.append(
            f"{workers} workers need about {workers * WORKER_RSS_BYTES // 2**20} MB but only "
            f"{available // 2**20} MB is available: lower WEB_CONCURRENCY"
        )
    return problems
