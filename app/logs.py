"""Logging: one line per event, JSON (default) or text, each carrying the request id of its request."""

from __future__ import annotations

import logging
import re
import sys
import uuid
from types import SimpleNamespace
from typing import Any

from flask import g, has_request_context, request
from gunicorn.glogging import Logger as _GunicornLogger
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

# A proxy's X-Request-ID is echoed when it looks like an id; anything else is replaced, never logged.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s"
# gunicorn hands its access-log atoms to the record as a dict; these become fields of the JSON line.
_ACCESS_FIELDS = {"h": "remote", "m": "method", "U": "path", "s": "status", "B": "bytes", "M": "duration_ms",
                  "{x-request-id}o": "request_id"}

# The WSGI environ keys gunicorn's access atoms read (its %(h)s, %(r)s, %(m)s, %(U)s, %(q)s, %(H)s, %(f)s and
# %(a)s); the request headers an access line never carries.
_ACCESS_ENVIRON = ("REMOTE_ADDR", "REQUEST_METHOD", "RAW_URI", "SERVER_PROTOCOL", "PATH_INFO", "QUERY_STRING",
                   "HTTP_REFERER", "HTTP_USER_AGENT")
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# An access atom keyed by a header or an environ key: {name}i (request), {name}o (answer), {name}e.
_KEYED_ATOM = re.compile(r"%\((\{[^)}]*\}[ioe])\)")


def request_id() -> str:
    """The id of the current request: the proxy's X-Request-ID when usable, else a new one."""
    if "request_id" not in g:
        given = request.headers.get("X-Request-ID", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    return str(g.request_id)


class RequestIdFilter(logging.Filter):
    """Give every record a request_id (``-`` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id() if has_request_context() else "-"
        return True


class JsonFormatter(_JsonFormatter):
    """python-json-logger with a UTC timestamp, short field names and gunicorn's access atoms as fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("timestamp", "ts")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__(JSON_FIELDS, *args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            for atom, field in _ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if value not in (None, "-"):
                    log_data[field] = int(value) if field in ("status", "bytes", "duration_ms") else value


class NoQueryString(logging.Filter):
    """Drop the query string from the request lines the development server logs: a client that puts the
    number or the code in the URL must not get them into the log (gunicorn's line logs the path only)."""

    _QUERY = re.compile(r"\?\S*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            record.args = (self._QUERY.sub("", record.args[0]), *record.args[1:])
        return True


class AccessLogger(_GunicornLogger):  # type: ignore[misc]  # gunicorn has no types
    """gunicorn's logger (``logger_class`` in gunicorn.conf.py), whose access atoms leave out the credentials.

    gunicorn copies every request header and every environ variable into each access record's atoms (an
    API key's Authorization header and a cookie included, twice: ``{authorization}i`` and
    ``{http_authorization}e``), for every request, whatever the format uses. Here its atoms are made from the
    headers the format names, never Authorization, Cookie or the answer's Set-Cookie, and from the environ
    keys its own atoms read: a format that names a credential prints '-', and the record holds none to leak
    into a handler that dumps its arguments. ``%(u)s`` (a Basic user) is always '-'.
    """

    def setup(self, cfg: Any) -> None:
        """gunicorn's setup, and the headers whose atoms the access format or the JSON line's fields name:
        gunicorn makes an atom of every header of every request and answer, whatever the format prints."""
        super().setup(cfg)
        named = {atom.lower() for atom in _KEYED_ATOM.findall(cfg.access_log_format)} | set(_ACCESS_FIELDS)
        self._request_headers = {atom[1:-2] for atom in named if atom.endswith("}i")} - _SECRET_HEADERS
        # The answer's Set-Cookie carries the verification id, which lets its holder check a code.
        self._answer_headers = {atom[1:-2] for atom in named if atom.endswith("}o")} - {"set-cookie"}

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        headers = [(name, value) for name, value in req.headers if name.lower() in self._request_headers]
        answer = SimpleNamespace(status=resp.status, sent=getattr(resp, "sent", None),
                                 headers=[(name, value) for name, value in resp.headers
                                          if name.lower() in self._answer_headers])
        kept = {key: environ[key] for key in _ACCESS_ENVIRON if key in environ}
        return super().atoms(answer, headers, kept, request_time)  # type: ignore[no-any-return]


class RedactRefusedRequests(logging.Filter):
    """gunicorn's warning about a request it could not parse quotes the raw request line or header: a
    number, a code, a verification id or an API key can be in it. The line keeps what went wrong, not what
    was sent."""

    _QUOTED = re.compile(r"""(b?'[^']*'|b?"[^"]*")""")

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "gunicorn.error" and str(record.msg).startswith("Invalid request from"):
            # gunicorn's parse errors quote what they refused (%r): the quotes are all that goes.
            record.msg = self._QUOTED.sub("[redacted]", record.getMessage())
            record.args = None
        return True


def make_handler(fmt: str) -> logging.Handler:
    """A stdout handler writing ``json`` or ``text`` lines, with request ids."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(fmt: str) -> None:
    """Send INFO and above to stdout in ``fmt``, unless the server (gunicorn.conf.py) has done so already.

    Either way, records no longer carry what neither format prints: the file and line of the call (a look
    up the stack for each line), and the thread's and process's names (logging's documented optimisations).
    """
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(make_handler(fmt))
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").addFilter(NoQueryString())
