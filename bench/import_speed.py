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
import random
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .common import (
    BIN,
    BenchError,
    clean_env,
    cpu_layout,
    figure,
    inkwell,
    instance_env,
    is_quick,
    median,
    pinned,
    scratch,
)

POSTS = 1000
GOAL = "<= 5"

_WORDS = (
    "the a of to and in that is for it on with as was at by this be from or have an they which "
    "one you were all we when there can more if no out so said what up its about into than them "
    "only other new some could time these two may then first any like now my such make over did "
    "deploy server request cache worker latency database query index table column migration "
    "release rollback template markdown render post reader feed search tag archive page static "
    "nginx gunicorn python flask sqlite postgres memory process thread socket header cookie "
    "session token secret config setting environment backup restore import export benchmark"
).split()
_TAGS = ["python", "flask", "ops", "notes", "sqlite", "postgres", "nginx", "web", "testing", "css"]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 18))]
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random, words: int) -> str:
    out: list[str] = []
    while sum(len(s.split()) for s in out) < words:
        out.append(_sentence(rng))
    return " ".join(out)


def generate_post(index: int, rng: random.Random) -> str:
    """A realistic post: front matter with tags, ~600 words, a code block, a table, a link,
    inline math in one post out of ten."""
    date = datetime(2020, 1, 1, 9, 0, tzinfo=UTC) + timedelta(hours=37 * index)
    tags = ", ".join(rng.sample(_TAGS, rng.randint(1, 3)))
    math = (
        " The cost grows as $O(n \\log n)$ while $a^2 + b^2 = c^2$ holds."
        if index % 10 == 0
        else ""
    )
    parts = [
        "---",
        f"title: Generated post number {index}",
        f"slug: generated-{index:04d}",
        f"date: {date:%Y-%m-%dT%H:%M:%S}",
        f"description: Post {index}, made by the benchmark to look like a real one.",
        f"tags: [{tags}]",
        "---",
        "",
        _paragraph(rng, 90) + math,
        "",
        f"See [the documentation](https://example.org/docs/{index}) for the details.",
        "",
        "## Setting it up",
        "",
        _paragraph(rng, 120),
        "",
        "```python",
        f"def handler_{index}(request):",
        "    rows = db.session.scalars(select(Post).limit(10)).all()",
        '    return {"count": len(rows), "ok": True}',
        "```",
        "",
        _paragraph(rng, 110),
        "",
        "| step | seconds | note |",
        "|------|--------:|------|",
        *(
            f"| {name} | {rng.randint(1, 90)} | {rng.choice(_WORDS)} |"
            for name in ("build", "test", "ship")
        ),
        "",
        "## What we learned",
        "",
        _paragraph(rng, 130),
        "",
        _paragraph(rng, 120),
        "",
    ]
    return "\n".join(parts)


def generate_posts(folder: Path, count: int, seed: int = 2) -> list[Path]:
    """Write `count` generated posts as Markdown files in `folder` (same seed, same files)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    paths = []
    for i in range(1, count + 1):
        path = folder / f"generated-{i:04d}.md"
        path.write_text(generate_post(i, rng), encoding="utf-8")
        paths.append(path)
    return paths


def _timed_cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    server_cpu, _ = cpu_layout()
    started = time.perf_counter()
    done = subprocess.run(
        pinned(server_cpu, [str(BIN / "inkwell"), *args]),
        cwd=cwd,
        env=clean_env(env),
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"inkwell {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return elapsed, done.stdout


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


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def in_process(folder: Path, posts: Path) -> tuple[float, float]:
    """Seconds for import_path into a fresh database, then for re-importing the same files."""
    from inkwell import create_app
    from inkwell.content.files import import_path
    from inkwell.database import write_intent
    from inkwell.extensions import db

    folder.mkdir(parents=True)
    env = instance_env(folder)
    with _environment(env):
        inkwell(["db", "upgrade"], env, folder)
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
        for n in range(rounds):
            folder = tmp / f"cli-{n}"
            folder.mkdir()
            env = instance_env(folder)
            inkwell(["db", "upgrade"], env, folder)
            elapsed, out = _timed_cli(["import", str(posts)], env, folder)
            _expect(out, POSTS, "created")
            cli_first.append(elapsed)
            elapsed, out = _timed_cli(["import", str(posts)], env, folder)
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
