"""Signing in and out, and the list of the author's open sessions.

Every sign-in, failure, refusal and sign-out is logged to `inkwell.auth` with the client IP;
passwords never are.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from ..errors import error_response
from ..extensions import db
from ..models import User
from . import bp, throttle
from .cli import normalise_email
from .forms import ConfirmForm, LoginForm
from .passwords import dummy_hash, hash_password, needs_rehash, verify_password
from .sessions import end_other_sessions, end_session, log, sessions_of, start_session


def client_ip() -> str:
    return request.remote_addr or "unknown"


def safe_next(target: str | None) -> str | None:
    """Only a path inside the admin; anything else could send the author to another site."""
    if not target or "\\" in target or any(c < " " or c == "\x7f" for c in target):
        return None  # control characters: a header split (CR LF) or a 500 on redirect
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/admin"):
        return None
    if parts.path not in ("/admin", "/admin/") and not parts.path.startswith("/admin/"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("admin.posts"))
    form = LoginForm()
    if request.method != "POST":  # GET, and HEAD (a link checker): the form, not a submission
        return render_template("admin/login.html", form=form)
    if not form.validate():
        return render_template("admin/login.html", form=form), 400
    email = normalise_email(form.email.data)
    ip = client_ip()
    device = throttle.trusted_device(email)
    wait = throttle.count_attempt(ip, email, device)
    if wait:
        log.warning("login refused for %r from %s: too many attempts", email[:254], ip)
        response = error_response(429, f"Too many sign-in attempts. Try again in {wait} s.")
        response.headers["Retry-After"] = str(wait)
        return response
    user = db.session.scalar(select(User).where(User.email == email))
    password = form.password.data
    # Unknown emails are checked against a dummy hash so the answer takes as long either way.
    stored_hash = user.password_hash if user else dummy_hash()
    db.session.rollback()  # hashing is slow; hold no (SQLite write) transaction meanwhile
    if not verify_password(stored_hash, password) or user is None:
        log.warning("login failed for %r from %s", email[:254], ip)
        form.password.errors = ["The email or the password is not right."]
        return render_template("admin/login.html", form=form), 401
    if needs_rehash(stored_hash):
        user.password_hash = hash_password(password)
    session.clear()  # a fresh session (and CSRF token) for the signed-in author
    author = start_session(user, ip)
    login_user(author)
    session.permanent = True
    throttle.clear_account(ip, email, device)
    log.info("login ok for %r from %s", email, ip)
    response = redirect(safe_next(request.args.get("next")) or url_for("admin.posts"))
    throttle.remember_device(response, email)
    return response


@bp.post("/logout")
def logout():
    email, session_id = current_user.email, current_user.session_id
    end_session(session_id)
    logout_user()
    session.clear()
    log.info("logout of %r from %s", email, client_ip())
    flash("You are signed out.")
    return redirect(url_for("admin.login"))


@bp.get("/sessions")
def sessions():
    return render_template(
        "admin/sessions.html", rows=sessions_of(current_user), form=ConfirmForm()
    )


@bp.post("/sessions/end-others")
def end_others():
    count = end_other_sessions(current_user)
    log.info("%r ended %d other sessions from %s", current_user.email, count, client_ip())
    flash(f"Signed out {count} other session{'s' if count != 1 else ''}.")
    return redirect(url_for("admin.sessions"))
