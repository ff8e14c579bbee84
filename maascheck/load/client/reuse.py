"""Keep-alive reuse, shared by both clients: detect a connection the server closed, retry once, count both.

A server may close an idle keep-alive connection at any time (RFC 9112 §9.6). Before a request is
sent on a kept-alive connection the client checks, without waiting, whether the socket is readable:
an idle connection that is readable has been closed by the peer (or holds bytes nobody asked for),
so it is closed and replaced by a fresh one before the send (a *reconnect*, as urllib3's
`util.connection.is_connection_dropped` does). When the close races the send (the request left on the
old connection, which then ended before any response head), the request is re-sent once on a fresh
connection (a *retry*, as HTTP clients do for a connection that closed before answering). RFC 9112
§9.3.1 lets a client retry automatically only requests it knows to be idempotent, which a completion
POST is not (the server may have started generating), so every retry is counted and recorded on the
request's `StreamResult`, never hidden, and TTFT/E2E of a retried request are measured from its
*first* send, so the time the retry cost stays in them.
"""

from __future__ import annotations

import select
from collections.abc import Callable

from maascheck.load.client.result import StreamCancelled, StreamResult

_RETRYABLE = ("truncated", "connect_error")  # the send failed, or the connection ended without a response head


def peer_closed(fileno: int) -> bool:
    """True when an idle connection is readable now: the peer closed it (or sent bytes nobody asked for)."""
    try:
        readable, _, _ = select.select([fileno], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def send_once_more(attempt: Callable[[], StreamResult], *, reused: bool, reconnected: bool) -> StreamResult:
    """Run `attempt`; when it ran on a kept-alive connection that died before a response head, run it again.

    `reconnected` says a kept-alive connection was already found closed and replaced before the send.
    A retried result keeps the first send time (`t_send_ns`) and says `retries=1`, `reconnected=True`;
    a cancelled one (`StreamCancelled`) carries the same marks.
    """
    first: StreamResult | None = None
    try:
        res = attempt()
        if reused and res.transport in _RETRYABLE and res.status is None:
            first = res
            res = attempt()
    except StreamCancelled as stop:
        _mark(stop.result, first, reconnected)
        raise
    return _mark(res, first, reconnected)


def _mark(res: StreamResult, first: StreamResult | None, reconnected: bool) -> StreamResult:
    res.reconnected = reconnected or first is not None
    if first is not None:
        res.t_send_ns = first.t_send_ns
        res.retries = first.retries + 1
    return res
