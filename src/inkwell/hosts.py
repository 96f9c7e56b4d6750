"""Which Host names the app answers, and redirects that name no host.

A request for any other name (config.trusted_hosts: SITE_URL's, loopback's, TRUSTED_HOSTS) is a
plain 400 before Flask sees it: Werkzeug builds absolute URLs from the Host header, so a forged
one could otherwise come back in a Location (`Host: evil.example` got
`308 Location: https://evil.example/posts/x/`). Flask's own TRUSTED_HOSTS check stays on too,
but its 400 comes without a URL adapter, which the error page needs.

Werkzeug's own redirects (a `//` merged, a missing trailing slash) are then made a path, which the
browser resolves against the address it asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask, Response, request
from werkzeug.exceptions import SecurityError
from werkzeug.wsgi import get_host

UNKNOWN_HOST = b"This server does not serve that host name.\n"


def register(app: Flask) -> None:
    """Before ProxyFix is added around it, so that X-Forwarded-Host is what is checked."""
    app.wsgi_app = KnownHostsOnly(app.wsgi_app, app.config["TRUSTED_HOSTS"])
    app.after_request(_path_only_location)


class KnownHostsOnly:
    """WSGI middleware: a 400 for a Host header that is not one of `names`, judged exactly as
    Flask judges TRUSTED_HOSTS (werkzeug's get_host), so that no request Flask would refuse
    (without a URL adapter: a 500 on the error page) gets through."""

    def __init__(self, app: Callable, names: Iterable[str]) -> None:
        self.app = app
        self.names = list(names)
        self.known: set[str] = set()  # Host headers already judged good (~15 us each time)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        header = environ.get("HTTP_HOST")
        if header in self.known:
            return self.app(environ, start_response)
        try:
            get_host(environ, trusted_hosts=self.names)
        except SecurityError:
            start_response("400 Bad Request", [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(UNKNOWN_HOST))), ("Cache-Control", "no-store")])
            return [UNKNOWN_HOST]
        if header and len(self.known) < 64:  # a few names and ports; never grows without end
            self.known.add(header)
        return self.app(environ, start_response)


def _path_only_location(response: Response) -> Response:
    if 300 <= response.status_code < 400:
        location = response.headers.get("Location", "")
        own = request.host_url  # "http://host[:port]/"
        if location.startswith(own):
            response.headers["Location"] = "/" + location[len(own):]
    return response
