"""The postprocessor's backlog is bounded: users wait for room, every exchange is recorded once, in order."""

from __future__ import annotations

from typing import Any

import gevent
import pytest

from maascheck.load.client.result import StreamResult
from maascheck.load.measure.events import Chunk
from maascheck.load.run.postprocess import Postprocessor, held_bytes
from tests.load.greenlets import join_all

EVENT = b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}'


def stream(n_events: int, tag: int) -> StreamResult:
    """A finished exchange of `n_events` identical events; `tag` is its send time (its identity here)."""
    return StreamResult("complete", t_send_ns=tag, events=[EVENT] * n_events, event_times_ns=[tag] * n_events)


def test_users_wait_while_the_backlog_is_full_and_nothing_is_lost() -> None:
    one = held_bytes(stream(2_000, 0))
    post = Postprocessor(backlog_bytes=3 * one)  # room for three such exchanges
    seen: list[tuple[int, int]] = []
    highest: list[int] = []

    def finish(result: StreamResult, chunks: list[Chunk]) -> None:
        seen.append((result.t_send_ns, len(chunks)))
        highest.append(post.held)

    def user(first: int) -> None:
        for i in range(first, first + 5):
            post.submit(stream(2_000, i), finish)

    post.start()
    users = [gevent.spawn(user, 100 * u) for u in range(4)]  # 20 exchanges offered at once
    join_all(users, timeout_s=60)
    post.drain()
    assert sorted(seen) == sorted((100 * u + i, 2_000) for u in range(4) for i in range(5))
    assert post.peak_held <= 3 * one, (post.peak_held, one)
    assert max(highest) <= 3 * one
    assert post.waits > 0 and post.waited_s > 0  # the users did wait: without the bound all 20 queue at once
    assert post.held == 0 and post.done == 20


def test_an_exchange_larger_than_the_bound_waits_for_an_empty_queue_then_goes_through() -> None:
    post = Postprocessor(backlog_bytes=10)
    done: list[int] = []

    def finish(result: StreamResult, _chunks: list[Any]) -> None:
        done.append(result.t_send_ns)

    post.start()
    users = [gevent.spawn(post.submit, stream(50, i), finish) for i in range(3)]
    join_all(users, timeout_s=30)
    post.drain()
    assert sorted(done) == [0, 1, 2]
    assert post.peak_held == held_bytes(stream(50, 0))  # never two at once


@pytest.mark.parametrize("n_events", [0, 1, 17])
def test_held_bytes_counts_data_and_per_event_overhead(n_events: int) -> None:
    result = stream(n_events, 0)
    assert held_bytes(result) == n_events * (len(EVENT) + 80)
