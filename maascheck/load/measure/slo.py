"""SLO gates: `METRIC.STAT OP NUMBER` (``ttft_ms.p95<=500``) or `SCALAR OP NUMBER` (``error_rate<=0.01``).

Distribution metrics take a stat; scalar metrics take none. A request is *good* (goodput) when it
succeeded and every SLO on a per-request metric holds for that request's own value (for the list
metrics `itl_ms`/`icl_ms`: the request's mean), as in vLLM's `--goodput`; failed requests are never
good (AIPerf and guidellm also count errors against goodput; vLLM drops them).
"""

from __future__ import annotations

import json
import math
import operator
import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from maascheck.core.errors import ConfigError
from maascheck.load.measure.stats import STATS

DISTRIBUTIONS: tuple[str, ...] = (
    "ttft_ms", "ttfo_ms", "itl_ms", "icl_ms", "tpot_ms", "e2e_ms", "e2e_from_intended_ms",
    "dispatch_lag_ms", "output_tokens", "input_tokens",
)  # fmt: skip
PER_REQUEST: tuple[str, ...] = (
    "ttft_ms",
    "ttfo_ms",
    "itl_ms",
    "icl_ms",
    "tpot_ms",
    "e2e_ms",
    "e2e_from_intended_ms",
)
SCALARS: tuple[str, ...] = (
    "error_rate", "protocol_error_rate", "goodput_rps", "good_fraction", "requests_per_s", "achieved_rps",
    "output_tokens_per_s", "total_tokens_per_s",
)  # fmt: skip
OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq,
}  # fmt: skip
# Thresholds outside a metric's range can never be measured: fractions lie in [0, 1], everything else is >= 0.
FRACTIONS: tuple[str, ...] = ("error_rate", "protocol_error_rate", "good_fraction")
_EXPR = re.compile(r"^\s*([a-z_]+)(?:\.([a-z0-9]+))?\s*(<=|>=|==|<|>)\s*([-+0-9.eE]+)\s*$")
_HELP = (
    f"valid metrics with a stat: {', '.join(DISTRIBUTIONS)}; stats: {', '.join(STATS)}; "
    f"scalar metrics: {', '.join(SCALARS)}; ops: {', '.join(OPS)}; "
    "examples: ttft_ms.p95<=500, itl_ms.p99<=50, error_rate<=0.01, goodput_rps>=2"
)


@dataclass(frozen=True)
class Slo:
    """One parsed gate."""

    expr: str
    metric: str
    stat: str | None
    op: str
    threshold: float

    def holds(self, value: float | None) -> bool:
        """Whether `value` meets the gate (an unmeasured value never does)."""
        return value is not None and not math.isnan(value) and OPS[self.op](value, self.threshold)


def parse_slo(text: str) -> Slo:
    """Parse one expression; raise ConfigError naming what is valid."""
    m = _EXPR.match(text)
    if not m:
        raise ConfigError(
            f"cannot parse SLO {text!r}: expected METRIC.STAT OP NUMBER or SCALAR OP NUMBER; {_HELP}"
        )
    metric, stat, op, number = m.groups()
    try:
        threshold = float(number)
    except ValueError:
        raise ConfigError(f"SLO {text!r}: {number!r} is not a number; {_HELP}") from None
    if metric in DISTRIBUTIONS:
        if stat not in STATS:
            raise ConfigError(f"SLO {text!r}: {metric} needs a stat (got {stat!r}); {_HELP}")
    elif metric in SCALARS:
        if stat is not None:
            raise ConfigError(f"SLO {text!r}: {metric} is a scalar and takes no stat; {_HELP}")
    else:
        raise ConfigError(f"SLO {text!r}: unknown metric {metric!r}; {_HELP}")
    low, high = (0.0, 1.0) if metric in FRACTIONS else (0.0, math.inf)
    if not math.isfinite(threshold) or not low <= threshold <= high:
        valid = "a fraction in [0, 1] (0.01 is 1 %)" if metric in FRACTIONS else "a finite number >= 0"
        raise ConfigError(
            f"SLO {text!r}: threshold {number} is outside the range of {metric}; valid: {valid}; "
            f"e.g. {metric}{'.p95' if stat else ''}{op}{'0.01' if metric in FRACTIONS else '500'}"
        )
    return Slo(text.strip().replace(" ", ""), metric, stat, op, threshold)


def read_slo_file(path: str | Path) -> list[str]:
    """SLO expressions from a file: JSON (a list or {"slos": [...]}), TOML (`slos = [...]`), or one a line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read --slo-file {p}: {exc.strerror}; give a readable file") from None
    data: Any = None
    if p.suffix == ".json" or text.lstrip().startswith(("[", "{")):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"--slo-file {p} is not valid JSON: {exc}") from None
    elif p.suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--slo-file {p} is not valid TOML: {exc}") from None
    if data is None:
        return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    items = data.get("slos") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ConfigError(
            f'--slo-file {p}: expected a list of strings, e.g. {{"slos": ["ttft_ms.p95<=500"]}}'
        )
    return list(items)


def parse_all(exprs: Iterable[str], files: Iterable[str] = ()) -> list[Slo]:
    """Parse CLI expressions plus those from files."""
    texts = list(exprs)
    for f in files:
        texts.extend(read_slo_file(f))
    return [parse_slo(t) for t in texts]


def request_value(record: dict[str, Any], metric: str) -> float | None:
    """A request's own value of a per-request metric (list metrics: their mean)."""
    value = record.get(metric)
    if isinstance(value, list):
        return sum(value) / len(value) if value else None
    return float(value) if isinstance(value, int | float) else None


def is_good(record: dict[str, Any], slos: list[Slo]) -> bool | None:
    """Goodput membership of one request; None when no per-request SLO is set."""
    gates = [s for s in slos if s.metric in PER_REQUEST]
    if not gates:
        return None
    if record.get("outcome") != "ok":
        return False
    return all(
        s.holds(request_value(record, s.metric)) if record.get(s.metric) not in (None, []) else True
        for s in gates
    )
