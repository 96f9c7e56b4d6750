"""The production stack (`make stack`: nginx -> gunicorn -> SQLite) measured side by side.

nginx (1 worker) and gunicorn (2 gthread workers, gunicorn.conf.py) share the server core; wrk
runs on the other core over HTTPS with keep-alive, like a browser would.

- cache: the welcome post from nginx's microcache (HIT) vs the very same bytes as a file nginx
  serves from disk (/media/). Goal >= 0.5.
- proxy: the same page uncached, as a logged-in author gets it (the session cookie makes nginx
  skip its cache), through nginx vs straight from gunicorn (plain HTTP), the same cookie sent
  to both. Goal >= 0.85.
- memory after >= 10k requests: RSS of nginx (master + worker) + gunicorn master + 2 workers
  (goal <= 150 MB), then one more worker (SIGTTIN) and 10k more requests: the added RSS, and the
  private memory (USS: what the system gets back when a worker exits) of a worker. Goal <= 30 MB.
"""

from __future__ import annotations

import re
import shutil
import signal
import ssl
import subprocess
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
    median,
    parse_wrk,
    pinned,
    rss_bytes,
    scratch,
    summarise_runs,
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


def _get(stack: Stack, url: str, headers: dict | None = None) -> tuple[bytes, dict]:
    context = ssl.create_default_context(cafile=str(stack.ca_file))
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return response.read(), dict(response.headers)


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


def _drive(url: str, requests: int, uncached: bool = False, cookie: str = "") -> int:
    """Load until at least `requests` were served; return how many were."""
    settings = load_settings()
    served = 0
    while served < requests:
        header = f"Cookie: {cookie}=bench" if uncached else ""
        served += _wrk_side_by_side({"load": (url, header)},
                                    type(settings)(duration=3, runs=1, warmup=0))["load"][
            "requests"]
    return served


def _wrk_side_by_side(urls: dict[str, tuple[str, str]], settings) -> dict[str, dict]:
    """measure_side_by_side with one request header per side (wrk -H), same rotation."""
    wrk = shutil.which("wrk")
    if not wrk:
        raise BenchError("wrk is not installed: apt-get install wrk")
    _, load_cpu = cpu_layout()

    def run(label: str, seconds: int) -> dict:
        url, header = urls[label]
        argv = [wrk, "-t1", f"-c{settings.connections}", f"-d{seconds}s", "--latency"]
        done = subprocess.run(pinned(load_cpu, [*argv, *(["-H", header] if header else []), url]),
                              capture_output=True, text=True, timeout=seconds + 60)
        if done.returncode != 0:
            raise BenchError(f"wrk failed: {done.stderr or done.stdout}")
        return parse_wrk(done.stdout)

    labels = list(urls)
    for label in labels:
        if settings.warmup:
            run(label, settings.warmup)
    runs: dict[str, list[dict]] = {label: [] for label in labels}
    for i in range(settings.runs):
        for label in labels[i % len(labels):] + labels[: i % len(labels)]:
            runs[label].append(run(label, settings.duration))
    return {label: summarise_runs(runs[label]) for label in labels}


def _measure(stack: Stack, settings) -> tuple[dict, int]:
    page, _ = _get(stack, stack.https_url + POST_PATH)
    _, headers = _get(stack, stack.https_url + POST_PATH)
    if headers.get("X-Cache-Status") != "HIT":
        raise BenchError(f"second GET was {headers.get('X-Cache-Status')}, not a cache HIT")
    (Path(stack.settings.media_root) / STATIC_NAME).write_bytes(page)
    static, _ = _get(stack, f"{stack.https_url}/media/{STATIC_NAME}")
    if static != page:
        raise BenchError("nginx's static copy differs from the cached page")
    author = f"Cookie: {stack.settings.session_cookie}=bench"
    _, headers = _get(stack, stack.https_url + POST_PATH, {"Cookie": author[8:]})
    if headers.get("X-Cache-Status") != "BYPASS":
        raise BenchError(f"a request with the session cookie was {headers.get('X-Cache-Status')}")
    results = _wrk_side_by_side({
        "nginx_cache_hit": (stack.https_url + POST_PATH, ""),
        "nginx_static_file": (f"{stack.https_url}/media/{STATIC_NAME}", ""),
        # The session cookie makes nginx skip its cache: every request reaches the app.
        "uncached_through_nginx": (stack.https_url + POST_PATH, author),
        "gunicorn_direct": (stack.app_url + POST_PATH, author),
    }, settings)
    return results, len(page)


def _memory(stack: Stack, served: int) -> dict:
    nginx_pid, app_pid = stack._nginx.pid, stack._app.pid
    served += _drive(stack.https_url + POST_PATH, max(0, MEMORY_REQUESTS - served), uncached=True,
                     cookie=stack.settings.session_cookie)
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
    _drive(stack.https_url + POST_PATH, MEMORY_REQUESTS, uncached=True,
           cookie=stack.settings.session_cookie)
    # Workers are recycled after max_requests, so measure whichever three are alive now.
    workers = descendants(app_pid)
    return {
        "requests_before_measuring": served,
        "nginx_rss": two["nginx"],
        "gunicorn_rss_2_workers": two["gunicorn"],
        "pss_2_workers": two["pss"],
        "gunicorn_rss_3_workers": rss_bytes(app_pid),
        "pss_3_workers": _pss_bytes([nginx_pid, *descendants(nginx_pid), app_pid, *workers]),
        "worker_uss": [_uss_bytes(pid) for pid in workers],
        "worker_rss": [rss_bytes(pid) for pid in workers],
        "master_rss": rss_bytes(app_pid) - sum(rss_bytes(pid) for pid in workers),
    }


def main(results_dir: Path) -> dict:
    settings = load_settings()
    with scratch("stack") as tmp:
        stack = _start(tmp, "stack", cache_seconds=3600)
        try:
            sides, page_bytes = _measure(stack, settings)
            served = sum(r["requests"] for r in sides["uncached_through_nginx"]["runs"])
            memory = _memory(stack, served)
        finally:
            stack.stop()

    mb = 2**20
    total = (memory["nginx_rss"] + memory["gunicorn_rss_2_workers"]) / mb
    extra_rss = (memory["gunicorn_rss_3_workers"] - memory["gunicorn_rss_2_workers"]) / mb
    errors = sum(r["non_2xx"] + r["socket_errors"] for r in sides.values())
    hit, static = sides["nginx_cache_hit"], sides["nginx_static_file"]
    through, direct = sides["uncached_through_nginx"], sides["gunicorn_direct"]
    pss_extra = (memory["pss_3_workers"] - memory["pss_2_workers"]) / mb
    ratios = {
        "cache HIT / nginx static file": figure(
            round(hit["requests_per_sec"] / static["requests_per_sec"], 3), ">= 0.5"),
        "uncached via nginx / gunicorn direct": figure(
            round(through["requests_per_sec"] / direct["requests_per_sec"], 3), ">= 0.85"),
        "RSS nginx + gunicorn master + 2 workers": figure(round(total, 1), "<= 150", "MB"),
        "RSS added by a 3rd worker": figure(round(extra_rss, 1), "<= 30", "MB"),
        "PSS nginx + gunicorn master + 2 workers": figure(
            round(memory["pss_2_workers"] / mb, 1), unit="MB", note="shared pages counted once"),
        "PSS added by a 3rd worker": figure(round(pss_extra, 1), unit="MB"),
        "private memory (USS) of one worker": figure(
            round(median(memory["worker_uss"]) / mb, 1), "<= 30", "MB"),
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
