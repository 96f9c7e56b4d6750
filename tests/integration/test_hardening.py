"""What an attack on the running blog found (issue 15), kept found: each case answers with a 4xx or
a one-line error, never a 500, a traceback, or anything written."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select, update

from inkwell.database import write_intent
from inkwell.extensions import db
from inkwell.models import Media, Post

from .admin_support import add_admin, client_sign_in, csrf_token


@pytest.fixture
def author(app, client):
    add_admin(app)
    assert client_sign_in(client).status_code == 302
    return client


def gif(frames: int, delay_cs: int = 10) -> bytes:
    """A 1x1 animated GIF of `frames` identical frames, each shown `delay_cs` hundredths of a
    second, written byte by byte (Pillow's writer merges identical frames and sums them)."""
    header = b"GIF89a" + b"\x01\x00\x01\x00" + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    frame = (b"\x21\xf9\x04\x04" + delay_cs.to_bytes(2, "little") + b"\x00\x00"
             + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00" + b"\x02\x02\x44\x01\x00")
    return header + loop + frame * frames + b"\x3b"


HTML = b"<!doctype html><script>alert(document.domain)</script>"


def upload(client, data: bytes, name: str = "x.gif"):
    token = csrf_token(client.get("/admin/media/").text)
    return client.post("/admin/media/upload", data={"file": (io.BytesIO(data), name)},
                       headers={"X-CSRFToken": token, "Accept": "application/json"})


# --- 4. uploads: any decode or encode error is a refused image ----------------------------------


def test_a_gif_whose_frame_durations_overflow_is_refused_not_a_500(app, author):
    data = gif(2, 65_535)  # two identical frames of 655.35 s: Pillow merges them, 1310.7 s
    assert len(data) < 100
    response = upload(author, data)
    assert response.status_code == 400, response.text
    assert "could not be" in response.json["message"] or "image" in response.json["message"]
    with app.app_context():
        assert db.session.scalar(select(Media)) is None


# --- 5. frames capped; decoding runs in a child process with a time and memory budget ----------


def test_an_animation_with_more_frames_than_the_cap_is_refused(app, author):
    app.config["MEDIA_MAX_FRAMES"] = 1000
    assert upload(author, gif(1000)).status_code == 201
    response = upload(author, gif(1001))
    assert response.status_code == 400
    assert response.json["message"] == "The animation has 1001 frames; the limit is 1000."
    with app.app_context():
        assert db.session.query(Media).count() == 1


def test_decoding_past_its_time_budget_is_stopped_and_refused(app, author):
    app.config.update(MEDIA_MAX_FRAMES=1_000_000, MEDIA_PROCESS_SECONDS=1)
    response = upload(author, gif(50_000))  # ~20 s of CPU without the budget
    assert response.status_code == 400
    assert "takes too long to process" in response.json["message"]
    with app.app_context():
        assert db.session.scalar(select(Media)) is None


def test_decoding_past_its_memory_budget_is_refused(app, author, tmp_path):
    app.config["MEDIA_PROCESS_MEMORY"] = 300 * 1024**2
    big = io.BytesIO()
    Image.new("RGB", (7000, 7000), (10, 20, 30)).save(big, "PNG")  # 49 MP, a small file
    response = upload(author, big.getvalue(), "big.png")
    assert response.status_code == 400
    assert "too large to process" in response.json["message"]
    with app.app_context():
        assert db.session.scalar(select(Media)) is None
    assert not list((tmp_path / "media").glob("*"))


# --- 7. a next= with control characters is ignored like any unsafe one --------------------------


def test_a_next_with_a_newline_is_ignored_not_a_500(author):
    response = author.get("/admin/login?next=/admin/%0D%0AX-Injected:%201")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/"  # where a plain sign-in goes
    assert "X-Injected" not in response.headers


# --- 8. hosts: only the site's names; redirects never name a host from the request -------------


@pytest.mark.parametrize("host", ["evil.example", "BLOG.example", "[::1]:80", "blog.example:99999",
                                  "bl og", "blog.example.evil.example"])
def test_a_request_for_another_host_is_a_400(client, host):
    response = client.get("/posts//x/", headers={"Host": host})
    assert response.status_code == 400
    assert "Location" not in response.headers


def test_a_merged_slash_redirect_names_no_host(client):
    for host in ("blog.example", "localhost", "127.0.0.1:8000"):
        response = client.get("/posts//x/", headers={"Host": host})
        assert response.status_code == 308, host
        assert response.headers["Location"] == "/posts/x/", host


def test_the_site_and_loopback_names_are_served(client):
    for host in ("blog.example", "blog.example:443", "localhost:8000", "127.0.0.1"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host


# --- 9. HEAD is not a form submission -----------------------------------------------------------


def test_head_of_the_sign_in_page_is_a_200(client):
    response = client.head("/admin/login")
    assert response.status_code == 200


# --- 10. feed and sitemap dates are RFC 3339 whatever the year ----------------------------------


def test_feed_and_sitemap_write_four_digit_years(app, client, import_posts):
    import_posts({"old.md": "---\ntitle: Old\ndate: 2020-01-01\n---\nText.\n"})
    with app.app_context(), write_intent():  # a row from before dates were bounded
        db.session.execute(update(Post).values(published_at=datetime(5, 1, 2, 3, 4, 5),
                                               updated_at=datetime(5, 1, 2, 3, 4, 5)))
        db.session.commit()
    feed = client.get("/feed.xml").text
    assert "<published>0005-01-02T03:04:05Z</published>" in feed
    assert "<lastmod>0005-01-02</lastmod>" in client.get("/sitemap.xml").text


def test_the_editor_refuses_a_publish_date_out_of_range(app, author):
    token = csrf_token(author.get("/admin/posts/new").text)
    for when in ("9999-12-31T00:00", "0001-01-01T00:00"):
        response = author.post("/admin/posts/new", data={
            "csrf_token": token, "title": f"Dated {when}", "slug": f"dated-{when[:4]}",
            "body": "Text.", "publish_at": when, "publish": "1"})
        assert response.status_code == 400, when
        assert "between 1900-01-01 and 2100-12-31" in response.text
    with app.app_context():
        assert db.session.scalar(select(Post).where(Post.title.startswith("Dated"))) is None


# --- 8 and 12, through nginx (make stack): only the site's name, only image types under /media/ --


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    from .test_stack import stack_in

    with stack_in(tmp_path_factory.mktemp("hardening-stack")) as running:
        yield running


def _raw_get(stack, path: str, host: str) -> bytes:
    """One HTTPS request with this Host header: the bytes nginx answers (b"" when it closes)."""
    import socket
    import ssl

    context = ssl.create_default_context(cafile=str(stack.ca_file))
    with socket.create_connection(("127.0.0.1", stack.https_port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return answer


def test_nginx_closes_requests_for_another_host(stack):
    assert _raw_get(stack, "/posts//welcome/", f"127.0.0.1:{stack.https_port}").startswith(
        b"HTTP/1.1 308")
    assert _raw_get(stack, "/posts//welcome/", "evil.example") == b""


def test_nginx_serves_only_image_types_from_the_media_store(stack):
    from .test_stack import fetch

    root = Path(stack.settings.media_root)
    files = {"evil.html": HTML, "evil.svg.html": HTML, ".hidden.png": b"\x89PNG",
             "notes.txt": b"text", f"{'a' * 32}.png": b"\x89PNG\r\n\x1a\n" + HTML}
    for name, data in files.items():
        (root / name).write_bytes(data)
    (root / "sub").mkdir(exist_ok=True)
    (root / "sub" / "x.png").write_bytes(b"\x89PNG")
    for path in ("/media/evil.html", "/media/evil.svg.html", "/media/.hidden.png",
                 "/media/notes.txt", "/media/sub/x.png", "/media/"):
        assert fetch(stack, path).status == 404, path
    served = fetch(stack, f"/media/{'a' * 32}.png")
    assert served.status == 200
    assert served.headers["Content-Type"] == "image/png"  # whatever is inside, never a page
    assert served.headers["X-Content-Type-Options"] == "nosniff"


def test_an_upload_under_uwsgi_is_decoded_in_its_own_child_process(tmp_path):
    """Under uWSGI sys.executable names uwsgi, not Python: the image worker must still start."""
    import shutil
    import tempfile

    from inkwell.config import new_secret_key
    from inkwell.deploy import uwsgi
    from inkwell.deploy.stack import Stack

    from ..services import free_port, missing, need_binary
    from .admin_support import Browser, create_admin

    need_binary("nginx")
    need_binary("uwsgi")
    if uwsgi.embedded_python() is None:
        missing("uWSGI's python3 plugin is not installed (apt install uwsgi-plugin-python3)")
    folder = Path(tempfile.mkdtemp(prefix="inkwell-uwsgi-upload-"))
    folder.chmod(0o755)  # nginx's workers (www-data, as root) read the media folder
    running = Stack(
        app_dir=folder, run_dir=folder / "run", http_port=free_port(), https_port=free_port(),
        log_to_files=True, server="uwsgi",
        nginx_user="www-data www-data" if __import__("os").geteuid() == 0 else None,
        extra_env={"INKWELL_INSTANCE_PATH": str(folder / "instance"),
                   "DATABASE_URL": f"sqlite:///{folder / 'instance' / 'inkwell.sqlite3'}",
                   "MEDIA_ROOT": str(folder / "instance" / "media"), "MEDIA_BACKEND": "local",
                   "SECRET_KEY": new_secret_key(), "WEB_CONCURRENCY": "1"},
    )
    try:
        with running as stack:
            assert create_admin(stack.env).returncode == 0
            author = Browser(stack.https_url)
            author.verify, author.trust_env = str(stack.ca_file), False
            author.headers["Referer"] = f"{stack.https_url}/admin/"
            assert author.login().status_code == 302
            token = csrf_token(author.get("/admin/media/").text)
            png = io.BytesIO()
            Image.new("RGB", (600, 400), (10, 200, 30)).save(png, "PNG")
            stored = author.post("/admin/media/upload", files={"file": ("p.png", png.getvalue())},
                                 headers={"X-CSRFToken": token, "Accept": "application/json"})
            assert stored.status_code == 201, stored.text[:300]
            refused = author.post("/admin/media/upload", files={"file": ("g.gif", gif(2, 65_535))},
                                  headers={"X-CSRFToken": token, "Accept": "application/json"})
            assert refused.status_code == 400, refused.text[:300]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
