"""Every extension object, created here and bound to the app in create_app()."""

from flask import current_app, request
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def check_csrf_on_writes() -> None:
    """CSRFProtect's check, run only for the methods it protects: its own hook looks up the view's
    exemptions first, on every GET too (WTF_CSRF_CHECK_DEFAULT is off so it does not run twice)."""
    if request.method not in _SAFE_METHODS and current_app.config["WTF_CSRF_ENABLED"]:
        csrf.protect(apply_exemptions=True)
