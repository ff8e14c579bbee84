"""An interrupt's traceback is relinked without the entries pytest cannot print (engine/interrupt.py)."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

import pytest

from maascheck.conformance.engine.interrupt import InterruptTracebacks, kept_entries, printable


def outer() -> None:
    middle()


def middle() -> None:
    inner()


def inner() -> None:
    raise KeyboardInterrupt


def names(tb: TracebackType | None) -> list[str]:
    out = []
    while tb is not None:
        out.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return out


def caught() -> BaseException:
    try:
        outer()
    except KeyboardInterrupt as exc:
        return exc
    raise AssertionError("not raised")


def not_named(name: str) -> Callable[[TracebackType], bool]:
    return lambda tb: tb.tb_frame.f_code.co_name != name


def test_rejected_entries_are_unlinked_and_the_rest_keeps_its_order() -> None:
    exc = caught()
    assert names(exc.__traceback__) == ["caught", "outer", "middle", "inner"]
    assert names(kept_entries(exc.__traceback__, not_named("middle"))) == ["caught", "outer", "inner"]


def test_the_head_and_the_tail_can_go_and_nothing_kept_is_none() -> None:
    exc = caught()
    head = kept_entries(exc.__traceback__, lambda tb: tb.tb_frame.f_code.co_name in ("outer", "middle"))
    assert names(head) == ["outer", "middle"]
    assert kept_entries(caught().__traceback__, lambda _tb: False) is None
    assert kept_entries(None) is None


def test_every_entry_with_a_line_is_kept_by_default() -> None:
    exc = caught()
    assert names(kept_entries(exc.__traceback__)) == ["caught", "outer", "middle", "inner"]


def test_chained_exceptions_are_relinked_too() -> None:
    try:
        try:
            outer()
        except KeyboardInterrupt as first:
            raise RuntimeError("during") from first
    except RuntimeError as exc:
        printable(exc, not_named("inner"))
        assert exc.__cause__ is not None
        assert "inner" not in names(exc.__cause__.__traceback__)
        assert names(exc.__cause__.__traceback__)[-1] == "middle"


def test_the_hook_leaves_an_interrupt_pytest_can_report() -> None:
    info = pytest.ExceptionInfo.from_exception(caught())
    InterruptTracebacks().pytest_keyboard_interrupt(info)
    assert "KeyboardInterrupt" in str(info.getrepr(funcargs=True))
