"""WSGI entry point: ``gunicorn wsgi:app`` (gunicorn does not read .env; this module does)."""

import logging

from dotenv import load_dotenv

from app import create_app

load_dotenv()
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
app = create_app()
