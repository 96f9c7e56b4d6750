"""The deploy kit: renders, validates and diagnoses every file the production stack needs.

One module per concern (nginx, gunicorn, systemd, uwsgi, envfile, compose), each owning its
templates in `templates/`; `settings.py` holds the one set of values they are all rendered from.
"""
