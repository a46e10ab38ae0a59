"""WSGI entry point: ``gunicorn wsgi:app`` (gunicorn does not read .env; this module does)."""

import logging

from dotenv import load_dotenv

from app import create_app
from app.config import ConfigError

load_dotenv()
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
try:
    app = create_app()
except ConfigError as exc:
    logging.getLogger("wsgi").critical("%s", exc)
    # Exit status 3 is gunicorn's "worker failed to boot": the master stops instead of respawning workers.
    raise SystemExit(3) from None
