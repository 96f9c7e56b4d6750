"""Every extension object, created here and bound to the app in create_app()."""

from flask import current_app, request
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from flask_wtf.csrf import CSRFError
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()


def check_csrf_on_writes() -> None:
    """CSRFProtect's check, run only for the methods it protects (WTF_CSRF_METHODS): its own hook
    looks up the view's exemptions first, on every GET too (WTF_CSRF_CHECK_DEFAULT is off so it
    does not run twice)."""
    config = current_app.config
    if config["WTF_CSRF_ENABLED"] and request.method in config["WTF_CSRF_METHODS"]:
        try:
            csrf.protect(apply_exemptions=True)
        except ValueError:  # Flask-WTF parsing a Referer such as https://host:99999/
            raise CSRFError("The referrer is not a valid address.") from None
