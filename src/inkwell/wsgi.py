"""The WSGI entry point: `gunicorn inkwell.wsgi:app`."""

import sys

from dotenv import load_dotenv

load_dotenv(".env")

from inkwell import create_app  # noqa: E402  (settings must see .env first)
from inkwell.config import ConfigError  # noqa: E402

try:
    app = create_app()
except ConfigError as e:
    print(f"inkwell: {e}", file=sys.stderr)
    raise SystemExit(1) from None
