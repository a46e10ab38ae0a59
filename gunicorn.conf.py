"""gunicorn settings, read from the working directory by ``.venv/bin/gunicorn wsgi:app``.

Each in-flight request holds a thread for the whole Vonage round trip, so threads, not processes,
carry the concurrency: gthread workers, a few processes, many threads each. Command-line flags
(``--workers``, ``--threads``, ``--bind``) override these values.
"""

wsgi_app = "wsgi:app"
worker_class = "gthread"
workers = 2
threads = 16
timeout = 30
graceful_timeout = 20
accesslog = "-"
# One service per host may run several instances; none of them needs gunicorn's control socket.
control_socket_disable = True


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    """Warn when several workers would each keep their own memory store."""
    config = getattr(worker.wsgi, "config", {})
    if worker.cfg.workers > 1 and str(config.get("OTP_STORE_URL", "")).startswith("memory://"):
        worker.log.warning(
            "OTP_STORE_URL=memory:// with %d workers: each worker keeps its own pending codes, so a check "
            "that lands on another worker fails. Use OTP_STORE_URL=redis://... or --workers 1.",
            worker.cfg.workers,
        )


def on_starting(server):  # type: ignore[no-untyped-def]
    """Check the settings once in the master, so a missing secret stops gunicorn with one clear line."""
    from dotenv import load_dotenv

    from app.config import ConfigError, load_config

    load_dotenv()
    try:
        load_config()
    except ConfigError as exc:
        server.log.error("%s", exc)
        raise SystemExit(3) from None
