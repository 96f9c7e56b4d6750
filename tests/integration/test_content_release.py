"""Where the content folder is imported besides a push (issue 20): the Procfile's `release` line
(a PaaS runs it in the app's folder before new web processes) and compose's one-shot setup
service (`inkwell deploy compose-setup`, WORKDIR /app, the image carrying /app/content; media on
an S3 API, moto's server standing in for MinIO)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from io import BytesIO
from pathlib import Path

import yaml
from PIL import Image
from sqlalchemy import create_engine, text

from inkwell.config import new_secret_key, normalise_database_url

from ..services import BIN, PG_ADMIN_URL, new_bucket

REPO = Path(__file__).resolve().parents[2]


def app_folder(tmp_path: Path) -> Path:
    """The app's folder as a platform or the image has it: the repository's content folder,
    plus a post with a figure."""
    app = tmp_path / "app"
    shutil.copytree(REPO / "content", app / "content")
    post = app / "content" / "posts" / "2026-11-tail-latency"
    post.mkdir()
    (post / "index.md").write_text("---\ntitle: Tail latency\n---\n\n![Fig. 1](p99.png)\n")
    image = BytesIO()
    Image.new("RGB", (1000, 400), (10, 20, 30)).save(image, "PNG")
    (post / "p99.png").write_bytes(image.getvalue())
    return app


def environment(tmp_path: Path, database_url: str, **more: str) -> dict[str, str]:
    return {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "INKWELL_ENV": "production",
            "SECRET_KEY": new_secret_key(), "SITE_URL": "https://blog.example",
            "INKWELL_INSTANCE_PATH": str(tmp_path / "data"), "DATABASE_URL": database_url,
            **more}


def posts(database_url: str) -> dict[str, str]:
    engine = create_engine(normalise_database_url(database_url))
    try:
        with engine.connect() as db:
            return dict(db.execute(text(
                "SELECT slug, body_html FROM posts WHERE status = 'published'")).all())
    finally:
        engine.dispose()


def test_the_procfile_release_line_imports_the_content_folder(tmp_path, empty_pg_database,
                                                             s3_endpoint):
    app = app_folder(tmp_path)
    lines = dict(line.split(":", 1) for line in (REPO / "Procfile").read_text().splitlines()
                 if line.strip() and not line.startswith("#"))
    database_url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + empty_pg_database
    # Media in a bucket: on a PaaS, local media in the temporary folder is refused.
    env = environment(tmp_path, database_url, MEDIA_BACKEND="s3", **new_bucket(s3_endpoint))
    done = subprocess.run(["bash", "-c", lines["release"].strip()], cwd=app, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    imported = posts(database_url)
    assert {"welcome", "about", "tail-latency"} <= imported.keys(), done.stdout
    assert "<picture>" in imported["tail-latency"]
    # A bad file fails the release (the platform keeps the previous one), naming file and line.
    (app / "content" / "posts" / "bad.md").write_text("---\ntitle: [oops\n---\nText\n")
    failed = subprocess.run(["bash", "-c", lines["release"].strip()], cwd=app, env=env,
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode != 0 and "content/posts/bad.md:2:" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_compose_setup_service_imports_the_image_content_with_media_on_s3(tmp_path, s3_endpoint):
    compose = yaml.safe_load((REPO / "compose.yaml").read_text())
    command = compose["services"]["setup"]["command"]
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    assert argv[:3] == ["inkwell", "deploy", "compose-setup"], argv
    app = app_folder(tmp_path)  # WORKDIR /app, as the image has it
    bucket = new_bucket(s3_endpoint, public=False)
    bucket["S3_BUCKET"] += "-fresh"  # not made yet: compose-setup makes it, as on a first start
    database_url = f"sqlite:///{tmp_path / 'blog.sqlite3'}"
    env = environment(tmp_path, database_url, MEDIA_BACKEND="s3", **bucket,
                      S3_PUBLIC_URL=f"{s3_endpoint}/{bucket['S3_BUCKET']}")
    # The container's volumes (/srv/nginx, ...) become folders of this test.
    argv = [str(BIN / "inkwell"), *[str(tmp_path / Path(a).name) if a.startswith("/") else a
                                    for a in argv[1:]]]
    done = subprocess.run(argv, cwd=app, env={**os.environ, **env}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    imported = posts(database_url)
    assert {"welcome", "about", "tail-latency"} <= imported.keys()
    assert f"{s3_endpoint}/{bucket['S3_BUCKET']}/" in imported["tail-latency"]
