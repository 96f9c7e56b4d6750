"""gunicorn's response as Inkwell's workers use it: the head leaves with the first body chunk.

Requests are parsed by gunicorn's own parser and answered by its own Response (the class
`send_head_with_body()` installs), writing to a real socket pair; a thin wrapper counts the
sends. The stock class answers the same request for comparison: same bytes, fewer sends.
"""

from __future__ import annotations

import socket

import pytest
from gunicorn.config import Config
from gunicorn.http import RequestParser, wsgi

from inkwell.deploy.gunicorn import _one_send_response_class, send_head_with_body

OneSend = _one_send_response_class(wsgi.Response)


class CountingSocket:
    """A real socket whose sendall calls are recorded."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.sends: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.sends.append(bytes(data))
        self.sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def answer(response_class, request: bytes, status: str, headers: list, chunks: list[bytes]):
    """Serve one request with `response_class`; return (sends, bytes the client received)."""
    server, client = socket.socketpair()
    with server, client:
        client.sendall(request)
        cfg = Config()
        req = next(iter(RequestParser(cfg, server, ("127.0.0.1", 1))))
        counting = CountingSocket(server)
        resp, _ = wsgi.create(req, counting, ("127.0.0.1", 1), ("127.0.0.1", 8000), cfg,
                              response_class=response_class)
        resp.start_response(status, headers)
        for chunk in chunks:
            resp.write(chunk)
        resp.close()
        server.shutdown(socket.SHUT_WR)
        received = b""
        while data := client.recv(65536):
            received += data
    return counting.sends, received


GET = b"GET /posts/welcome/ HTTP/1.1\r\nHost: blog.example\r\n\r\n"
HEAD = b"HEAD /posts/welcome/ HTTP/1.1\r\nHost: blog.example\r\n\r\n"
PAGE = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", "11")]


def without_date(raw: bytes) -> bytes:
    return b"\r\n".join(line for line in raw.split(b"\r\n") if not line.startswith(b"Date:"))


def test_a_page_leaves_in_one_send_with_the_same_bytes_as_gunicorn_sends():
    sends, received = answer(OneSend, GET, "200 OK", PAGE, [b"hello world"])
    stock_sends, stock_received = answer(wsgi.Response, GET, "200 OK", PAGE, [b"hello world"])
    assert len(stock_sends) == 2  # what the class is for: gunicorn sends head, then body
    assert len(sends) == 1 and sends[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert sends[0].endswith(b"\r\n\r\nhello world")
    assert without_date(received) == without_date(stock_received)


def test_later_chunks_streamed_and_chunked_answers_are_unchanged():
    chunks = [b"first ", b"second ", b"third"]
    sends, received = answer(OneSend, GET, "200 OK", [("Content-Type", "text/plain")], chunks)
    _, stock = answer(wsgi.Response, GET, "200 OK", [("Content-Type", "text/plain")], chunks)
    assert b"Transfer-Encoding: chunked" in received
    assert len(sends) == 1 + 2 + 1  # head with chunk one, chunks two and three, the last chunk
    assert without_date(received) == without_date(stock)


def test_head_requests_and_empty_bodies_still_send_their_head():
    sends, received = answer(OneSend, HEAD, "200 OK", PAGE, [b"hello world"])
    assert len(sends) == 1 and received.startswith(b"HTTP/1.1 200 OK") and b"hello" not in received
    sends, received = answer(OneSend, GET, "204 No Content", [], [])
    assert len(sends) == 1 and received.startswith(b"HTTP/1.1 204 No Content")


def test_a_wrong_body_type_fails_as_in_gunicorn_after_the_head_went_out():
    server, client = socket.socketpair()
    with server, client:
        client.sendall(GET)
        cfg = Config()
        req = next(iter(RequestParser(cfg, server, ("127.0.0.1", 1))))
        resp, _ = wsgi.create(req, server, ("127.0.0.1", 1), ("127.0.0.1", 8000), cfg,
                              response_class=OneSend)
        resp.start_response("200 OK", PAGE)
        with pytest.raises(TypeError):
            resp.write("not bytes")
        assert resp.headers_sent and resp.sock is server  # the real socket is back
        assert client.recv(65536).startswith(b"HTTP/1.1 200 OK")


def test_installing_it_twice_wraps_gunicorn_once(monkeypatch):
    monkeypatch.setattr(wsgi, "Response", wsgi.Response)  # undone after the test
    stock = wsgi.Response
    send_head_with_body()
    send_head_with_body()
    assert wsgi.Response.__mro__[1] is stock
