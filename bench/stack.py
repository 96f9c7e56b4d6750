"""The production stack (`make stack`: nginx -> gunicorn -> SQLite) measured side by side.

nginx (1 worker) and gunicorn (2 gthread workers, gunicorn.conf.py) share the server core; wrk
runs on the other core over HTTPS with keep-alive, like a browser would.

- cache: the welcome post from nginx's microcache (HIT) vs the very same bytes as a file nginx
  serves from disk (/media/). Goal >= 0.5.
- proxy: the same page uncached (the app answers `max-age=0`, so nginx stores nothing) through
  nginx vs straight from gunicorn (plain HTTP). Goal >= 0.85.
- memory after >= 10k requests: RSS of nginx (master + worker) + gunicorn master + 2 workers
  (goal <= 150 MB), then one more worker (SIGTTIN) and 10k more requests: the added RSS and the
  added private memory (USS: what the system gets back when that worker exits). Goal <= 30 MB.
"""

from __future__ import annotations

import re
import signal
import ssl
import time
import urllib.request
from pathlib import Path

from inkwell.deploy.stack import Stack

from .common import (
    BenchError,
    clean_env,
    cpu_layout,
    descendants,
    figure,
    free_port,
    instance_env,
    load_settings,
    measure_side_by_side,
    rss_bytes,
    run_wrk,
    scratch,
)

POST_PATH = "/posts/welcome/"
STATIC_NAME = "bench-post.html"
MEMORY_REQUESTS = 10_000


def _start(tmp: Path, name: str, cache_seconds: int, workers: int = 2) -> Stack:
    folder = tmp / name
    folder.mkdir()
    env = clean_env({**instance_env(folder), "WEB_CONCURRENCY": str(workers),
                     "CACHE_MAX_AGE": str(cache_seconds), "MEDIA_ROOT": str(folder / "media")})
    stack = Stack(app_dir=folder, run_dir=folder / "run", http_port=free_port(),
                  https_port=free_port(), log_to_files=True, base_env=env)
    server_cpu, _ = cpu_layout()
    return stack.start(app_cpu=server_cpu, nginx_cpu=server_cpu)


def _get(stack: Stack, url: str) -> tuple[bytes, dict]:
    context = ssl.create_default_context(cafile=str(stack.ca_file))
    with urllib.request.urlopen(url, context=context, timeout=10) as response:
        return response.read(), dict(response.headers)


def _uss_bytes(pid: int) -> int:
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return sum(int(kb) * 1024 for kb in re.findall(r"^Private_(?:Clean|Dirty):\s+(\d+) kB",
                                                    text, re.M))


def _drive(url: str, requests: int) -> int:
    """Load until at least `requests` were served; return how many were."""
    served = 0
    while served < requests:
        served += run_wrk(url, 3)["requests"]
    return served


def _cache_side(tmp: Path, settings) -> tuple[dict, int]:
    stack = _start(tmp, "cached", cache_seconds=3600)
    try:
        page, _ = _get(stack, stack.https_url + POST_PATH)
        _, headers = _get(stack, stack.https_url + POST_PATH)
        if headers.get("X-Cache-Status") != "HIT":
            raise BenchError(f"second GET was {headers.get('X-Cache-Status')}, not a cache HIT")
        (Path(stack.settings.media_root) / STATIC_NAME).write_bytes(page)
        static, _ = _get(stack, f"{stack.https_url}/media/{STATIC_NAME}")
        if static != page:
            raise BenchError("nginx's static copy differs from the cached page")
        results = measure_side_by_side({
            "nginx_cache_hit": stack.https_url + POST_PATH,
            "nginx_static_file": f"{stack.https_url}/media/{STATIC_NAME}",
        }, settings)
    finally:
        stack.stop()
    return results, len(page)


def _proxy_and_memory(tmp: Path, settings) -> tuple[dict, dict]:
    stack = _start(tmp, "uncached", cache_seconds=0)
    try:
        for _ in range(2):
            _, headers = _get(stack, stack.https_url + POST_PATH)
            if headers.get("X-Cache-Status") != "MISS":
                raise BenchError(f"uncached page was {headers.get('X-Cache-Status')}, not MISS")
        results = measure_side_by_side({
            "through_nginx": stack.https_url + POST_PATH,
            "gunicorn_direct": stack.app_url + POST_PATH,
        }, settings)
        nginx_pid, app_pid = stack._nginx.pid, stack._app.pid
        served = sum(r["requests"] for r in results["through_nginx"]["runs"])
        served += _drive(stack.https_url + POST_PATH, max(0, MEMORY_REQUESTS - served))
        two = {"nginx": rss_bytes(nginx_pid), "gunicorn": rss_bytes(app_pid),
               "workers": sorted(descendants(app_pid))}

        stack._app.send_signal(signal.SIGTTIN)  # gunicorn: one more worker
        for _ in range(200):
            if len(descendants(app_pid)) == 3:
                break
            time.sleep(0.05)
        added = sorted(set(descendants(app_pid)) - set(two["workers"]))
        if len(added) != 1:
            raise BenchError(f"expected one new gunicorn worker, found {added}")
        _drive(stack.https_url + POST_PATH, MEMORY_REQUESTS)
        memory = {
            "requests_before_measuring": served,
            "nginx_rss": two["nginx"],
            "gunicorn_rss_2_workers": two["gunicorn"],
            "gunicorn_rss_3_workers": rss_bytes(app_pid),
            "added_worker_uss": _uss_bytes(added[0]),
            "worker_uss": [_uss_bytes(pid) for pid in descendants(app_pid)],
        }
    finally:
        stack.stop()
    return results, memory


def main(results_dir: Path) -> dict:
    settings = load_settings()
    with scratch("stack") as tmp:
        cache, page_bytes = _cache_side(tmp, settings)
        proxy, memory = _proxy_and_memory(tmp, settings)

    mb = 2**20
    total = (memory["nginx_rss"] + memory["gunicorn_rss_2_workers"]) / mb
    extra_rss = (memory["gunicorn_rss_3_workers"] - memory["gunicorn_rss_2_workers"]) / mb
    sides = {**cache, **proxy}
    errors = sum(r["non_2xx"] + r["socket_errors"] for r in sides.values())
    hit, static = cache["nginx_cache_hit"], cache["nginx_static_file"]
    through, direct = proxy["through_nginx"], proxy["gunicorn_direct"]
    ratios = {
        "cache HIT / nginx static file": figure(
            round(hit["requests_per_sec"] / static["requests_per_sec"], 3), ">= 0.5"),
        "uncached via nginx / gunicorn direct": figure(
            round(through["requests_per_sec"] / direct["requests_per_sec"], 3), ">= 0.85"),
        "RSS nginx + gunicorn master + 2 workers": figure(round(total, 1), "<= 150", "MB"),
        "RSS added by a 3rd worker": figure(round(extra_rss, 1), "<= 30", "MB"),
        "private memory (USS) of the added worker": figure(
            round(memory["added_worker_uss"] / mb, 1), "<= 30", "MB"),
        "cache HIT req/s": figure(round(hit["requests_per_sec"]), unit="req/s"),
        "static file req/s": figure(round(static["requests_per_sec"]), unit="req/s"),
        "uncached via nginx req/s": figure(round(through["requests_per_sec"]), unit="req/s"),
        "gunicorn direct req/s": figure(round(direct["requests_per_sec"]), unit="req/s"),
        "p99 cache HIT / via nginx": figure(
            f"{hit['p99_ms']:.1f} / {through['p99_ms']:.1f}", unit="ms"),
        "non-2xx + socket errors": figure(errors, "== 0"),
    }
    raw = {"page_bytes": page_bytes, "path": POST_PATH, "sides": sides, "memory": memory,
           "settings": settings.__dict__}
    _print(ratios)
    return {"name": "stack", "ratios": ratios, "raw": raw}


def _print(ratios: dict) -> None:
    width = max(map(len, ratios))
    for label, fig in ratios.items():
        goal = f"  (goal {fig['goal']})" if fig.get("goal") else ""
        print(f"{label:<{width}}  {fig['value']} {fig.get('unit', '')}{goal}".rstrip())


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results"))["ratios"],
                     indent=2))
