"""Shared helpers for the scenarios: pinned gunicorn and wrk, medians, RSS, instances, result files.

The method (see bench/README.md): the server under test runs on one core (`taskset -c 1`),
wrk on the other (`taskset -c 0 wrk -t1 -c32 --latency`), warm-up first, median of 3 runs. `--quick`
(BENCH_QUICK=1) makes every scenario short and single-run, for a smoke test of the bench itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from inkwell.config import new_secret_key

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
RESULTS_DIR = ROOT / "bench" / "results"
QUICK_ENV = "BENCH_QUICK"
PG_ADMIN_URL = os.environ.get("INKWELL_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


class BenchError(RuntimeError):
    """A scenario could not measure what it set out to measure; the message says why."""


# --- run settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadSettings:
    duration: int  # seconds per wrk run
    runs: int
    warmup: int  # seconds of wrk before the measured runs
    connections: int = 32


def is_quick() -> bool:
    return os.environ.get(QUICK_ENV) == "1"


def load_settings() -> LoadSettings:
    """10 s x 3 after a 3 s warm-up; --quick: 2 s x 1 after 1 s."""
    return LoadSettings(duration=2, runs=1, warmup=1) if is_quick() else LoadSettings(10, 3, 3)


def cpu_layout() -> tuple[str, str]:
    """(server core, load-generator core): the 2nd and 1st core this process may use."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return str(cpus[0]), str(cpus[0])
    return str(cpus[1]), str(cpus[0])


def pinned(cpu: str, argv: list[str]) -> list[str]:
    """Prefix argv with `taskset -c CPU` (unchanged when taskset is missing)."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", cpu, *argv] if taskset else argv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def median(values: list[float]) -> float:
    return float(statistics.median(values))


# --- figures and goals -------------------------------------------------------------------------

_GOAL = re.compile(r"^\s*(>=|<=|==)\s*(-?[\d.]+)\s*$")


def figure(
    value: float | int | None, goal: str | None = None, unit: str = "", note: str = ""
) -> dict:
    """One line of the summary table: a measured value, its goal (">= 0.8", "<= 5", "== 0")."""
    return {"value": value, "goal": goal, "unit": unit, "note": note}


def verdict(value: float | int | None, goal: str | None) -> str:
    """PASS or MISS against the goal; "info" when there is no goal; "n/a" when not measured."""
    if value is None:
        return "n/a"
    if not goal:
        return "info"
    match = _GOAL.match(goal)
    if not match:
        return "info"
    op, target = match.group(1), float(match.group(2))
    ok = {">=": value >= target, "<=": value <= target, "==": value == target}[op]
    return "PASS" if ok else "MISS"


# --- wrk ---------------------------------------------------------------------------------------

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise BenchError(f"wrk printed a latency this parser does not know: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict:
    """req/s, p99 (ms), request count, non-2xx/3xx responses and socket errors from wrk."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    count = re.search(r"(\d+) requests in", output)
    if not (rps and p99 and count):
        raise BenchError(f"could not read wrk's output:\n{output}")
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    names = ("connect", "read", "write", "timeout")
    socket_errors = dict(zip(names, map(int, sock.groups()), strict=True)) if sock else {}
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "requests_per_sec": float(rps.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "requests": int(count.group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(socket_errors.values()),
        "socket_error_detail": socket_errors,
    }


def wrk_argv(url: str, duration: int, connections: int = 32, header: str = "",
             timeout: int | None = None) -> list[str]:
    """wrk pinned to the load-generator core; `header` ("Name: value") is sent with -H; a request
    slower than `timeout` seconds counts as a socket error (wrk's default: 2 s)."""
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError("wrk is not installed: apt-get install wrk")
    _, load_cpu = cpu_layout()
    argv = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if timeout is not None:
        argv.append(f"--timeout={timeout}s")
    return pinned(load_cpu, [*argv, *(["-H", header] if header else []), url])


def run_wrk(url: str, duration: int, connections: int = 32, header: str = "") -> dict:
    """One wrk run (see wrk_argv)."""
    argv = wrk_argv(url, duration, connections, header)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def summarise_runs(runs: list[dict]) -> dict:
    """Median req/s and p99 over runs; errors summed (they must all be 0)."""
    return {
        "requests_per_sec": median([r["requests_per_sec"] for r in runs]),
        "p99_ms": median([r["p99_ms"] for r in runs]),
        "non_2xx": sum(r["non_2xx"] for r in runs),
        "socket_errors": sum(r["socket_errors"] for r in runs),
        "requests": sum(r["requests"] for r in runs),
        "runs": runs,
    }


def measure_side_by_side(
    urls: Mapping[str, str | tuple[str, str]], settings: LoadSettings | None = None
) -> dict[str, dict]:
    """Warm every URL up, then take turns run by run (order rotated): drift hits all sides.

    A side is a URL, or (URL, header) to send one request header ("Name: value") with it."""
    settings = settings or load_settings()
    sides = {label: (u, "") if isinstance(u, str) else u for label, u in urls.items()}
    labels = list(sides)
    for label in labels:
        url, header = sides[label]
        run_wrk(url, settings.warmup, settings.connections, header)
    runs: dict[str, list[dict]] = {label: [] for label in labels}
    for i in range(settings.runs):
        order = labels[i % len(labels) :] + labels[: i % len(labels)]
        for label in order:
            url, header = sides[label]
            runs[label].append(run_wrk(url, settings.duration, settings.connections, header))
    return {label: summarise_runs(runs[label]) for label in labels}


# --- HTTP --------------------------------------------------------------------------------------


def fetch(
    url: str,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10,
    context: ssl.SSLContext | None = None,
) -> tuple[int, dict, bytes]:
    """(status, lower-cased headers, body) for a GET; HTTP errors are returned, not raised.
    `context` verifies an HTTPS server (e.g. one with a certificate from a local CA)."""
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}, e.read()


# --- gunicorn ----------------------------------------------------------------------------------


@dataclass
class Server:
    """A gunicorn started by start_gunicorn()."""

    proc: subprocess.Popen
    port: int
    log: Path  # its stdout and stderr
    started: float  # time.perf_counter() right before it was started

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid


def gunicorn_argv(
    app: str, port: int, workers: int = 1, extra_args: tuple[str, ...] = ()
) -> list[str]:
    """gunicorn with no config file (`-c /dev/null`): a gunicorn.conf.py never tilts a ratio."""
    return [
        str(BIN / "gunicorn"),
        "-c",
        "/dev/null",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--log-level",
        "warning",
        *extra_args,
        app,
    ]


_PASSED_ON = ("PATH", "HOME", "USER", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH")


def clean_env(env: Mapping[str, str]) -> dict[str, str]:
    """A minimal environment for a child plus `env`: no setting of yours (SITE_URL, REDIS_URL,
    GUNICORN_CMD_ARGS, a .env file ...) can change what is measured."""
    base = {k: os.environ[k] for k in _PASSED_ON if k in os.environ}
    base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), base.get("PYTHONPATH")]))
    base["FLASK_SKIP_DOTENV"] = "1"
    return {**base, **env}


def wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(
                f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.02)
    raise BenchError(
        f"{url} did not answer within {timeout:.0f} s:\n{log.read_text(errors='replace')}"
    )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_gunicorn(
    app: str,
    env: Mapping[str, str],
    cwd: Path,
    *,
    workers: int = 1,
    extra_args: tuple[str, ...] = (),
) -> Server:
    """Start gunicorn pinned to the server core on a free loopback port, logging to a file in
    `cwd`; return at once (see gunicorn() to wait until it answers and stop it afterwards)."""
    port = free_port()
    server_cpu, _ = cpu_layout()
    argv = pinned(server_cpu, gunicorn_argv(app, port, workers, extra_args))
    log = cwd / f"gunicorn-{port}.log"
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=clean_env(env), stdout=out, stderr=subprocess.STDOUT
        )
    return Server(proc=proc, port=port, log=log, started=started)


@contextmanager
def gunicorn(
    app: str,
    env: Mapping[str, str],
    cwd: Path,
    *,
    workers: int = 1,
    ready_path: str = "/",
    extra_args: tuple[str, ...] = (),
) -> Iterator[Server]:
    """start_gunicorn(), wait until `ready_path` answers; stop it afterwards."""
    server = start_gunicorn(app, env, cwd, workers=workers, extra_args=extra_args)
    try:
        wait_ready(server.url + ready_path, server.proc, server.log)
        yield server
    finally:
        stop(server.proc)


# --- timed commands ----------------------------------------------------------------------------


def timed(argv: list[str], env: Mapping[str, str], cwd: Path) -> tuple[float, str]:
    """(wall seconds, stdout) of a command run on the server core; BenchError when it fails."""
    server_cpu, _ = cpu_layout()
    started = time.perf_counter()
    done = subprocess.run(
        pinned(server_cpu, argv), cwd=cwd, env=clean_env(env), capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(
            f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return elapsed, done.stdout


# --- memory ------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def descendants(pid: int) -> list[int]:
    kids = _children(pid)
    return kids + [d for kid in kids for d in descendants(kid)]


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants (VmRSS, so shared pages count twice)."""
    total = 0
    for p in [pid, *descendants(pid)]:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(match.group(1)) * 1024 if match else 0
    return total


# --- Inkwell instances -------------------------------------------------------------------------


def instance_env(folder: Path, database_url: str | None = None) -> dict[str, str]:
    """Production settings for a throwaway instance living in `folder`."""
    return {
        "INKWELL_ENV": "production",
        "SECRET_KEY": new_secret_key(),
        "INKWELL_INSTANCE_PATH": str(folder / "instance"),
        "DATABASE_URL": database_url or f"sqlite:///{folder / 'bench.sqlite3'}",
        "SITE_URL": "http://blog.example",
        # The repository's content folder: `inkwell setup` imports the welcome post from it.
        "CONTENT_DIR": str(ROOT / "content"),
    }


def inkwell(args: list[str], env: Mapping[str, str], cwd: Path) -> str:
    """Run the `inkwell` command; raise BenchError with its output when it fails."""
    done = subprocess.run(
        [str(BIN / "inkwell"), *args], cwd=cwd, env=clean_env(env), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise BenchError(
            f"inkwell {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def start_stack(
    folder: Path,
    *,
    cache_seconds: int = 60,
    workers: int = 2,
    database_url: str | None = None,
    hold_app_socket: bool = False,
):
    """`make stack` (nginx + gunicorn with gunicorn.conf.py) for a throwaway instance in
    `folder`, on free ports, both pinned to the server core; stop() it afterwards."""
    from inkwell.deploy.stack import Stack

    folder.mkdir(parents=True)
    env = clean_env({**instance_env(folder, database_url), "WEB_CONCURRENCY": str(workers),
                     "CACHE_MAX_AGE": str(cache_seconds), "MEDIA_ROOT": str(folder / "media")})
    stack = Stack(app_dir=folder, run_dir=folder / "run", http_port=free_port(),
                  https_port=free_port(), log_to_files=True, base_env=env,
                  hold_app_socket=hold_app_socket)
    server_cpu, _ = cpu_layout()
    return stack.start(app_cpu=server_cpu, nginx_cpu=server_cpu)


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"inkwell-bench-{prefix}-") as folder:
        yield Path(folder)


@contextmanager
def postgres_database() -> Iterator[str | None]:
    """A fresh PostgreSQL database for one scenario, dropped afterwards; None when unreachable."""
    from sqlalchemy import create_engine, text

    from inkwell.config import normalise_database_url

    admin = create_engine(normalise_database_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        admin.dispose()
        yield None
        return
    name = f"inkwell_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# --- results -----------------------------------------------------------------------------------


def write_result(results_dir: Path, name: str, data: dict) -> Path:
    """Write `<results_dir>/<name>.json`, stamped with when and how it was measured."""
    results_dir.mkdir(parents=True, exist_ok=True)
    stamped = {
        **data,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": is_quick(),
        "cpus": os.cpu_count(),
    }
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(stamped, indent=2, default=str) + "\n", encoding="utf-8")
    return path
