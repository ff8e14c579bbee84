"""SLO expressions and files."""

from __future__ import annotations

from pathlib import Path

import pytest

from maascheck.core.errors import ConfigError
from maascheck.load.measure.slo import parse_all, parse_slo


@pytest.mark.parametrize(("text", "parts"), [
    ("ttft_ms.p95<=500", ("ttft_ms", "p95", "<=", 500.0)),
    ("itl_ms.p99 < 50", ("itl_ms", "p99", "<", 50.0)),
    ("error_rate<=0.01", ("error_rate", None, "<=", 0.01)),
    ("goodput_rps>=2", ("goodput_rps", None, ">=", 2.0)),
])  # fmt: skip
def test_valid_expressions(text: str, parts: tuple[object, ...]) -> None:
    s = parse_slo(text)
    assert (s.metric, s.stat, s.op, s.threshold) == parts


@pytest.mark.parametrize(("text", "says"), [
    ("ttft.p95<=5", "unknown metric"), ("ttft_ms<=5", "needs a stat"), ("error_rate.p50<=1", "takes no stat"),
    ("ttft_ms.p95=>5", "cannot parse"), ("ttft_ms.p42<=5", "needs a stat"),
])  # fmt: skip
def test_invalid_expressions_name_what_is_valid(text: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as info:
        parse_slo(text)
    assert "ttft_ms" in str(info.value) and "<=" in str(info.value)


@pytest.mark.parametrize(("name", "text"), [
    ("slos.txt", "# gates\nttft_ms.p95<=500\n\nerror_rate<=0.01\n"),
    ("slos.json", '{"slos": ["ttft_ms.p95<=500", "error_rate<=0.01"]}'),
    ("slos.toml", 'slos = ["ttft_ms.p95<=500", "error_rate<=0.01"]\n'),
])  # fmt: skip
def test_slo_files(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert [s.expr for s in parse_all(["goodput_rps>=1"], [str(path)])] == [
        "goodput_rps>=1",
        "ttft_ms.p95<=500",
        "error_rate<=0.01",
    ]
