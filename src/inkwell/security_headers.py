"""Security headers, one definition for the app and for the nginx config rendered by `deploy/`.

nginx sets them itself in the full stack (and drops the app's copies); without nginx (make run,
a PaaS, a bare container) the app sends them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request

REFERRER_POLICY = "strict-origin-when-cross-origin"  # same-origin Referer: Flask-WTF needs it
HSTS = "max-age=63072000"


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


def register(app: Flask) -> None:
    s3_origin = origin(app.config.get("S3_PUBLIC_URL") or app.config.get("S3_ENDPOINT_URL") or "")
    if app.config.get("MEDIA_BACKEND") != "s3":
        s3_origin = ""
    fixed = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": REFERRER_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
    policies = {
        secure: content_security_policy(s3_origin, https=secure) for secure in (True, False)
    }

    @app.after_request
    def add_security_headers(response: Response) -> Response:
        headers = response.headers
        for name, value in fixed.items():
            headers.setdefault(name, value)
        headers.setdefault("Content-Security-Policy", policies[request.is_secure])
        if request.is_secure:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
