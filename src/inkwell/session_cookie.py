"""Flask's signed-cookie session, with its signer built once per app instead of on every request.

Every request opens the session, and Flask builds a new itsdangerous serializer each time to do
it; the settings it depends on (SECRET_KEY and friends) are fixed once the app has started. And a
reader's page view, which never touches the session, skips the cookie settings Flask would work
out before finding there is nothing to save.
"""

from __future__ import annotations

from flask import Flask, Response
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from itsdangerous import URLSafeTimedSerializer


class SessionCookie(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializer: URLSafeTimedSerializer | None = None

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if self._serializer is None:
            self._serializer = super().get_signing_serializer(app)
        return self._serializer

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        if not session and not session.modified and not session.accessed:
            return  # what Flask would conclude too: no cookie to set or delete, no Vary
        super().save_session(app, session, response)
