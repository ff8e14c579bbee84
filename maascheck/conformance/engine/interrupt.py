"""An interrupt's traceback that pytest can print: entries without a line number dropped.

Since CPython 3.10 a line number is None, not -1, where an instruction has no line (bpo-44446,
https://github.com/python/cpython/commit/61eb9b5dfd919ba5d1ec9f7df0137f2e6d196972), and a Ctrl-C
can land on such an instruction. pytest's terminal reporter formats the KeyboardInterrupt's
traceback with `tb_lineno - 1` and then fails with a TypeError of its own, so a Ctrl-C of a native
pytest run ended in exit 1 and an internal traceback instead of the interrupted reports and exit
130. Dropping those entries keeps every entry that can be shown; `tb_next` is writable since 3.7
(https://docs.python.org/3/reference/datamodel.html#traceback-objects).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any

import pytest


def has_line(tb: TracebackType) -> bool:
    """Whether this entry has a line number pytest can show."""
    return tb.tb_lineno is not None


def kept_entries(
    tb: TracebackType | None, keep: Callable[[TracebackType], bool] = has_line
) -> TracebackType | None:
    """The chain from `tb` relinked without the entries `keep` rejects; its new head (None if none is kept)."""
    head: TracebackType | None = None
    last: TracebackType | None = None
    while tb is not None:
        following = tb.tb_next
        if keep(tb):
            if last is None:
                head = tb
            else:
                last.tb_next = tb
            last = tb
        tb = following
    if last is not None:
        last.tb_next = None
    return head


def printable(exc: BaseException | None, keep: Callable[[TracebackType], bool] = has_line) -> None:
    """Relink the tracebacks of `exc` and of every exception it was raised from or during."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        exc.__traceback__ = kept_entries(exc.__traceback__, keep)
        exc = exc.__cause__ or exc.__context__


class InterruptTracebacks:
    """Registered for active maascheck runs: runs before pytest's own keyboard-interrupt report."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[Any]) -> None:
        """Make the interrupt's traceback printable (never raising itself)."""
        try:
            printable(excinfo.value)
            excinfo.traceback = excinfo.traceback.filter(_entry_has_line)
        except Exception:  # the report of an interrupt must not fail on this
            pass


def _entry_has_line(entry: Any) -> bool:
    try:
        return isinstance(entry.lineno, int)
    except TypeError:
        return False
