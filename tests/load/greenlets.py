"""Joining greenlets from a test, where the hub may have been idle for minutes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gevent


def join_all(jobs: Sequence[gevent.Greenlet[Any, Any]], timeout_s: float) -> None:
    """Wait until every job finished (their errors raised); fail if one is still running after `timeout_s`.

    libev starts a timer from the loop's cached time, which is not updated while the hub is idle. A
    test that runs after minutes of tests that never entered the hub would get a timeout that has
    already expired, and `gevent.joinall` returns silently on a timeout; so the time is refreshed
    first and a job still running fails the test.
    """
    gevent.get_hub().loop.update_now()
    gevent.joinall(jobs, timeout=timeout_s, raise_error=True)
    running = [job for job in jobs if not job.dead]
    assert not running, f"{len(running)} of {len(jobs)} greenlets still running after {timeout_s:g} s"
