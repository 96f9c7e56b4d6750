"""Instructions per request, in-process, counted by valgrind: a figure the host's noise cannot move.

The wrk ratio of `app_vs_bare` swings with whatever else the shared machine runs; an instruction
count does not (valgrind's callgrind counts the same total for the same program and input). Each
side runs `bench.wsgi_loop` (the WSGI app called in-process, no server) twice, N1 and N2 times;
(Ir(N2) - Ir(N1)) / (N2 - N1) is the cost of one request with start-up cancelled out. Sides: the
welcome post, the home page and /healthz of a production instance (same set-up as app_vs_bare),
and the bare Flask app serving the same HTML. Use it to see what a change to the hot path did,
before and after.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .app_vs_bare import EXTRA_POSTS
from .common import BIN, BenchError, clean_env, figure, is_quick, scratch
from .fixtures import POST_PATH, generate_posts, prepare_instance


def _instructions(target: str, path: str, count: int, env: dict[str, str], cwd: Path) -> int:
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         str(BIN / "python"), "-m", "bench.wsgi_loop", target, path, str(count)],
        cwd=cwd, env=clean_env(env), capture_output=True, text=True,
    )
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or not found:
        raise BenchError(f"callgrind run of {target} {path} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def per_request(target: str, path: str, env: dict[str, str], cwd: Path) -> int:
    few, many = (20, 120) if is_quick() else (50, 250)
    with ThreadPoolExecutor(2) as pool:  # counts do not depend on load: both at once
        low, high = pool.map(lambda n: _instructions(target, path, n, env, cwd), (few, many))
    return round((high - low) / (many - few))


def main(results_dir: Path) -> dict:
    if not shutil.which("valgrind"):
        note = "valgrind not installed (apt-get install valgrind)"
        return {"name": "instructions", "ratios": {"bare / post page": figure(None, note=note)},
                "raw": {}}
    with scratch("instructions") as tmp:
        posts = tmp / "posts"
        generate_posts(posts, EXTRA_POSTS)
        env = prepare_instance(tmp / "sqlite", posts)
        cwd = tmp / "sqlite"
        page = tmp / "page.html"
        # Also fills the instance's compiled-template cache first: otherwise one of the two
        # counted runs may compile the templates and the other load them, and the difference
        # (a one-off cost) would land in the per-request figure.
        page.write_bytes(_page_html(env, cwd))
        post = per_request("inkwell.wsgi:app", POST_PATH, env, cwd)
        home = per_request("inkwell.wsgi:app", "/", env, cwd)
        health = per_request("inkwell.wsgi:app", "/healthz", env, cwd)
        bare = per_request("bench.bare_app:app", "/", {"BENCH_BARE_PAGE": str(page)}, tmp)
    return {
        "name": "instructions",
        "ratios": {
            "post page, instructions per request": figure(post, unit="instr"),
            "home page (10 posts listed), instructions per request": figure(home, unit="instr"),
            "/healthz (the app's own per-request floor)": figure(health, unit="instr"),
            "bare Flask, same HTML": figure(bare, unit="instr"),
            "bare / post page": figure(round(bare / post, 3), note="in-process, no server"),
        },
        "raw": {"post": post, "home": home, "healthz": health, "bare": bare, "path": POST_PATH},
    }


def _page_html(env: dict[str, str], cwd: Path) -> bytes:
    """The post page's bytes, for the bare side to serve verbatim (the home page is rendered first
    so that every template the counted runs use is compiled and cached)."""
    script = (
        "import sys; from bench.wsgi_loop import environ; from inkwell.wsgi import app; "
        "b''.join(app(environ('/'), lambda *a: None)); "
        f"sys.stdout.buffer.write(b''.join(app(environ({POST_PATH!r}), lambda *a: None)))"
    )
    done = subprocess.run(
        [str(BIN / "python"), "-c", script], cwd=cwd, env=clean_env(env), capture_output=True
    )
    if done.returncode != 0 or not done.stdout:
        raise BenchError(f"could not fetch {POST_PATH} in-process:\n{done.stderr.decode()[-2000:]}")
    return done.stdout
