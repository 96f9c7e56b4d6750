"""Failure drills (`make drills`): the stack under load while something goes wrong.

Each drill runs the `make stack` topology (nginx -> gunicorn, gunicorn.conf.py, 2 workers), puts
wrk on it over HTTPS and makes one thing happen in the middle; it prints the requests sent and the
requests that failed (non-2xx answers + socket errors, as wrk counts them). Goals from
../shared/BENCHMARKS.md:

- reload: `systemctl reload inkwell` (SIGHUP to gunicorn: new workers, old ones finish their
  requests) twice during load on pages that reach the app -> 0 failed, >= 10k requests. With the
  app preloaded, new *code* needs a restart; the `restart, no socket unit` figures show what a
  restart costs when gunicorn owns its socket (readers are served from nginx's cache, authors
  get 502s until the new gunicorn listens).
- deploy: that restart as the VPS does it, with inkwell.socket holding gunicorn's socket, and
  `inkwell db upgrade` in between -> 0 failed, >= 10k requests (requests wait, none refused).
- push: a real `git push` deploy (deploy/releases.py: build, switch, restart, check) during load
  through nginx -> 0 failed, >= 10k requests.
- kill_worker: SIGKILL one gunicorn worker, twice, during load on pages that reach the app -> 0
  failed GETs.
- db_outage: PostgreSQL unreachable for 10 s (bench/tcpproxy.py cuts the line) during anonymous
  load -> 0 5xx to readers (stale pages from nginx), and the app recovers without a restart.
- soak: 10 minutes at 128 connections (anonymous and authors) -> 0 errors, RSS growth < 10 %.

`--quick` shortens every drill (a smoke test of the drills, not a result).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import make_url

from inkwell.deploy.stack import Stack

from .common import (
    BIN,
    ROOT,
    BenchError,
    cpu_layout,
    descendants,
    fetch,
    figure,
    free_port,
    is_quick,
    parse_wrk,
    pinned,
    postgres_database,
    rss_bytes,
    scratch,
    start_stack,
    wrk_argv,
)
from .fixtures import POST_PATH
from .tcpproxy import TcpProxy

WORKERS = 2
# The longest a load that a step sizes may run (_load_until_settled stops it sooner).
LOAD_CEILING = 600


# --- helpers -----------------------------------------------------------------------------------


def _author(stack: Stack) -> str:
    """A session cookie: nginx never caches for it, so every request reaches the app."""
    return f"Cookie: {stack.settings.session_cookie}=drill"


def _wrk(url: str, seconds: float, connections: int = 32, header: str = "",
         timeout: int = 2) -> subprocess.Popen:
    """wrk (common.wrk_argv) started in the background; read it with _wrk_result()."""
    return subprocess.Popen(wrk_argv(url, int(seconds), connections, header, timeout),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wrk_result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise BenchError(f"wrk failed ({proc.returncode}): {err or out}")
    result = parse_wrk(out)
    result["failed"] = result["non_2xx"] + result["socket_errors"]
    return result


def _at(moments: list[tuple[float, Callable[[], None]]]) -> list[float]:
    """Run each action at its moment (seconds from now); return when each one ran."""
    started, ran = time.monotonic(), []
    for moment, action in moments:
        time.sleep(max(0.0, started + moment - time.monotonic()))
        action()
        ran.append(round(time.monotonic() - started, 2))
    return ran


def _workers(stack: Stack) -> list[int]:
    return descendants(stack.app_pid) if stack.app_pid else []


def _status(stack: Stack, path: str) -> int:
    """The status of an anonymous GET of `path` through nginx (HTTPS)."""
    tls = ssl.create_default_context(cafile=str(stack.ca_file))
    return fetch(stack.https_url + path, context=tls)[0]


def _stop(load: subprocess.Popen | None) -> None:
    """A load left running by a step that failed is stopped with it."""
    if load is not None and load.poll() is None:
        load.kill()
        load.wait()


def _load_until_settled(proc: subprocess.Popen, wait: int, started: float,
                        least_seconds: float) -> dict:
    """Stop the load a step watched once every request queued during the step has had its full
    `wait` (wrk's timeout) and the load ran `least_seconds` in all, then read wrk's figures.

    wrk forgets requests still waiting when it stops (neither answered nor failed), so the load
    is sized to the step instead of the step having to fit a fixed load: a slow host makes the
    step take longer, never a failed drill. wrk prints its figures on SIGINT as at time-up."""
    stop_at = max(time.monotonic() + wait + 1, started + least_seconds)
    time.sleep(max(0.0, stop_at - time.monotonic()))
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    return _wrk_result(proc)


# --- drills ------------------------------------------------------------------------------------


def drill_reload(tmp: Path, quick: bool) -> dict:
    seconds, hups = (6, [2.0]) if quick else (20, [5.0, 12.0])
    stack = start_stack(tmp / "reload")
    try:
        url, author = stack.https_url + POST_PATH, _author(stack)
        load = _wrk(url, seconds, header=author)
        time.sleep(0.5)
        before = set(_workers(stack))
        ran = _at([(t, lambda: os.kill(stack.app_pid, signal.SIGHUP)) for t in hups])
        reload = _wrk_result(load)
        replaced = not (before & set(_workers(stack)))

        # A restart without inkwell.socket (gunicorn owns its socket): for comparison with
        # drill_deploy. Anonymous readers vs authors, side by side.
        anonymous = _wrk(url, 8 if not quick else 4, connections=16)
        authors = _wrk(url, 8 if not quick else 4, connections=16, header=author)
        time.sleep(1)
        restart_started = time.monotonic()
        stack.stop_app()
        stack.start_app(cpu=cpu_layout()[0])
        restart_seconds = time.monotonic() - restart_started
        anonymous, authors = _wrk_result(anonymous), _wrk_result(authors)
    finally:
        stack.stop()
    return {
        "figures": {
            f"reload (HUP x{len(hups)}): requests sent": figure(
                reload["requests"], None if quick else ">= 10000"),
            "reload: requests failed": figure(reload["failed"], "== 0"),
            "reload: every worker replaced": figure(int(replaced), "== 1"),
            "restart, no socket unit: anonymous requests failed": figure(
                anonymous["failed"], "== 0", note=f"of {anonymous['requests']:,}"),
            "restart, no socket unit: author requests failed": figure(
                authors["failed"], note=f"of {authors['requests']:,}; gunicorn down "
                                        f"{restart_seconds:.1f} s (stop + start)"),
        },
        "raw": {"hups_at_s": ran, "reload": reload, "restart_anonymous": anonymous,
                "restart_authors": authors, "restart_seconds": restart_seconds},
    }


def drill_deploy(tmp: Path, quick: bool) -> dict:
    """A deploy of new code on a VPS: `systemctl restart inkwell` with inkwell.socket holding
    gunicorn's socket (the stack holds it the same way): gunicorn stops, `inkwell db upgrade`
    runs (ExecStartPre), a new gunicorn starts; authors' requests (all reach the app) meanwhile
    wait in the socket's queue. wrk waits up to 10 s for an answer, as browsers do (and more)."""
    seconds, restart_at, wait = (17, 2.0, 10) if quick else (26, 4.0, 10)
    stack = start_stack(tmp / "deploy", hold_app_socket=True)
    load = None
    try:
        load = _wrk(stack.https_url + POST_PATH, LOAD_CEILING, header=_author(stack),
                    timeout=wait)
        load_started = time.monotonic()
        time.sleep(restart_at)
        old_pid, started = stack.app_pid, time.monotonic()
        stack.stop_app()
        subprocess.run([str(stack.settings.venv_bin / "inkwell"), "db", "upgrade"],
                       cwd=stack.app_dir, env=stack.env, check=True, capture_output=True)
        log_offset = stack.app_log.stat().st_size
        stack.start_app(cpu=cpu_layout()[0])
        down = time.monotonic() - started
        replaced = stack.app_pid != old_pid
        result = _load_until_settled(load, wait, load_started, seconds)
        with stack.app_log.open("rb") as log:
            log.seek(log_offset)
            answered_by_new = len(re.findall(rb'"GET [^"]*" 200 ', log.read()))
    finally:
        _stop(load)
        stack.stop()
    return {
        "figures": {
            "deploy (restart with inkwell.socket): requests sent": figure(
                result["requests"], None if quick else ">= 10000"),
            "deploy: requests failed": figure(
                result["failed"], "== 0",
                note=f"gunicorn replaced in {down:.1f} s; slowest answer p99 "
                     f"{result['p99_ms']:.0f} ms"),
            "deploy: new gunicorn serving": figure(
                int(replaced and answered_by_new > 0), "== 1",
                note=f"{answered_by_new:,} answers from the new gunicorn"),
        },
        "raw": {"wrk": result, "restart_seconds": down, "answered_by_new": answered_by_new},
    }


def drill_push(tmp: Path, quick: bool) -> dict:
    """A real `git push` deploy (deploy/releases.py) during load through nginx: the pushed
    commit is built beside the running release (its own venv, ~30 s), `current` switched, the
    service restarted on its held socket (tests/integration/service_manager.py does what systemd
    does), and the new release checked; authors' requests (all reach the app) meanwhile."""
    root, work = tmp / "push-root", tmp / "push-work"
    port, http_port, https_port = free_port(), free_port(), free_port()
    manager = [sys.executable, str(ROOT / "tests" / "integration" / "service_manager.py")]
    git_env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "GIT_AUTHOR_NAME": "drill",
               "GIT_AUTHOR_EMAIL": "drill@example.org", "GIT_COMMITTER_NAME": "drill",
               "GIT_COMMITTER_EMAIL": "drill@example.org"}

    def git(*args: str, cwd: Path = work) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=cwd, env=git_env, capture_output=True,
                              text=True)

    subprocess.run([str(BIN / "inkwell"), "deploy", "init", "--root", str(root), "--site-url",
                    "https://127.0.0.1"], env=git_env, check=True, capture_output=True)
    env_file = root / "shared" / ".env"
    kept = [line for line in env_file.read_text().splitlines()
            if not line.startswith(("APP_BIND=", "RESTART_COMMAND=", "SITE_URL=", "DOMAIN="))]
    restart = shlex.join([*manager, "restart", str(root)])
    env_file.write_text("\n".join([*kept, f"APP_BIND=127.0.0.1:{port}",
                                   f"SITE_URL=https://127.0.0.1:{https_port}",
                                   f"WEB_CONCURRENCY={WORKERS}", f"RESTART_COMMAND={restart}", ""]))
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, work / name)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "release one")
    server_cpu, _ = cpu_layout()
    service = subprocess.Popen(pinned(server_cpu, [*manager, "serve", str(root), str(port)]),
                               env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    stack = load = None
    try:
        first = git("push", str(root / "repo.git"), "HEAD:main")
        if first.returncode != 0:
            raise BenchError(f"the first push failed:\n{first.stderr[-3000:]}")
        stack = Stack(app_dir=root / "shared", run_dir=tmp / "push-run", http_port=http_port,
                      https_port=https_port, app_port=port, log_to_files=True,
                      base_env=dict(os.environ))
        stack.prepare()
        stack.start_nginx(server_cpu)
        base = work / "src/inkwell/templates/base.html"
        base.write_text(base.read_text() + "<!-- release two -->\n")
        git("commit", "-q", "-am", "release two")
        seconds, wait = (30, 10) if quick else (60, 10)
        load = _wrk(stack.https_url + "/", LOAD_CEILING, header=_author(stack), timeout=wait)
        load_started = time.monotonic()
        time.sleep(3)
        push_started = time.monotonic()
        second = subprocess.run(pinned(cpu_layout()[1], ["git", "push", str(root / "repo.git"),
                                                         "HEAD:main"]),
                                cwd=work, env=git_env, capture_output=True, text=True)
        push_seconds = time.monotonic() - push_started
        result = _load_until_settled(load, wait, load_started, seconds)
        live = re.search(r"release (\S+) is live", second.stderr)
    finally:
        _stop(load)
        if stack is not None:
            stack.stop()
        service.terminate()
        service.wait(60)
    if second.returncode != 0 or not live:
        raise BenchError(f"the push under load failed:\n{second.stderr[-3000:]}")
    return {
        "figures": {
            "git push deploy: requests sent": figure(
                result["requests"], None if quick else ">= 10000"),
            "git push deploy: requests failed": figure(
                result["failed"], "== 0",
                note=f"push (build, switch, restart, check) {push_seconds:.0f} s; "
                     f"p99 {result['p99_ms']:.0f} ms"),
        },
        "raw": {"wrk": result, "push_seconds": push_seconds, "release": live.group(1)},
    }


def drill_kill_worker(tmp: Path, quick: bool) -> dict:
    seconds, kills = (6, [2.0]) if quick else (15, [4.0, 9.0])
    stack = start_stack(tmp / "kill")
    killed: list[int] = []

    def kill_one() -> None:
        victim = _workers(stack)[0]
        os.kill(victim, signal.SIGKILL)
        killed.append(victim)

    try:
        load = _wrk(stack.https_url + POST_PATH, seconds, header=_author(stack))
        time.sleep(0.5)
        ran = _at([(t, kill_one) for t in kills])
        result = _wrk_result(load)
        time.sleep(1)
        respawned = len(_workers(stack)) == WORKERS and not set(killed) & set(_workers(stack))
        log = (stack.run_dir / "nginx-error.log").read_text(errors="replace")
    finally:
        stack.stop()
    return {
        "figures": {
            f"kill a worker (SIGKILL x{len(kills)}): requests sent": figure(result["requests"]),
            "kill a worker: GETs failed": figure(result["failed"], "== 0"),
            "kill a worker: gunicorn started new ones": figure(int(respawned), "== 1"),
        },
        "raw": {"killed_at_s": ran, "killed": killed, "wrk": result,
                "nginx_upstream_errors": log.count("upstream")},
    }


def drill_db_outage(tmp: Path, quick: bool) -> dict:
    outage, seconds = (3, 8) if quick else (10, 20)
    with postgres_database() as pg_url:
        if pg_url is None:
            return {"figures": {"database outage": figure(None, note="PostgreSQL unreachable")},
                    "raw": {}}
        server = make_url(pg_url)
        with TcpProxy((server.host or "127.0.0.1", server.port or 5432)) as proxy:
            url = server.set(drivername="postgresql+psycopg", host="127.0.0.1", port=proxy.port)
            stack = start_stack(tmp / "db", database_url=url.render_as_string(hide_password=False),
                                cache_seconds=2)
            try:
                app_pid = stack.app_pid
                pages = [POST_PATH, "/"]
                for path in pages:  # nginx holds a copy of each
                    _status(stack, path)
                loads = [_wrk(stack.https_url + path, seconds, connections=16) for path in pages]
                seen: list[int] = []

                def app_sees_outage() -> None:  # the cut reached the app: it is not ready
                    seen.append(fetch(stack.app_url + "/readyz")[0])

                ran = _at([(3.0, proxy.cut), (3.0 + outage / 2, app_sees_outage),
                           (3.0 + outage, proxy.restore)])
                # Recovery, from the moment the line is back: a page never cached needs the
                # database; nothing is restarted.
                restored, recovered = time.monotonic(), None
                while time.monotonic() < restored + 30:
                    if _status(stack, f"/search?q={uuid.uuid4().hex}") == 200:
                        recovered = round(time.monotonic() - restored, 2)
                        break
                    time.sleep(0.05)
                results = [_wrk_result(load) for load in loads]
                same_process = stack.app_pid == app_pid
            finally:
                stack.stop()
    if seen != [503]:
        raise BenchError(f"/readyz answered {seen} during the cut, not 503: the outage did not "
                         "reach the app, so the drill proves nothing")
    failed = sum(r["failed"] for r in results)
    return {
        "figures": {
            f"database unreachable {outage} s: anonymous requests sent": figure(
                sum(r["requests"] for r in results)),
            "database outage: anonymous requests failed": figure(failed, "== 0"),
            "database outage: recovered without a restart": figure(
                int(recovered is not None and same_process), "== 1",
                note=f"a new page answered {recovered} s after the line came back"
                if recovered is not None else "never answered"),
        },
        "raw": {"cut_and_restored_at_s": ran, "wrk": results, "recovered_after_s": recovered},
    }


def drill_soak(tmp: Path, quick: bool) -> dict:
    seconds, warmup = (20, 5) if quick else (600, 30)
    stack = start_stack(tmp / "soak")
    try:
        url, author = stack.https_url + POST_PATH, _author(stack)
        home = stack.https_url + "/"
        for path in (POST_PATH, "/"):
            _status(stack, path)
        # 128 connections: readers (cache) on the home page, authors (the app) on a post.
        readers = _wrk(home, warmup + seconds, connections=96)
        authors = _wrk(url, warmup + seconds, connections=32, header=author)
        time.sleep(warmup)
        pids = [stack._nginx.pid, stack.app_pid]
        rss_start = sum(rss_bytes(pid) for pid in pids)
        samples = []
        end = time.monotonic() + seconds - 2
        while time.monotonic() < end:
            time.sleep(min(30.0, max(0.0, end - time.monotonic())))
            samples.append(sum(rss_bytes(pid) for pid in pids))
        rss_end = samples[-1] if samples else rss_start
        results = [_wrk_result(readers), _wrk_result(authors)]
    finally:
        stack.stop()
    growth = (rss_end - rss_start) / rss_start * 100
    return {
        "figures": {
            f"soak {seconds // 60 if seconds >= 60 else seconds}"
            f"{' min' if seconds >= 60 else ' s'} at 128 connections: requests sent": figure(
                sum(r["requests"] for r in results)),
            "soak: requests failed": figure(sum(r["failed"] for r in results), "== 0"),
            "soak: RSS growth (nginx + gunicorn)": figure(
                round(growth, 1), "<= 10", "%",
                note=f"{rss_start / 2**20:.0f} -> {rss_end / 2**20:.0f} MB"),
        },
        "raw": {"wrk": results, "rss_start": rss_start, "rss_samples": samples},
    }


DRILLS = {
    "reload": drill_reload,
    "deploy": drill_deploy,
    "push": drill_push,
    "kill_worker": drill_kill_worker,
    "db_outage": drill_db_outage,
    "soak": drill_soak,
}


def main(results_dir: Path) -> dict:
    quick = is_quick()
    only = [n for n in os.environ.get("BENCH_DRILLS", "").split(",") if n] or list(DRILLS)
    unknown = set(only) - set(DRILLS)
    if unknown:
        raise BenchError(f"unknown drill(s) {', '.join(sorted(unknown))}: {', '.join(DRILLS)}")
    ratios: dict[str, dict] = {}
    raw: dict[str, dict] = {}
    with scratch("drills") as tmp:
        for name in only:
            print(f"[drills] {name} ...", flush=True)
            done = DRILLS[name](tmp, quick)
            ratios.update(done["figures"])
            raw[name] = done["raw"]
    return {"name": "drills", "ratios": ratios, "raw": raw}
