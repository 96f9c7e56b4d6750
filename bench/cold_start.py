"""Cold start: from `gunicorn inkwell.wsgi:app` (1 worker) being started to the first 200 of `/`.

The database exists and is migrated (`inkwell setup`), as after a deploy or a reboot. A tight loop
polls the port; median of 5 starts. Goal <= 0.6 s. To locate the cost the scenario also times
`python -c "import inkwell.wsgi"` alone, a bare interpreter and a bare Flask app under gunicorn,
and lists which packages the import spends its time in (`python -X importtime`).
"""

from __future__ import annotations

import http.client
import re
import subprocess
import time
from collections import defaultdict
from pathlib import Path

from .common import (
    BIN,
    BenchError,
    clean_env,
    figure,
    inkwell,
    instance_env,
    is_quick,
    median,
    scratch,
    start_gunicorn,
    stop,
    timed,
)

GOAL = "<= 0.6"
TIMEOUT = 30.0


def _get_status(port: int) -> int | None:
    """The status of GET / or None while nothing listens yet."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status
    except (ConnectionRefusedError, ConnectionResetError, http.client.RemoteDisconnected):
        return None
    finally:
        conn.close()


def time_to_first_200(app: str, env: dict[str, str], cwd: Path) -> float:
    """Seconds from Popen to the first 200 of `/`."""
    server = start_gunicorn(app, env, cwd)
    log = server.log
    try:
        while True:
            status = _get_status(server.port)
            elapsed = time.perf_counter() - server.started
            if status == 200:
                return elapsed
            if status is not None:
                raise BenchError(
                    f"GET / answered {status} while starting:\n{log.read_text(errors='replace')}"
                )
            if server.proc.poll() is not None or elapsed > TIMEOUT:
                raise BenchError(f"gunicorn never answered 200:\n{log.read_text(errors='replace')}")
            time.sleep(0.001)
    finally:
        stop(server.proc)


def import_cost_by_package(env: dict[str, str], cwd: Path, top: int = 10) -> dict[str, float]:
    """Milliseconds of `import inkwell.wsgi` spent in each top-level package (self time)."""
    done = subprocess.run(
        [str(BIN / "python"), "-X", "importtime", "-c", "import inkwell.wsgi"],
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
    )
    per_package: dict[str, float] = defaultdict(float)
    for match in re.finditer(
        r"^import time:\s+(\d+) \|\s+\d+ \|\s+(\S+)$", done.stderr, re.MULTILINE
    ):
        per_package[match.group(2).split(".")[0]] += int(match.group(1)) / 1000
    ranked = sorted(per_package.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return {name: round(ms, 1) for name, ms in ranked}


def main(results_dir: Path) -> dict:
    starts = 2 if is_quick() else 5
    python = str(BIN / "python")
    with scratch("cold-start") as tmp:
        env = instance_env(tmp)
        inkwell(["setup"], env, tmp)
        time_to_first_200("inkwell.wsgi:app", env, tmp)  # warm the page cache of the file system
        inkwell_starts = [time_to_first_200("inkwell.wsgi:app", env, tmp) for _ in range(starts)]
        imports = [timed([python, "-c", "import inkwell.wsgi"], env, tmp)[0] for _ in range(starts)]
        bare_python = [timed([python, "-c", "pass"], env, tmp)[0] for _ in range(starts)]
        page = tmp / "bare.html"
        page.write_text("<!doctype html><title>bare</title><p>hello</p>\n")
        bare_env = {"BENCH_BARE_PAGE": str(page)}
        bare_starts = [
            time_to_first_200("bench.bare_app:app", bare_env, tmp) for _ in range(starts)
        ]
        packages = import_cost_by_package(env, tmp)

    first_200 = median(inkwell_starts)
    return {
        "name": "cold_start",
        "ratios": {
            "start to first 200 of /": figure(round(first_200, 3), GOAL, "s"),
            "python -c 'import inkwell.wsgi'": figure(round(median(imports), 3), unit="s"),
            "python -c 'pass'": figure(round(median(bare_python), 3), unit="s"),
            "bare Flask: start to first 200": figure(round(median(bare_starts), 3), unit="s"),
            "Inkwell start / bare Flask start": figure(
                round(first_200 / median(bare_starts), 2), note="informational, less noisy"
            ),
            "slowest import": figure(
                next(iter(packages.values()), None), unit="ms", note=next(iter(packages), "")
            ),
        },
        "raw": {
            "starts": starts,
            "inkwell_first_200_s": inkwell_starts,
            "import_inkwell_wsgi_s": imports,
            "python_pass_s": bare_python,
            "bare_flask_first_200_s": bare_starts,
            "import_self_ms_by_package": packages,
        },
    }
