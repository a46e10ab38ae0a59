"""What the providers' SDKs share: they all send through requests. Their sessions are prepared once here,
and a failed call is read here before its answer: a connection never made (refused, no route, no name, a
connect timeout, TLS) certainly sent nothing; one dropped after the request went out, or a read timeout,
may have.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from ..errors import OtpError, UpstreamTimeoutError, UpstreamUnavailableError
from ..polling import readable


class _Connection(HTTPSConnection):
    """urllib3's HTTPS connection, whose check that it is still usable (no stray answer, not closed by the
    provider), made each time the pool hands it out, asks the operating system (app.polling): urllib3's own
    goes through gevent's hub under gunicorn, a twentieth of a worker's CPU per start by py-spy."""

    @property
    def is_connected(self) -> bool:
        return self.sock is not None and not readable(self.sock)


class _ConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _Connection


def prepare(session: requests.Session, url: str) -> None:
    """Make a provider's ``session`` cheaper per call, with the same behaviour.

    requests' proxy and CA-bundle variables are resolved for ``url`` once, as requests would, and the
    session stops reading them on every call: requests scans the whole environment for each request (about
    0.1 ms of CPU a call here), and every call of a provider's session goes to one host. Its HTTPS pools
    check their connections with a plain poll (``_Connection``).
    """
    found = session.merge_environment_settings(url, {}, None, None, None)
    session.proxies.update(found["proxies"])
    session.verify, session.cert = found["verify"], found["cert"]
    session.trust_env = False
    for adapter in session.adapters.values():
        if isinstance(adapter, HTTPAdapter):
            manager = adapter.poolmanager  # its own copy: the default mapping is urllib3's module-wide one
            manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, "https": _ConnectionPool}


def never_connected(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before the request went out."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return True
    cause: BaseException | None = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    reason = getattr(cause, "reason", cause)
    return isinstance(reason, NewConnectionError)


def _read_timeout(exc: requests.ConnectionError) -> bool:
    """A read timeout on a GET or DELETE: urllib3 counts it against the retries of an idempotent method,
    and requests reports the retries' end (MaxRetryError) as a ConnectionError."""
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, MaxRetryError) and isinstance(cause.reason, ReadTimeoutError)


def transport_failure(exc: requests.RequestException) -> tuple[type[OtpError], str, bool] | None:
    """(the error, its metric status, whether the provider may have acted) for a timeout or a connection
    failure; None for any other requests exception."""
    if isinstance(exc, requests.ConnectionError) and _read_timeout(exc):
        return UpstreamTimeoutError, "timeout", True
    if isinstance(exc, requests.Timeout):
        return UpstreamTimeoutError, "timeout", not isinstance(exc, requests.ConnectTimeout)
    if isinstance(exc, requests.ConnectionError):
        return UpstreamUnavailableError, "connection", not never_connected(exc)
    return None
