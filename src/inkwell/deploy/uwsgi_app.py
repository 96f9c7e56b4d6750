"""The app as uWSGI loads it (the ini's `module`): inkwell.wsgi's app, loaded once in the
master before the workers fork from it (gunicorn's preload), with what gunicorn's hooks do.

- Before the fork: the preloaded objects are frozen (gc.freeze), so the collector never writes
  to them in a worker and the pages stay shared (copy-on-write kept).
- After each fork: the master's database connections are dropped unclosed, so no worker talks
  on a connection another process also uses.

Only imported inside uWSGI: the `uwsgi` module exists nowhere else.
"""

import gc
import sys

import uwsgi  # the running uWSGI's own module

from inkwell.wsgi import app


def _after_fork() -> None:
    from inkwell.extensions import db

    with app.app_context():
        db.engine.dispose(close=False)
    # One line per worker start: says the app is shared with the master (not loaded lazily).
    print(f"inkwell: worker {uwsgi.worker_id()} forked from the preloaded app; the master's "
          "database connections dropped", file=sys.stderr, flush=True)


uwsgi.post_fork_hook = _after_fork
# The master forks its workers right after loading this module.
gc.freeze()

__all__ = ["app"]
