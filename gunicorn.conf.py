"""gunicorn settings, read from the working directory by ``.venv/bin/gunicorn wsgi:app``.

A request spends nearly all its time waiting for Vonage. gevent workers keep every such wait in flight
(up to ``worker_connections`` per process), where threads capped them at workers x threads and, when
Vonage slowed down, queued requests and /healthz behind them. Two processes per core use the CPU.
Command-line flags (``--workers``, ``--bind``) override these values. BENCHMARKS.md has the measurements.
"""

# gevent replaces the blocking parts of the standard library (sockets, ssl, threading, time) with
# cooperative ones. It must do so before anything imports them: the imports below reach requests, ssl
# and redis in the master, and a late patch leaves ssl recursing into itself on every Vonage call.
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402

from dotenv import load_dotenv  # noqa: E402

load_dotenv()
# prometheus_client picks its multiprocess mode when first imported, which happens below (the app
# package), so the directory is set before any import of it. Every worker writes its own files there.
# A reload (SIGHUP) reads this file again in the same master: the marker says the directory is still ours.
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="otp-metrics-")
    os.environ["_OTP_OWN_METRICS_DIR"] = os.environ["PROMETHEUS_MULTIPROC_DIR"]
_OWN_METRICS_DIR = os.environ.get("_OTP_OWN_METRICS_DIR") == os.environ["PROMETHEUS_MULTIPROC_DIR"]

from app.logs import JsonFormatter, RedactRefusedRequests, RequestIdFilter  # noqa: E402, F401 - named in logconfig_dict
from app.providers.registry import provider_from_settings  # noqa: E402
from app.settings import ConfigError, ProviderName, load_settings, log_format, provider_channels  # noqa: E402
from app.store import store_from_url  # noqa: E402

wsgi_app = "wsgi:app"
worker_class = "gevent"
# WEB_CONCURRENCY sets the count, as on most platforms that run gunicorn.
_concurrency = os.environ.get("WEB_CONCURRENCY", "").strip()
if _concurrency and not (_concurrency.isascii() and _concurrency.isdigit() and int(_concurrency) > 0):
    raise SystemExit(f"invalid configuration: WEB_CONCURRENCY must be a whole number of worker processes (1 or more), "
                     f"got {_concurrency!r}")
workers = int(_concurrency or 2 * len(os.sched_getaffinity(0)))
worker_connections = 1000
timeout = 30
graceful_timeout = 20
# As tight as the service allows: its requests are a short line and a few small headers. Idle keep-alive
# connections are closed after 2 s. gunicorn has no timeout for a request that arrives slowly: the
# README says to keep a buffering proxy (nginx) in front, which sends only whole requests.
keepalive = 2
limit_request_line = 2048
limit_request_fields = 40
limit_request_field_size = 4096
# One service per host may run several instances; none of them needs gunicorn's control socket.
control_socket_disable = True
# Proxies whose X-Forwarded-Proto gunicorn trusts (the client address is OTP_TRUSTED_PROXIES' business).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Access log to stdout, one line per request with its id and duration; as JSON fields when
# OTP_LOG_FORMAT=json, as text otherwise. The app's own events go the same way (app.logs).
accesslog = "-"
# gunicorn's logger, without the credentials in its access records (app.logs.AccessLogger).
logger_class = "app.logs.AccessLogger"
# The path without its query string: a client that puts the number or the code in the URL must not get
# them into the log.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s'
_formatter = {"()": "app.logs.JsonFormatter"} if log_format() == "json" else {
    "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "app.logs.RequestIdFilter"},
                "redact": {"()": "app.logs.RedactRefusedRequests"}},
    "formatters": {"line": _formatter},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "line",
                            "filters": ["request_id", "redact"]}},
    "root": {"level": "INFO", "handlers": ["stdout"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
    },
}


def on_starting(server):  # type: ignore[no-untyped-def]
    """Check the settings once in the master, so a bad one stops gunicorn with one clear line."""
    try:
        config = load_settings()
        for name in config.OTP_PROVIDER:  # settings only the SDK can judge, such as a key that cannot sign
            provider_from_settings(config, name)
    except ConfigError as exc:
        _refuse(server, str(exc))
    if server.cfg.workers > 1:
        # Each worker would keep its own pending codes: a check that lands on another worker fails while
        # the SMS was sent and billed.
        if config.OTP_STORE_URL.startswith("memory://"):
            _refuse(server, f"OTP_STORE_URL=memory:// cannot serve {server.cfg.workers} workers: each keeps its own "
                            "pending codes. Set OTP_STORE_URL=redis://host:6379/0, or run --workers 1.")
        if ProviderName.CONSOLE in config.OTP_PROVIDER:
            _refuse(server, f"OTP_PROVIDER=console cannot serve {server.cfg.workers} workers: each knows only the "
                            "codes it printed. Run --workers 1 (make run serves one process).")
        if config.OTP_RATELIMIT_STORAGE_URL.startswith("memory://") and config.OTP_RATELIMIT_ENABLED:
            _refuse(server, f"rate limits in memory:// cannot serve {server.cfg.workers} workers: each would count "
                            "its own. Set OTP_RATELIMIT_STORAGE_URL to a shared Redis (redis://..., "
                            "redis+sentinel://..., redis+cluster://...), or run --workers 1.")
    try:
        # A SQL store behind the code's migrations is refused here once, not by every worker.
        store_from_url(config.OTP_STORE_URL, channels=provider_channels(config),
                       record_days=config.OTP_RECORD_DAYS, record_key=config.OTP_RECORD_KEY).close()
    except ConfigError as exc:
        _refuse(server, str(exc))
    # Files of workers from an earlier run would be summed into /metrics.
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, exist_ok=True)


def _refuse(server, message):  # type: ignore[no-untyped-def]
    server.log.error("%s", message)
    on_exit(server)
    raise SystemExit(3)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """Let prometheus_client drop the live-gauge files of a worker that is gone."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, os.environ["PROMETHEUS_MULTIPROC_DIR"])


def on_exit(server):  # type: ignore[no-untyped-def]
    """Remove the metrics directory this configuration made."""
    if _OWN_METRICS_DIR:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
