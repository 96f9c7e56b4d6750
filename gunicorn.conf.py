"""gunicorn settings for Inkwell, read from the environment (.env): see inkwell/deploy/gunicorn.py.

Command-line options win over these, e.g. `gunicorn --bind 127.0.0.1:9000 inkwell.wsgi:app`.
"""

from inkwell.deploy.gunicorn import post_fork, pre_fork, settings_from_env, when_ready

globals().update(settings_from_env())
__all__ = ["post_fork", "pre_fork", "when_ready"]
