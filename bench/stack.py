"""The production stack (`make stack`: nginx -> gunicorn -> SQLite) measured side by side, and
the same stack under uWSGI (`make stack STACK_SERVER=uwsgi`) beside it.

nginx (1 worker) and gunicorn (2 gthread workers, gunicorn.conf.py) share the server core; wrk
runs on the other core over HTTPS with keep-alive, like a browser would.

- cache: the welcome post from nginx's microcache (HIT) vs the very same bytes as a file nginx
  serves from disk (/media/). Goal >= 0.8.
- proxy: the same page uncached, as a logged-in author gets it (the session cookie makes nginx
  skip its cache), through nginx vs straight from gunicorn (plain HTTP), the same cookie sent
  to both. Goal >= 0.85.
- memory after >= 10k requests: PSS (shared pages counted once) of nginx (master + worker) +
  gunicorn master + 2 workers (goal <= 100 MB), then one more worker (SIGTTIN) and 10k more
  requests: the PSS it adds (goal <= 25 MB). RSS (which counts every page a preloaded worker
  shares with its master once per process) and USS (what the system gets back when a worker
  exits) are printed beside them as information.
- the floor under that goal: bench/floor_app.py (Flask + the SQLAlchemy ORM loaded, one route
  answering "ok") under gunicorn with the settings that decide RSS (preloaded, gthread, 4
  threads, 2 workers, then a 3rd; no gc.freeze, which changes what is shared, not RSS), the
  same number of requests: what any app on these parts takes.
- gunicorn vs uWSGI: a second stack runs at the same time, the same nginx site but passing to
  Debian's uWSGI (2 workers x 4 threads from the rendered ini, preloaded) over its unix socket.
  The uncached page through its nginx takes turns with the gunicorn sides above (same wrk, same
  cookie); then PSS of its nginx + uWSGI master + 2 workers after at least as many requests.
"""

from __future__ import annotations

import re
import signal
import ssl
import time
from pathlib import Path

from inkwell.deploy import gunicorn
from inkwell.deploy.stack import Stack

from .common import (
    ROOT,
    BenchError,
    clean_env,
    cpu_layout,
    descendants,
    fetch,
    figure,
    free_port,
    instance_env,
    load_settings,
    measure_side_by_side,
    median,
    rss_bytes,
    run_wrk,
    scratch,
    start_gunicorn,
    stop,
    wait_ready,
)
from .fixtures import POST_PATH

# The page's bytes under an image name: nginx serves /media/ only under image names.
STATIC_NAME = "bench-post.png"
MEMORY_REQUESTS = 10_000


def _uss_bytes(pid: int) -> int:
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return sum(int(kb) * 1024 for kb in re.findall(r"^Private_(?:Clean|Dirty):\s+(\d+) kB",
                                                    text, re.M))


def _pss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        match = re.search(r"^Pss:\s+(\d+) kB", Path(f"/proc/{pid}/smaps_rollup").read_text(), re.M)
        total += int(match.group(1)) * 1024 if match else 0
    return total


def _drive(url: str, requests: int, header: str) -> int:
    """Load until at least `requests` were served (3 s wrk runs); return how many were."""
    served = 0
    while served < requests:
        served += run_wrk(url, 3, header=header)["requests"]
    return served


def _start(folder: Path, server: str) -> Stack:
    """`make stack` for a throwaway instance in `folder` with `server` (2 workers, the welcome
    post from the repository's content folder), nginx and the app pinned to the server core."""
    folder.mkdir(parents=True)
    env = clean_env({**instance_env(folder), "WEB_CONCURRENCY": "2", "CACHE_MAX_AGE": "3600",
                     "MEDIA_ROOT": str(folder / "media"), "CONTENT_DIR": str(ROOT / "content")})
    stack = Stack(app_dir=folder, run_dir=folder / "run", http_port=free_port(),
                  https_port=free_port(), log_to_files=True, base_env=env, server=server)
    server_cpu, _ = cpu_layout()
    return stack.start(app_cpu=server_cpu, nginx_cpu=server_cpu)


def _bypassed(stack: Stack, cookie: str) -> str:
    """The post's URL on `stack`, once an author's request for it reached the app."""
    url = stack.https_url + POST_PATH
    tls = ssl.create_default_context(cafile=str(stack.ca_file))
    status, headers, _ = fetch(url, {"Cookie": cookie}, context=tls)
    if status != 200 or headers.get("x-cache-status") != "BYPASS":
        raise BenchError(f"{stack.server}: a request with the session cookie answered {status}, "
                         f"cache {headers.get('x-cache-status')}")
    return url


def _measure(stack: Stack, settings, cookie: str, other: Stack) -> tuple[dict, int]:
    tls = ssl.create_default_context(cafile=str(stack.ca_file))
    post_url = stack.https_url + POST_PATH
    status, _, page = fetch(post_url, context=tls)
    if status != 200:
        raise BenchError(f"GET {POST_PATH} answered {status}, not 200")
    _, headers, _ = fetch(post_url, context=tls)
    if headers.get("x-cache-status") != "HIT":
        raise BenchError(f"second GET was {headers.get('x-cache-status')}, not a cache HIT")
    (Path(stack.settings.media_root) / STATIC_NAME).write_bytes(page)
    _, _, static = fetch(f"{stack.https_url}/media/{STATIC_NAME}", context=tls)
    if static != page:
        raise BenchError("nginx's static copy differs from the cached page")
    _bypassed(stack, cookie)
    # The session cookie makes nginx skip its cache: every request reaches the app.
    author = f"Cookie: {cookie}"
    results = measure_side_by_side({
        "nginx_cache_hit": post_url,
        "nginx_static_file": f"{stack.https_url}/media/{STATIC_NAME}",
        "uncached_through_nginx": (post_url, author),
        "gunicorn_direct": (stack.app_url + POST_PATH, author),
        "uwsgi_uncached_through_nginx": (_bypassed(other, cookie), author),
    }, settings)
    return results, len(page)


def _memory(stack: Stack, served: int, cookie: str) -> dict:
    nginx_pid, app_pid = stack._nginx.pid, stack._app.pid
    post_url, author = stack.https_url + POST_PATH, f"Cookie: {cookie}"  # uncached, as in _measure
    served += _drive(post_url, max(0, MEMORY_REQUESTS - served), author)
    two = {"nginx": rss_bytes(nginx_pid), "gunicorn": rss_bytes(app_pid),
           "pss": _pss_bytes([nginx_pid, *descendants(nginx_pid), app_pid,
                              *descendants(app_pid)])}
    stack._app.send_signal(signal.SIGTTIN)  # gunicorn: one more worker
    for _ in range(200):
        if len(descendants(app_pid)) == 3:
            break
        time.sleep(0.05)
    if len(descendants(app_pid)) != 3:
        raise BenchError("gunicorn did not start a third worker on SIGTTIN")
    _drive(post_url, MEMORY_REQUESTS, author)
    # Workers are recycled after max_requests, so measure whichever three are alive now.
    workers = descendants(app_pid)
    rss_3_workers = rss_bytes(app_pid)
    pss_3_workers = _pss_bytes([nginx_pid, *descendants(nginx_pid), app_pid, *workers])
    worker_uss = [_uss_bytes(pid) for pid in workers]
    worker_rss = [rss_bytes(pid) for pid in workers]
    return {
        "requests_before_measuring": served,
        "nginx_rss": two["nginx"],
        "gunicorn_rss_2_workers": two["gunicorn"],
        "pss_2_workers": two["pss"],
        "gunicorn_rss_3_workers": rss_3_workers,
        "pss_3_workers": pss_3_workers,
        "worker_uss": worker_uss,
        "worker_rss": worker_rss,
        "master_rss": rss_3_workers - sum(worker_rss),
    }


def _uwsgi_memory(stack: Stack, served: int, cookie: str) -> dict:
    """PSS of nginx + uWSGI master + 2 workers after at least MEMORY_REQUESTS requests."""
    nginx_pid, app_pid = stack._nginx.pid, stack._app.pid
    served += _drive(stack.https_url + POST_PATH, max(0, MEMORY_REQUESTS - served),
                     f"Cookie: {cookie}")
    workers = descendants(app_pid)
    if len(workers) != 2:
        raise BenchError(f"uWSGI has {len(workers)} workers, not 2")
    return {"requests_before_measuring": served, "nginx_rss": rss_bytes(nginx_pid),
            "uwsgi_rss_2_workers": rss_bytes(app_pid),
            "pss_2_workers": _pss_bytes([nginx_pid, *descendants(nginx_pid), app_pid, *workers]),
            "worker_uss": [_uss_bytes(pid) for pid in workers]}


def _floor_memory(folder: Path) -> dict:
    """RSS of gunicorn master + 2 (then 3) workers serving bench/floor_app.py, after as many
    requests as the stack's memory figures."""
    folder.mkdir(parents=True, exist_ok=True)
    settings = ("--preload", "--workers", "2", "--worker-class", "gthread", "--threads",
                str(gunicorn.THREADS))
    server = start_gunicorn("bench.floor_app:app", {}, folder, workers=2, extra_args=settings)
    try:
        wait_ready(server.url + "/", server.proc, server.log)
        _drive(server.url + "/", MEMORY_REQUESTS, "")
        two = rss_bytes(server.proc.pid)
        server.proc.send_signal(signal.SIGTTIN)
        for _ in range(200):
            if len(descendants(server.proc.pid)) == 3:
                break
            time.sleep(0.05)
        _drive(server.url + "/", MEMORY_REQUESTS, "")
        return {"rss_2_workers": two, "rss_3_workers": rss_bytes(server.proc.pid),
                "workers": len(descendants(server.proc.pid))}
    finally:
        stop(server.proc)


def main(results_dir: Path) -> dict:
    settings = load_settings()
    with scratch("stack") as tmp:
        stack = _start(tmp / "stack", "gunicorn")
        try:
            other = _start(tmp / "uwsgi", "uwsgi")
        except BaseException:
            stack.stop()
            raise
        try:
            cookie = f"{stack.settings.session_cookie}=bench"  # an author's: nginx skips its cache
            sides, page_bytes = _measure(stack, settings, cookie, other)
            memory = _memory(stack, sides["uncached_through_nginx"]["requests"], cookie)
            uwsgi_memory = _uwsgi_memory(
                other, sides["uwsgi_uncached_through_nginx"]["requests"], cookie)
        finally:
            other.stop()
            stack.stop()
        floor = _floor_memory(tmp / "floor")
        if floor["workers"] != 3:
            raise BenchError("gunicorn did not start a third worker for the floor app")

    mb = 2**20
    total = (memory["nginx_rss"] + memory["gunicorn_rss_2_workers"]) / mb
    extra_rss = (memory["gunicorn_rss_3_workers"] - memory["gunicorn_rss_2_workers"]) / mb
    errors = sum(r["non_2xx"] + r["socket_errors"] for r in sides.values())
    hit, static = sides["nginx_cache_hit"], sides["nginx_static_file"]
    through, direct = sides["uncached_through_nginx"], sides["gunicorn_direct"]
    uwsgi_through = sides["uwsgi_uncached_through_nginx"]
    pss_extra = (memory["pss_3_workers"] - memory["pss_2_workers"]) / mb
    ratios = {
        "cache HIT / nginx static file": figure(
            round(hit["requests_per_sec"] / static["requests_per_sec"], 3), ">= 0.8"),
        "uncached via nginx / gunicorn direct": figure(
            round(through["requests_per_sec"] / direct["requests_per_sec"], 3), ">= 0.85"),
        "PSS nginx + gunicorn master + 2 workers": figure(
            round(memory["pss_2_workers"] / mb, 1), "<= 100", "MB",
            note="shared pages counted once"),
        "PSS added by a 3rd worker": figure(round(pss_extra, 1), "<= 25", "MB"),
        "RSS nginx + gunicorn master + 2 workers": figure(
            round(total, 1), unit="MB", note="counts shared pages once per process"),
        "RSS added by a 3rd worker": figure(round(extra_rss, 1), unit="MB"),
        "private memory (USS) of one worker": figure(
            round(median(memory["worker_uss"]) / mb, 1), unit="MB"),
        "floor: Flask + SQLAlchemy app, nginx + master + 2 workers, RSS": figure(
            round((memory["nginx_rss"] + floor["rss_2_workers"]) / mb, 1), unit="MB",
            note="bench/floor_app.py (one route, 'ok'), preloaded, gthread, 2 workers, with "
                 "this run's nginx: the least any app on these parts takes"),
        "floor: RSS added by a 3rd worker": figure(
            round((floor["rss_3_workers"] - floor["rss_2_workers"]) / mb, 1), unit="MB"),
        "cache HIT req/s": figure(round(hit["requests_per_sec"]), unit="req/s"),
        "static file req/s": figure(round(static["requests_per_sec"]), unit="req/s"),
        "uncached via nginx req/s": figure(round(through["requests_per_sec"]), unit="req/s"),
        "gunicorn direct req/s": figure(round(direct["requests_per_sec"]), unit="req/s"),
        "p99 cache HIT / via nginx": figure(
            f"{hit['p99_ms']:.1f} / {through['p99_ms']:.1f}", unit="ms"),
        "uWSGI: uncached via nginx req/s": figure(
            round(uwsgi_through["requests_per_sec"]), unit="req/s",
            note="the same page and cookie through the same nginx site, uwsgi_pass to a unix "
                 "socket; turns taken with gunicorn's"),
        "uWSGI / gunicorn: uncached via nginx req/s": figure(
            round(uwsgi_through["requests_per_sec"] / through["requests_per_sec"], 3),
            note="> 1: uWSGI serves more cache misses"),
        "uWSGI: p99 uncached via nginx (gunicorn's)": figure(
            f"{uwsgi_through['p99_ms']:.1f} ({through['p99_ms']:.1f})", unit="ms"),
        "uWSGI: PSS nginx + master + 2 workers": figure(
            round(uwsgi_memory["pss_2_workers"] / mb, 1), unit="MB",
            note=f"gunicorn's: {memory['pss_2_workers'] / mb:.1f} MB (goal <= 100); both after "
                 f">= {MEMORY_REQUESTS:,} requests (workers recycled every "
                 f"{gunicorn.MAX_REQUESTS})"),
        "uWSGI: private memory (USS) of one worker": figure(
            round(median(uwsgi_memory["worker_uss"]) / mb, 1), unit="MB"),
        "non-2xx + socket errors": figure(errors, "== 0"),
    }
    raw = {"page_bytes": page_bytes, "path": POST_PATH, "sides": sides, "memory": memory,
           "uwsgi_memory": uwsgi_memory, "floor_memory": floor,
           "settings": settings.__dict__}
    return {"name": "stack", "ratios": ratios, "raw": raw}
