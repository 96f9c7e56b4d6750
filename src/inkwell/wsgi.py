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
    # 4 is gunicorn's APP_LOAD_ERROR: the master stops instead of respawning workers forever.
    raise SystemExit(4) from None
