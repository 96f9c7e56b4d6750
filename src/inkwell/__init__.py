"""Inkwell: a Markdown blog on Flask that ships its own production stack."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Flask is imported by create_app: `python -m inkwell.image_worker` needs none
    from flask import Flask

__version__ = "0.1.0"


def create_app(overrides: dict | None = None) -> Flask:
    """The application factory: read settings, bind extensions, register blueprints."""
    from flask import Flask
    from sqlalchemy.exc import ArgumentError
    from werkzeug.middleware.proxy_fix import ProxyFix

    from . import admin, assets, blog, errors, hosts, ops, security_headers
    from .config import ConfigError, instance_folder, load_settings
    from .database import configure_engine
    from .extensions import check_csrf_on_writes, csrf, db, login_manager
    from .models import utcnow
    from .session_cookie import SessionCookie
    from .storage.views import media_bp
    from .templating import TemplateEnvironment, compiled_templates

    app = Flask(__name__, instance_path=os.path.abspath(instance_folder(os.getcwd())))
    app.jinja_environment = TemplateEnvironment
    app.config.update(load_settings(app.instance_path, overrides))
    try:
        os.makedirs(app.instance_path, exist_ok=True)
    except OSError as e:
        raise ConfigError(
            f"the instance folder {app.instance_path} cannot be made ({e.strerror}): set "
            "INKWELL_INSTANCE_PATH to a folder this user may write"
        ) from None
    cache = compiled_templates(app.instance_path)
    app.jinja_options = {**app.jinja_options, "bytecode_cache": cache}
    app.session_interface = SessionCookie()
    # This release's start: no page claims to be older (its templates may have changed).
    app.extensions["inkwell_started_at"] = utcnow().replace(microsecond=0)

    try:
        db.init_app(app)  # makes the engine
    except (ArgumentError, ValueError) as e:  # "garbage", or a port that is not a number
        raise ConfigError(
            f"DATABASE_URL is not a database address ({e}); e.g. "
            "postgresql://user:password@127.0.0.1:5432/inkwell or sqlite:////path/blog.db"
        ) from None
    with app.app_context():
        configure_engine(db.engine)
    csrf.init_app(app)
    app.before_request(check_csrf_on_writes)
    login_manager.init_app(app, add_context_processor=False)

    app.register_blueprint(ops.bp)
    app.register_blueprint(media_bp)  # before blog: its /<slug>/ catches everything
    app.register_blueprint(blog.bp)
    app.register_blueprint(admin.bp)
    admin.init_app(app)
    errors.register(app)
    assets.register(app)
    security_headers.register(app)
    hosts.register(app)

    from .cli import register_commands

    register_commands(app)

    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    return app
