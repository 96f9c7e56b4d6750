"""Call a WSGI app in-process N times: `python -m bench.wsgi_loop MODULE:APP PATH N`.

No server, no socket: what is left is the application's own work per request, which the
`instructions` scenario counts under valgrind. Each response must be a 200.
"""

from __future__ import annotations

import importlib
import io
import sys


def environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def main(target: str, path: str, count: int) -> None:
    module, _, name = target.partition(":")
    app = getattr(importlib.import_module(module), name)
    statuses: list[str] = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    for _ in range(count):
        body = app(environ(path), start_response)
        b"".join(body)
        getattr(body, "close", lambda: None)()
        if statuses[-1] != "200 OK":
            raise SystemExit(f"GET {path} answered {statuses[-1]}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
