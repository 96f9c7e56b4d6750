"""The remote-image fetch of `inkwell import --fetch-images`: the address guard (no loopback,
private, link-local or other special address, also after a redirect), and the fetch itself
through an image server on loopback that a test-only setting allows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inkwell.content.fetch import FetchLimits, FetchRefused, fetch_image, public_address

from ..notebook_fixtures import png

PNG = png("purple")
LOOPBACK_ALLOWED = FetchLimits(max_bytes=1024 * 1024, seconds=3.0, allow_loopback=True)


@pytest.mark.parametrize("host", [
    "127.0.0.1", "localhost", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
    "0.0.0.0", "100.64.0.1", "224.0.0.1", "::ffff:127.0.0.1", "fe80::1", "fc00::1",
])
def test_special_addresses_are_refused(host):
    with pytest.raises(FetchRefused, match="not a public address"):
        public_address(host, 80)


def test_a_public_address_is_allowed_and_loopback_only_by_the_test_setting():
    assert public_address("93.184.216.34", 443) == "93.184.216.34"
    assert public_address("127.0.0.1", 80, allow_loopback=True) == "127.0.0.1"
    with pytest.raises(FetchRefused):
        public_address("10.0.0.1", 80, allow_loopback=True)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x.png", "data:,x"])
def test_only_http_and_https_are_fetched(url):
    with pytest.raises(FetchRefused, match="only http and https"):
        fetch_image(url, LOOPBACK_ALLOWED)


def test_loopback_is_refused_without_the_test_setting(image_server):
    with pytest.raises(FetchRefused, match="127.0.0.1, which is not a public address"):
        fetch_image(image_server + "/image.png", FetchLimits(max_bytes=1024 * 1024))


def test_an_image_is_fetched_with_its_type_and_a_redirect_is_followed(image_server):
    fetched = fetch_image(image_server + "/image.png", LOOPBACK_ALLOWED)
    assert fetched.data == PNG and fetched.suffix == ".png"
    assert fetch_image(image_server + "/moved", LOOPBACK_ALLOWED).data == PNG


def test_a_redirect_to_a_private_address_is_refused(image_server):
    with pytest.raises(FetchRefused, match="10.0.0.1, which is not a public address"):
        fetch_image(image_server + "/to-private", LOOPBACK_ALLOWED)


def test_content_that_is_not_an_image_is_refused(image_server):
    with pytest.raises(FetchRefused, match="not an image"):
        fetch_image(image_server + "/page.png", LOOPBACK_ALLOWED)


def test_an_image_over_the_size_limit_is_refused(image_server):
    with pytest.raises(FetchRefused, match="larger than"):
        fetch_image(image_server + "/image.png", FetchLimits(max_bytes=50, allow_loopback=True))


def test_a_server_that_does_not_answer_in_time_is_refused(image_server):
    limits = FetchLimits(max_bytes=1024 * 1024, seconds=0.5, allow_loopback=True)
    with pytest.raises(FetchRefused, match="too long|timed out|download failed"):
        fetch_image(image_server + "/slow", limits)


def test_a_missing_image_says_what_the_server_answered(image_server):
    with pytest.raises(FetchRefused, match="answered 404"):
        fetch_image(image_server + "/gone.png", LOOPBACK_ALLOWED)


class _Images(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path == "/image.png":
            self._send(200, PNG, "image/png")
        elif self.path == "/page.png":
            self._send(200, b"<html><script>alert(1)</script></html>", "image/png")
        elif self.path == "/moved":
            self._redirect("/image.png")
        elif self.path == "/to-private":
            self._redirect("http://10.0.0.1/image.png")
        elif self.path == "/slow":
            time.sleep(2)
            self._send(200, PNG, "image/png")
        else:
            self._send(404, b"no", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading (the size limit): what that test wants

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@contextmanager
def serve_images() -> Iterator[str]:
    """An image server on a loopback port, stopped when the block ends (also on failure)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def image_server() -> Iterator[str]:
    with serve_images() as url:
        yield url
