"""gunicorn settings for Inkwell, read from the environment (.env): see inkwell/deploy/gunicorn.py.

Command-line options win over these, e.g. `gunicorn --bind 127.0.0.1:9000 inkwell.wsgi:app`.
"""

from dotenv import load_dotenv

load_dotenv(".env")  # as inkwell.wsgi does: the same settings at start and after a HUP

from inkwell.deploy.gunicorn import post_fork, pre_fork, settings_from_env, when_ready  # noqa: E402

globals().update(settings_from_env())
__all__ = ["post_fork", "pre_fork", "when_ready"]
