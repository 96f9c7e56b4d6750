"""Import speed: `inkwell import DIR` of 1,000 generated Markdown posts into an empty, migrated
SQLite database. Goal <= 5 s end to end.

Each post has front matter with tags, ~600 words, a fenced code block, a table and a link; one in
ten has inline math. Measured twice per round: the `inkwell import` subprocess (what a user waits
for: interpreter start, app start, parse, render, sanitize, index, commit) and
`inkwell.content.files.import_path` in-process (the pipeline alone). Then the re-import of the
same, unchanged files. Median of 3 rounds, each on a fresh database (1 round with --quick).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

from .common import (
    BIN,
    BenchError,
    cpu_layout,
    figure,
    inkwell,
    instance_env,
    is_quick,
    median,
    scratch,
    timed,
)
from .fixtures import generate_posts

POSTS = 1000
GOAL = "<= 5"


def _expect(output: str, count: int, what: str) -> None:
    if not re.search(rf"\b{count} {what}\b", output):
        raise BenchError(f"expected {count} {what}, inkwell said: {output.strip()}")


@contextmanager
def _on_server_core() -> Iterator[None]:
    before = os.sched_getaffinity(0)
    server_cpu, _ = cpu_layout()
    os.sched_setaffinity(0, {int(server_cpu)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _migrated_instance(folder: Path) -> dict[str, str]:
    """An empty instance in a new `folder`, its database migrated: what `inkwell import` gets."""
    folder.mkdir(parents=True)
    env = instance_env(folder)
    inkwell(["db", "upgrade"], env, folder)
    return env


def in_process(folder: Path, posts: Path) -> tuple[float, float]:
    """Seconds for import_path into a fresh database, then for re-importing the same files."""
    from inkwell import create_app
    from inkwell.content.files import import_path
    from inkwell.database import write_intent
    from inkwell.extensions import db

    env = _migrated_instance(folder)
    with patch.dict(os.environ, env):
        app = create_app()
    timings = []
    with app.app_context(), write_intent(), _on_server_core():
        for expected in ("created", "unchanged"):
            started = time.perf_counter()
            report = import_path(posts, app.config["IMPORT_MAX_FILE_SIZE"])
            timings.append(time.perf_counter() - started)
            if report.errors or len(getattr(report, expected)) != POSTS:
                raise BenchError(
                    f"in-process import: {expected} {len(getattr(report, expected))}, "
                    f"errors {report.errors[:3]}"
                )
        db.session.remove()
        db.engine.dispose()
    return timings[0], timings[1]


def main(results_dir: Path) -> dict:
    rounds = 1 if is_quick() else 3
    cli_first, cli_again, lib_first, lib_again = [], [], [], []
    with scratch("import") as tmp:
        posts = tmp / "posts"
        generate_posts(posts, POSTS)
        source_bytes = sum(p.stat().st_size for p in posts.iterdir())
        cli_import = [str(BIN / "inkwell"), "import", str(posts)]
        for n in range(rounds):
            folder = tmp / f"cli-{n}"
            env = _migrated_instance(folder)
            elapsed, out = timed(cli_import, env, folder)
            _expect(out, POSTS, "created")
            cli_first.append(elapsed)
            elapsed, out = timed(cli_import, env, folder)
            _expect(out, POSTS, "unchanged")
            cli_again.append(elapsed)

            first, again = in_process(tmp / f"lib-{n}", posts)
            lib_first.append(first)
            lib_again.append(again)

    return {
        "name": "import_speed",
        "ratios": {
            f"inkwell import, {POSTS} posts": figure(round(median(cli_first), 2), GOAL, "s"),
            f"import_path in-process, {POSTS} posts": figure(round(median(lib_first), 2), unit="s"),
            "re-import, all unchanged (CLI)": figure(round(median(cli_again), 2), unit="s"),
            "re-import, all unchanged (in-process)": figure(round(median(lib_again), 2), unit="s"),
            "posts per second (CLI)": figure(round(POSTS / median(cli_first)), unit="posts/s"),
        },
        "raw": {
            "posts": POSTS,
            "source_bytes": source_bytes,
            "rounds": rounds,
            "cli_import_s": cli_first,
            "cli_reimport_s": cli_again,
            "import_path_s": lib_first,
            "import_path_reimport_s": lib_again,
        },
    }
