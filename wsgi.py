"""WSGI entry point: ``gunicorn wsgi:app`` (gunicorn does not read .env; this module does)."""

import logging

from dotenv import load_dotenv

from app import create_app
from app.logs import configure_logging
from app.settings import ConfigError, log_format

load_dotenv()
configure_logging(log_format())
try:
    app = create_app()
except ConfigError as exc:
    logging.getLogger("wsgi").critical("%s", exc)
    # Exit status 3 is gunicorn's "worker failed to boot": the master stops instead of respawning workers.
    raise SystemExit(3) from None
