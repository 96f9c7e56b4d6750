"""Posts in git (issue 20): a content-only `git push` against a code push, through the real push
path, and the import of 1,000 posts with 1,000 figures.

Push: `inkwell deploy init`, the real pre-receive hook and deploy/releases.py, the service
restarted on its held socket by tests/integration/service_manager.py (the stand-in for systemd),
nginx in front (make stack's). Each push adds one new post; measured: `git push` alone, and from
`git push` starting to the new post answering 200 through nginx. A code push (a template change)
gets a copy of the running release's virtualenv (same lock files) with Inkwell installed again;
a content-only push reuses the running release's. Goal for the content-only push: <= 10 s.

Import: `inkwell setup` of a content folder of 1,000 generated posts, each in its own folder
with one distinct PNG figure (every figure decoded, cleaned, resized, WebP-encoded and stored),
into an empty SQLite database; then again, unchanged.
"""

from __future__ import annotations

import os
import shlex
import shutil
import ssl
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

from inkwell.deploy.stack import Stack

from .common import (
    BIN,
    ROOT,
    BenchError,
    cpu_layout,
    fetch,
    figure,
    free_port,
    instance_env,
    is_quick,
    pinned,
    scratch,
    timed,
)
from .fixtures import generate_posts

POSTS = 1000
GOAL = "<= 10"


def _png(index: int) -> bytes:
    """A small chart-like figure whose bytes differ for every index."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (800, 500), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    points = [(x, 250 + ((x * (index + 7)) % 200) - 100) for x in range(0, 800, 20)]
    draw.line(points, fill=(index % 256, 80, 160), width=3)
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _content_folder(folder: Path, count: int) -> None:
    """`count` posts, each `posts/<name>/index.md` beside the figure it links."""
    flat = folder.parent / "flat"
    generate_posts(flat, count)
    for i, post in enumerate(sorted(flat.iterdir()), start=1):
        target = folder / "posts" / post.stem
        target.mkdir(parents=True)
        (target / "index.md").write_text(post.read_text() + "\n![Figure 1](fig.png)\n")
        (target / "fig.png").write_bytes(_png(i))
    shutil.rmtree(flat)


def import_figures(tmp: Path) -> dict:
    content = tmp / "import" / "content"
    count = 100 if is_quick() else POSTS
    _content_folder(content, count)
    env = {**instance_env(tmp / "import"), "CONTENT_DIR": str(content)}
    setup = [str(BIN / "inkwell"), "setup"]
    first, out = timed(setup, env, tmp / "import")
    if f"{count} created" not in out:
        raise BenchError(f"inkwell setup did not import {count} posts: {out.strip()[-500:]}")
    again, out = timed(setup, env, tmp / "import")
    if f"{count} unchanged" not in out:
        raise BenchError(f"inkwell setup again: {out.strip()[-500:]}")
    return {"posts": count, "first_s": first, "again_s": again}


class PushSite:
    """A deploy root with its hook, the systemd stand-in and nginx, and a work tree."""

    def __init__(self, tmp: Path) -> None:
        self.root, self.work, self.tmp = tmp / "root", tmp / "work", tmp
        self.port, self.http_port, self.https_port = free_port(), free_port(), free_port()
        self.git_env = {"PATH": os.environ["PATH"], "HOME": str(tmp), "GIT_AUTHOR_NAME": "b",
                        "GIT_AUTHOR_EMAIL": "b@example.org", "GIT_COMMITTER_NAME": "b",
                        "GIT_COMMITTER_EMAIL": "b@example.org"}
        self.manager = [sys.executable, str(ROOT / "tests" / "integration" / "service_manager.py")]
        self.service: subprocess.Popen | None = None
        self.stack: Stack | None = None

    def git(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=self.work, env=self.git_env,
                              capture_output=True, text=True)

    def start(self) -> None:
        subprocess.run([str(BIN / "inkwell"), "deploy", "init", "--root", str(self.root),
                        "--site-url", "https://127.0.0.1"], env=self.git_env, check=True,
                       capture_output=True)
        env_file = self.root / "shared" / ".env"
        kept = [line for line in env_file.read_text().splitlines() if not line.startswith(
            ("APP_BIND=", "RESTART_COMMAND=", "SITE_URL=", "DOMAIN="))]
        restart = shlex.join([*self.manager, "restart", str(self.root)])
        env_file.write_text("\n".join([*kept, f"APP_BIND=127.0.0.1:{self.port}",
                                       f"SITE_URL=https://127.0.0.1:{self.https_port}",
                                       "WEB_CONCURRENCY=2", f"RESTART_COMMAND={restart}", ""]))
        listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                                capture_output=True, text=True, check=True).stdout.split("\0")
        for name in filter(None, listed):
            if (ROOT / name).is_file():
                (self.work / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, self.work / name)
        self.git("init", "-q", "-b", "main")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "release one")
        server_cpu, _ = cpu_layout()
        self.service = subprocess.Popen(
            pinned(server_cpu, [*self.manager, "serve", str(self.root), str(self.port)]),
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
        first = self.git("push", str(self.root / "repo.git"), "HEAD:main")
        if first.returncode != 0:
            raise BenchError(f"the first push failed:\n{first.stderr[-3000:]}")
        self.stack = Stack(app_dir=self.root / "shared", run_dir=self.tmp / "run",
                           http_port=self.http_port, https_port=self.https_port,
                           app_port=self.port, log_to_files=True, base_env=dict(os.environ))
        self.stack.prepare()
        self.stack.start_nginx(server_cpu)

    def push_new_post(self, name: str, code_change: bool) -> dict:
        """Add a post (and a template change for a code push), push; the timings."""
        post = self.work / "content" / "posts" / name
        post.mkdir(parents=True)
        (post / "index.md").write_text(f"---\ntitle: {name}\n---\n\nNew.\n\n![f](f.png)\n")
        (post / "f.png").write_bytes(_png(len(name)))
        if code_change:
            base = self.work / "src/inkwell/templates/base.html"
            base.write_text(base.read_text() + f"<!-- {name} -->\n")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", name)
        started = time.monotonic()
        done = subprocess.run(["git", "push", str(self.root / "repo.git"), "HEAD:main"],
                              cwd=self.work, env=self.git_env, capture_output=True, text=True)
        returned = time.monotonic()
        if done.returncode != 0:
            raise BenchError(f"the push of {name} failed:\n{done.stderr[-3000:]}")
        url = f"{self.stack.https_url}/posts/{name}/"
        tls = ssl.create_default_context(cafile=str(self.stack.ca_file))
        while fetch(url, context=tls)[0] != 200:
            if time.monotonic() - returned > 120:
                raise BenchError(f"{url} did not answer 200 within 120 s of the push")
            time.sleep(0.1)
        live = time.monotonic()
        return {"push_s": returned - started, "to_200_s": live - started,
                "after_return_s": live - returned,
                "reused_venv": "reused the virtualenv" in done.stderr}

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
        if self.service is not None:
            self.service.terminate()
            self.service.wait(60)


def main(results_dir: Path) -> dict:
    with scratch("push-content") as tmp:
        imported = import_figures(tmp)
        site = PushSite(tmp / "push")
        try:
            site.start()
            code = site.push_new_post("code-push", code_change=True)
            content = site.push_new_post("content-push", code_change=False)
        finally:
            site.stop()
    if not content["reused_venv"] or code["reused_venv"]:
        raise BenchError(f"venv reuse not as expected: code {code}, content {content}")
    count = imported["posts"]
    return {
        "name": "push_content",
        "ratios": {
            "content-only push: git push to 200 via nginx": figure(
                round(content["to_200_s"], 1), GOAL, "s",
                note=f"git push itself {content['push_s']:.1f} s; venv reused"),
            "code push: git push to 200 via nginx": figure(
                round(code["to_200_s"], 1), unit="s",
                note=f"git push itself {code['push_s']:.1f} s; venv copied, Inkwell installed"),
            "content-only / code push": figure(
                round(content["to_200_s"] / code["to_200_s"], 3)),
            f"inkwell setup, {count} posts with {count} figures": figure(
                round(imported["first_s"], 1), unit="s"),
            f"inkwell setup again, {count} unchanged": figure(
                round(imported["again_s"], 1), unit="s"),
        },
        "raw": {"import": imported, "code_push": code, "content_push": content},
    }
