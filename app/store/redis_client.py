"""Connections to Redis for the store, the rate limits and the breakers: one Redis, a Sentinel's master or a
Cluster, each with bounded pools and timeouts so that an outage fails fast."""

from __future__ import annotations

import urllib.parse
from typing import Any

import redis
from redis._parsers import _HiredisParser
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from ..polling import readable

# Connections per process to one Redis. Under many concurrent requests (gevent workers) a request waits
# for a free one, up to the socket timeout, instead of failing: redis-py's own pool refuses the 101st.
POOL_CONNECTIONS = 64


# Seconds a Redis command may take by default (OTP_STORE_TIMEOUT): connecting, a free connection, an answer.
TIMEOUT = 2


class ReplyParser(_HiredisParser):
    """redis-py's hiredis parser, whose check that a connection holds no stray reply is a plain non-blocking
    poll. The pool makes that check (``can_read()``, no wait) on every connection it hands out; under gevent
    redis-py made it through gevent's poll, a trip through the hub for each of a request's round trips (a
    tenth of a worker's CPU per start, by py-spy). A socket with anything to read, or a wait asked for, goes
    to redis-py's own check as before, which tells a stray reply from a closed connection."""

    def can_read(self, timeout: float = 0) -> bool:
        sock, reader = getattr(self, "_sock", None), getattr(self, "_reader", None)
        tls_buffered = getattr(sock, "pending", None)  # decrypted bytes above the socket (rediss://)
        if timeout or sock is None or reader is None or reader.has_data() or (tls_buffered and tls_buffered()):
            return bool(super().can_read(timeout))
        return readable(sock) and bool(super().can_read(timeout))


def blocking_pool(url: str, timeout: float = TIMEOUT, **options: Any) -> redis.BlockingConnectionPool:
    """A bounded pool whose exhausted state is a short wait, not an error; every wait bounded by ``timeout``."""
    return redis.BlockingConnectionPool.from_url(url, max_connections=POOL_CONNECTIONS, timeout=timeout,
                                                 socket_timeout=timeout, socket_connect_timeout=timeout,
                                                 parser_class=ReplyParser, **options)


def close_client(client: Any) -> None:
    """Close a client and its pool: a client given its pool leaves the pool's connections open on close()."""
    client.close()
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        pool.disconnect()


def _nodes(netloc: str, default_port: int) -> list[tuple[str, int]]:
    """``[user:password@]host[:port][,host[:port]...]`` -> [(host, port), ...]."""
    nodes = []
    for node in netloc.rpartition("@")[2].split(","):
        host, _, port = node.rpartition(":") if ":" in node else (node, "", "")
        nodes.append((host, int(port) if port else default_port))
    return nodes


def connect(url: str, timeout: float = TIMEOUT) -> redis.Redis:
    """Connect lazily, with short timeouts so an outage fails fast, to one Redis (``redis://``,
    ``rediss://``), the master a Sentinel names (``redis+sentinel://host:port[,host:port]/service``) or
    a Cluster (``redis+cluster://host:port[,host:port]``): the URL forms `limits` takes too."""
    # One immediate retry covers a connection that a restart closed; no sleeps.
    options: dict[str, Any] = {"decode_responses": True, "retry": Retry(NoBackoff(), 1)}
    bounds: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    scheme, _, rest = url.partition("://")
    if scheme in ("redis+sentinel", "redis+cluster"):
        parsed = urllib.parse.urlsplit(f"//{rest}")
        nodes = _nodes(parsed.netloc, 26379 if scheme == "redis+sentinel" else 6379)
        if parsed.password:
            options["password"] = urllib.parse.unquote(parsed.password)
        if scheme == "redis+cluster":
            return RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes],  # type: ignore[no-untyped-call,return-value]
                                **options, **bounds)
        service = parsed.path.strip("/").split("/")[0] or "mymaster"
        sentinel = Sentinel(nodes, sentinel_kwargs=bounds, **options, **bounds)  # type: ignore[no-untyped-call,unused-ignore]  # typed since redis 8.2
        return sentinel.master_for(service)  # type: ignore[no-untyped-call,no-any-return,unused-ignore]
    return redis.Redis(connection_pool=blocking_pool(url, timeout, health_check_interval=30, **options))
