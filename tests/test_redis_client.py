"""The service's Redis connections (app.store.redis_client): the pool's check of a connection it hands out
(``can_read()``: does it hold a reply nobody read, or did the server close it) answers as redis-py's own."""

from __future__ import annotations

import time

import pytest
import redis

from app.store.redis_client import ReplyParser, close_client, connect

from .conftest import REDIS_URL


def _becomes_readable(connection: redis.connection.AbstractConnection) -> bool:
    deadline = time.monotonic() + 2
    while not connection.can_read():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_check_says_whether_a_connection_holds_a_reply_nobody_read() -> None:
    client = connect(REDIS_URL, 2)
    try:
        connection = client.connection_pool.get_connection()
        assert isinstance(connection._parser, ReplyParser)
        assert not connection.can_read()  # nothing pending
        connection.send_command("ECHO", "a stray reply")  # its reply is not read yet
        assert _becomes_readable(connection)
        assert connection.read_response() == "a stray reply"
        assert not connection.can_read()  # read: nothing pending again
        client.connection_pool.release(connection)
    finally:
        close_client(client)


def test_the_check_says_a_connection_the_server_closed_is_closed_and_the_next_command_reconnects() -> None:
    client, admin = connect(REDIS_URL, 2), redis.Redis.from_url(REDIS_URL)
    try:
        connection = client.connection_pool.get_connection()
        connection.send_command("CLIENT", "ID")
        killed = connection.read_response()
        assert admin.client_kill_filter(_id=killed) == 1
        with pytest.raises(redis.ConnectionError):
            _becomes_readable(connection)
        client.connection_pool.release(connection)

        assert client.set("otp:test:after-kill", "1", ex=5) and client.get("otp:test:after-kill") == "1"
    finally:
        close_client(client)
        admin.close()
