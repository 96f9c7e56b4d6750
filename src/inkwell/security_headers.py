"""Security headers, one definition for the app and for the nginx config rendered by `deploy/`.

nginx sets them itself in the full stack (and drops the app's copies); without nginx (make run,
a PaaS, a bare container) the app sends them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask

REFERRER_POLICY = "strict-origin-when-cross-origin"  # same-origin Referer: Flask-WTF needs it
HSTS = "max-age=63072000"
# Sent on every response next to Content-Security-Policy (and HSTS over HTTPS); nginx's site
# config (deploy/nginx.py) sends this same list.
COMMON_HEADERS: tuple[tuple[str, str], ...] = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", REFERRER_POLICY),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def content_security_policy(s3_public_origin: str = "", https: bool = True) -> str:
    """No inline script; inline style only because charts (plotly) set style attributes."""
    images = " ".join(filter(None, ["'self'", "data:", s3_public_origin]))
    policy = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src {images}; font-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
    # Only over HTTPS: on plain http://127.0.0.1 it would send the browser to a port with no TLS.
    return policy + "; upgrade-insecure-requests" if https else policy


class SecurityHeaders:
    """WSGI middleware: adds the headers a response does not already carry.

    At the WSGI level so that static files served by WhiteNoise get them too, and cheaply: a
    list append per header instead of Werkzeug's Headers bookkeeping on every response.
    """

    def __init__(self, wsgi_app, s3_public_origin: str = "") -> None:
        self.wsgi_app = wsgi_app
        self.plain = [
            *COMMON_HEADERS,
            ("Content-Security-Policy", content_security_policy(s3_public_origin, https=False)),
        ]
        self.secure = [
            *COMMON_HEADERS,
            ("Content-Security-Policy", content_security_policy(s3_public_origin, https=True)),
            ("Strict-Transport-Security", HSTS),
        ]

    def __call__(self, environ, start_response):
        extra = self.secure if environ.get("wsgi.url_scheme") == "https" else self.plain

        def add_headers(status, headers, exc_info=None):
            present = {name.lower() for name, _ in headers}
            headers.extend(h for h in extra if h[0].lower() not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, add_headers)


def register(app: Flask) -> None:
    """Wrap the app (call after WhiteNoise, before ProxyFix so the scheme is the client's)."""
    from .storage.s3 import public_base_url

    # Whenever a bucket is configured, not only while MEDIA_BACKEND=s3: `inkwell media migrate
    # --to s3` points the posts at the bucket while this site still runs with local media.
    app.wsgi_app = SecurityHeaders(app.wsgi_app, origin(public_base_url(app.config)))
