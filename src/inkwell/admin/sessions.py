"""Server-side sign-in sessions: the cookie carries only a random id naming a `UserSession` row.

Deleting the row signs that cookie out for good (logout, expiry, "sign out everywhere else").
Idle and absolute timeouts are checked against the row on every admin request.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import delete, select, update

from ..database import write_intent
from ..extensions import db
from ..models import User, UserSession, utcnow

log = logging.getLogger("inkwell.auth")
log.setLevel(logging.INFO)


@dataclass
class Author(UserMixin):
    """The signed-in person as Flask-Login sees them; `get_id` is the session id, not the user's."""

    user_id: int
    email: str
    session_id: str

    def get_id(self) -> str:
        return self.session_id


def _commit_write(statement) -> int:
    """Run one write in its own transaction that takes SQLite's write lock up front (a GET's
    deferred read transaction cannot always be upgraded to a write); return the rows it changed."""
    db.session.rollback()
    with write_intent():
        count = db.session.execute(statement).rowcount
        db.session.commit()
    return count


def start_session(user: User, ip: str) -> Author:
    config = current_app.config
    now = utcnow()
    # Sessions nobody came back to would otherwise stay in the table forever.
    db.session.execute(
        delete(UserSession).where(
            (UserSession.last_seen_at < now - timedelta(seconds=config["SESSION_IDLE_TIMEOUT"]))
            | (UserSession.created_at < now - timedelta(seconds=config["SESSION_MAX_AGE"]))
        )
    )
    row = UserSession(id=secrets.token_urlsafe(32), user_id=user.id, ip=ip[:64])
    db.session.add(row)
    user.last_login_at = utcnow()
    db.session.commit()
    return Author(user.id, user.email, row.id)


def load_session(session_id: str) -> Author | None:
    """The author for a session id, or None when it is unknown, idle too long or too old.

    Runs first in every admin request. The transaction it begins for its reads ends here: the
    view's own work (a preview, resizing an upload, rendering a post) must not happen inside it,
    since on SQLite a writing request's transaction holds the database's only write lock.
    """
    began_here = not db.session().in_transaction()
    try:
        return _load_session(session_id)
    finally:
        if began_here:
            db.session.rollback()


def _load_session(session_id: str) -> Author | None:
    row = db.session.get(UserSession, session_id)
    if row is None:
        return None
    config = current_app.config
    now = utcnow()
    idle = now - row.last_seen_at
    if idle > timedelta(seconds=config["SESSION_IDLE_TIMEOUT"]):
        ended = f"ended after {int(idle.total_seconds())} s idle"
    elif now - row.created_at > timedelta(seconds=config["SESSION_MAX_AGE"]):
        ended = "reached its maximum age"
    else:
        ended = None
    if ended:
        log.info("session of user %s %s", row.user_id, ended)
        _commit_write(delete(UserSession).where(UserSession.id == session_id))
        return None
    user_id = row.user_id
    email = db.session.scalar(select(User.email).where(User.id == user_id))
    if email is None:
        return None
    # Writing last_seen_at on every request would make every admin page a write; a tenth of the
    # idle timeout (at most a minute) is precise enough.
    if idle > timedelta(seconds=min(60, config["SESSION_IDLE_TIMEOUT"] / 10)):
        _commit_write(
            update(UserSession).where(UserSession.id == session_id).values(last_seen_at=now)
        )
    return Author(user_id, email, session_id)


def end_session(session_id: str) -> None:
    _commit_write(delete(UserSession).where(UserSession.id == session_id))


def end_other_sessions(author: Author) -> int:
    """Sign out every other browser of this author; return how many."""
    return _commit_write(
        delete(UserSession)
        .where(UserSession.user_id == author.user_id, UserSession.id != author.session_id)
        .execution_options(synchronize_session=False)
    )


def sessions_of(author: Author) -> list[UserSession]:
    return list(
        db.session.scalars(
            select(UserSession)
            .where(UserSession.user_id == author.user_id)
            .order_by(UserSession.last_seen_at.desc())
        )
    )
