"""Whether a socket has something to read now, asked of the operating system without waiting.

Connection pools ask this of every connection they hand out (a stray reply, or a peer that closed it). Under
gevent (gunicorn.conf.py's workers) ``select.poll`` is gevent's, which goes through its hub even for no wait:
a greenlet switch for each of a request's Redis round trips and provider calls. The operating system's poll
answers the same question for a zero timeout without one.
"""

from __future__ import annotations

import select
from typing import Any

from gevent import monkey

_OS_POLL = monkey.get_original("select", "poll")


def readable(sock: Any) -> bool:
    """True when ``sock`` (anything with a fileno) has data or an end of stream to read now."""
    poller = _OS_POLL()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))
