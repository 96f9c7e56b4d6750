"""`inkwell create-admin EMAIL`: the only way an admin account comes to exist."""

from __future__ import annotations

import re
import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import delete, select

from ..database import write_intent
from ..extensions import db
from ..models import User, UserSession
from .passwords import WeakPassword, check_password_rules, hash_password

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")
_PROMPT_TRIES = 3


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        try:
            check_password_rules(password)
        except WeakPassword as e:
            raise click.ClickException(str(e)) from None
        return password
    for _ in range(_PROMPT_TRIES):
        password = click.prompt(
            "Password", hide_input=True, confirmation_prompt="Repeat the password"
        )
        try:
            check_password_rules(password)
            return password
        except WeakPassword as e:
            click.secho(str(e), fg="red", err=True)
    raise click.ClickException("No password was set.")


@click.command("create-admin")
@click.argument("email")
@click.option(
    "--password-stdin", is_flag=True,
    help="Read the password from the first line of standard input instead of asking.",
)
@click.option(
    "--reset-password", is_flag=True,
    help="Give an existing account a new password and sign it out everywhere.",
)
@with_appcontext
def create_admin(email: str, password_stdin: bool, reset_password: bool) -> None:
    """Create an admin account that can sign in at /admin (the password is asked twice)."""
    email = normalise_email(email)
    if not _EMAIL_RE.match(email) or len(email) > 254:
        raise click.ClickException(f"{email!r} is not an email address.")
    existing = db.session.scalar(select(User).where(User.email == email))
    if existing is not None and not reset_password:
        raise click.ClickException(
            f"An account for {email} already exists; "
            "add --reset-password to give it a new password."
        )
    if existing is None and reset_password:
        raise click.ClickException(f"There is no account for {email}.")
    db.session.rollback()  # no read transaction stays open while the prompt waits
    password_hash = hash_password(_read_password(password_stdin))
    with write_intent():
        existing = db.session.scalar(select(User).where(User.email == email))
        if existing is None:
            db.session.add(User(email=email, password_hash=password_hash))
            message = f"Created the admin account {email}. Sign in at /admin/login."
        else:
            existing.password_hash = password_hash
            db.session.execute(delete(UserSession).where(UserSession.user_id == existing.id))
            message = f"New password set for {email}; its sessions were signed out."
        db.session.commit()
    click.echo(message)
