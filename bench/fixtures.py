"""Shared fixtures: the page every scenario measures, generated posts, a ready instance.

`generate_posts()` writes realistic Markdown posts (always the same files); `prepare_instance()`
makes a migrated production instance with the welcome post (`POST_PATH`) and those posts.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from .common import inkwell, instance_env

POST_PATH = "/posts/welcome/"  # created by `inkwell setup`: code, math, a chart, a table
_SEED = 2  # a fixed seed: every run measures the same posts

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


def generate_posts(folder: Path, count: int) -> None:
    """Write `count` generated posts as Markdown files in `folder` (the same files every time)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(_SEED)
    for i in range(1, count + 1):
        (folder / f"generated-{i:04d}.md").write_text(generate_post(i, rng), encoding="utf-8")


def prepare_instance(folder: Path, posts: Path, database_url: str | None = None) -> dict[str, str]:
    """A migrated production instance with the welcome post and the generated posts."""
    folder.mkdir(parents=True, exist_ok=True)
    env = instance_env(folder, database_url)
    inkwell(["setup"], env, folder)
    inkwell(["import", str(posts)], env, folder)
    return env
