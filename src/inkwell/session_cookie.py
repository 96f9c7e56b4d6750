"""Flask's signed-cookie session, with its signer built once per app instead of on every request.

Every request opens the session, and Flask builds a new itsdangerous serializer each time to do
it; the settings it depends on (SECRET_KEY and friends) are fixed once the app has started.
"""

from __future__ import annotations

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class SessionCookie(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if self._serializer is None:
            self._serializer = super().get_signing_serializer(app)
        return self._serializer
