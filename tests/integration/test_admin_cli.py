"""`inkwell create-admin` and the sign-in log, through the Flask CLI runner and test client."""

from __future__ import annotations

import logging

from sqlalchemy import func, select

from inkwell.admin.passwords import verify_password
from inkwell.extensions import db
from inkwell.models import User, UserSession

from .admin_support import client_sign_in, csrf_token

PASSWORD = "a walk along the river"


def account(app, email: str) -> User | None:
    with app.app_context():
        return db.session.scalar(select(User).where(User.email == email))


def test_create_admin_asks_for_the_password_twice(app, runner):
    typed = f"{PASSWORD}\n{PASSWORD}\n"
    result = runner.invoke(args=["create-admin", "Me@Example.com"], input=typed)
    assert result.exit_code == 0, result.output
    assert "Repeat the password" in result.output
    assert "Created the admin account me@example.com" in result.output
    user = account(app, "me@example.com")
    assert user is not None and verify_password(user.password_hash, PASSWORD)
    assert PASSWORD not in user.password_hash


def test_a_mistyped_repeat_asks_again(app, runner):
    typed = f"{PASSWORD}\n{PASSWORD}x\n{PASSWORD}\n{PASSWORD}\n"
    result = runner.invoke(args=["create-admin", "me@example.com"], input=typed)
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert verify_password(account(app, "me@example.com").password_hash, PASSWORD)


def test_weak_passwords_are_refused_with_the_reason(app, runner):
    typed = "short\nshort\npassword123\npassword123\niloveyou1\niloveyou1\n"
    result = runner.invoke(args=["create-admin", "me@example.com"], input=typed)
    assert result.exit_code == 1
    assert "at least 8 characters" in result.output
    assert "most common passwords" in result.output
    assert account(app, "me@example.com") is None


def test_password_from_stdin(app, runner):
    result = runner.invoke(
        args=["create-admin", "ops@example.com", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert verify_password(account(app, "ops@example.com").password_hash, PASSWORD)
    weak = runner.invoke(args=["create-admin", "b@example.com", "--password-stdin"],
                         input="qwertyuiop\n")
    assert weak.exit_code == 1 and "most common passwords" in weak.output


def test_an_existing_account_is_not_overwritten_unless_asked(app, runner):
    runner.invoke(args=["create-admin", "me@example.com", "--password-stdin"], input=PASSWORD)
    again = runner.invoke(args=["create-admin", "ME@example.com", "--password-stdin"],
                          input="something else entirely\n")
    assert again.exit_code == 1 and "already exists" in again.output
    assert verify_password(account(app, "me@example.com").password_hash, PASSWORD)

    client = app.test_client()
    client_sign_in(client, "me@example.com", PASSWORD)
    assert client.get("/admin/").status_code == 200
    reset = runner.invoke(args=["create-admin", "me@example.com", "--password-stdin",
                                "--reset-password"], input="something else entirely\n")
    assert reset.exit_code == 0, reset.output
    assert verify_password(account(app, "me@example.com").password_hash, "something else entirely")
    assert client.get("/admin/").status_code == 302  # signed out everywhere
    with app.app_context():
        assert db.session.scalar(select(func.count(UserSession.id))) == 0


def test_not_an_email_is_refused(app, runner):
    result = runner.invoke(args=["create-admin", "not-an-email", "--password-stdin"],
                           input=PASSWORD)
    assert result.exit_code == 1 and "is not an email address" in result.output


def test_sign_in_failure_and_sign_out_are_logged_with_the_ip_and_no_secret(app, runner, caplog):
    runner.invoke(args=["create-admin", "me@example.com", "--password-stdin"], input=PASSWORD)
    client = app.test_client()
    caplog.set_level(logging.INFO, logger="inkwell.auth")

    def sign_in(password: str):
        return client_sign_in(client, "me@example.com", password,
                              environ_base={"REMOTE_ADDR": "192.0.2.7"})

    sign_in("my wrong guess here")
    sign_in(PASSWORD)
    client.post("/admin/logout", environ_base={"REMOTE_ADDR": "192.0.2.7"},
                data={"csrf_token": csrf_token(client.get("/admin/").text)})
    lines = [r.getMessage() for r in caplog.records if r.name == "inkwell.auth"]
    assert any("login failed" in line and "192.0.2.7" in line for line in lines), lines
    assert any("login ok" in line and "192.0.2.7" in line for line in lines), lines
    assert any("logout" in line and "192.0.2.7" in line for line in lines), lines
    assert not any(PASSWORD in line or "my wrong guess" in line for line in lines)
