"""Boundary values of a documented range, as data: at, just inside and just outside each bound.

A `Range` (maascheck/profiles.py) comes from the active profile, so the same functions give
taichu's open top_p interval (0.0, 1.0) (seed 001: the bounds themselves are outside) and the
spec's closed [0, 1] . Numbers move by the range's documented
`step` (seed 001: 调节最小细粒度 0.01 / 0.1), else by 0.01 for numbers and 1 for integers.
Besides the bounds come type confusion (a string; a fraction for integers) and, for numbers, a
JSON number that overflows to infinity. Hypothesis adds draws from inside and outside the range;
`explore` runs it once, explicit cases first, to fix the list of values a rule sends.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, example, given, seed, settings
from hypothesis import strategies as st

from maascheck.core.profiles import Range

DEFAULT_NUMBER_STEP = 0.01
"""Step for numbers whose range documents none (two decimals, the precision the seeds use)."""
UNBOUNDED_SPAN_STEPS = 15
"""How far draws reach past a bound when the range has no other bound (in steps, integers)."""
UNBOUNDED_SPAN_NUMBER = 10.0
"""How far draws reach past a bound when the range has no other bound (numbers)."""
TYPE_CONFUSION_STRING = "invalid"
"""A non-numeric string: lenient servers may coerce "0.5", none can coerce this."""

_KINDS = ("bound", "neighbour", "type", "non-finite", "draw", "boolean")


@dataclass(frozen=True)
class BoundaryCase:
    """One value to send and whether the profile's range contains it.

    `essential` cases are the two values straddling each bound (the bound and its neighbour on the
    other side of it) plus one type-confusion case and, for numbers, the overflow: the minimum a
    rule sends. `side` is "min" or "max" for cases next to a bound, else None.
    """

    value: Any
    expected_inside: bool
    why: str
    kind: str = "bound"  # one of _KINDS
    essential: bool = True
    side: str | None = None


def is_inside(rng: Range, value: Any) -> bool:
    """Whether `value` is a JSON number (not a boolean) that `rng` contains."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return rng.contains(value)


def step_of(rng: Range) -> Decimal:
    """The step between neighbouring values: the documented step, else 1 (integers) or 0.01 (numbers)."""
    if rng.kind == "integer":
        return Decimal(max(1, round(rng.step))) if rng.step else Decimal(1)
    return Decimal(str(rng.step)) if rng.step else Decimal(str(DEFAULT_NUMBER_STEP))


def _dec(value: float) -> Decimal:
    return Decimal(value) if isinstance(value, int) else Decimal(str(value))


def _num(rng: Range, value: Decimal) -> int | float:
    """`value` as the JSON number to send: an int for integer ranges, else the nearest float."""
    if rng.kind == "integer":
        return int(value)
    return float(value)


def _fmt(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e15 else str(value)


def interval(rng: Range) -> str:
    """`rng` in interval notation with exact integers, e.g. `(0, 1)` or `[-9223372036854775808, ...]`."""
    lo = "(" if rng.min_open or rng.min is None else "["
    hi = ")" if rng.max_open or rng.max is None else "]"
    low = "-inf" if rng.min is None else _fmt(_num(rng, _dec(rng.min)))
    high = "+inf" if rng.max is None else _fmt(_num(rng, _dec(rng.max)))
    return f"{lo}{low}, {high}{hi}"


def boundary_cases(rng: Range, *, floor: float | None = None) -> list[BoundaryCase]:
    """Every boundary case of `rng`: bounds, both neighbours, type confusion and overflow.

    `floor` drops bound and neighbour values below it (e.g. 0 for counts, which cannot be negative).
    """
    step = step_of(rng)
    lo = None if rng.min is None else _dec(rng.min)
    hi = None if rng.max is None else _dec(rng.max)
    cases: list[BoundaryCase] = []
    for side, bound, is_open, inward in (("min", lo, rng.min_open, 1), ("max", hi, rng.max_open, -1)):
        if bound is None:
            continue
        label = "minimum" if side == "min" else "maximum"
        value = _fmt(_num(rng, bound))
        at = f"at the open {label} {value} (excluded)" if is_open else f"at the closed {label} {value}"
        other, other_open = (hi, rng.max_open) if side == "min" else (lo, rng.min_open)
        excluded = is_open or (other is not None and bound == other and other_open)  # e.g. [0, 0)
        cases.append(BoundaryCase(_num(rng, bound), not excluded, at, "bound", True, side))
        inner = bound + inward * step
        if other is None or (inner < other if side == "min" else inner > other):
            why = f"one step ({step}) inside the {label}"
            cases.append(BoundaryCase(_num(rng, inner), True, why, "neighbour", is_open, side))
        why = f"one step ({step}) outside the {label}"
        outer = _num(rng, bound - inward * step)
        cases.append(BoundaryCase(outer, False, why, "neighbour", not is_open, side))
    if floor is not None:
        cases = [c for c in cases if c.value >= floor]
    return cases + _type_cases(rng, lo, hi)


def _type_cases(rng: Range, lo: Decimal | None, hi: Decimal | None) -> list[BoundaryCase]:
    integer = rng.kind == "integer"
    out = [
        BoundaryCase(
            TYPE_CONFUSION_STRING, False, f"a string where the spec types {rng.kind}", "type", not integer
        )
    ]
    if integer:
        base = next(
            (b for b in (lo, hi - 1 if hi is not None else None) if b is not None and abs(b) < 2**52),
            Decimal(0),
        )
        out.append(BoundaryCase(float(base) + 0.5, False, "a fraction where the spec types integer", "type"))
    elif hi is not None or lo is not None:
        inf = math.inf if hi is not None else -math.inf
        out.append(BoundaryCase(inf, False, "a JSON number (1e999) that overflows to infinity", "non-finite"))
    return out


def boolean_cases() -> list[BoundaryCase]:
    """A JSON boolean parameter: both booleans are accepted, look-alikes ("yes", 2) are not."""
    return [
        BoundaryCase(True, True, "the boolean true", "boolean"),
        BoundaryCase(False, True, "the boolean false", "boolean"),
        BoundaryCase("yes", False, "a string that lenient parsers read as true", "type"),
        BoundaryCase(2, False, "a number where the spec types boolean", "type"),
    ]


def reject_case(rng: Range, *, floor: float | None = None) -> BoundaryCase | None:
    """The essential outside case at the maximum (else the minimum): one clearly invalid value."""
    outside = [
        c for c in boundary_cases(rng, floor=floor) if c.essential and c.side and not c.expected_inside
    ]
    return next((c for c in outside if c.side == "max"), next(iter(outside), None))


# -- Hypothesis draws --------------------------------------------------------------------------------


def _grid(rng: Range, lo_idx: int, hi_idx: int, *, inside: bool) -> st.SearchStrategy[BoundaryCase]:
    step = step_of(rng)
    where = "inside" if inside else "outside"
    return st.integers(lo_idx, hi_idx).map(
        lambda i: BoundaryCase(
            _num(rng, i * step), inside, f"Hypothesis draw {where} {interval(rng)}", "draw", False
        )
    )


def _index(value: Decimal, step: Decimal, rounding: str) -> int:
    return int((value / step).to_integral_value(rounding=rounding))


def _span_steps(rng: Range) -> int:
    step = step_of(rng)
    if rng.min is not None and rng.max is not None:
        return max(UNBOUNDED_SPAN_STEPS, _index(_dec(rng.max) - _dec(rng.min), step, ROUND_CEILING))
    if rng.kind == "integer":
        return UNBOUNDED_SPAN_STEPS
    return _index(Decimal(str(UNBOUNDED_SPAN_NUMBER)), step, ROUND_CEILING)


def _inside_bounds(rng: Range) -> tuple[int, int] | None:
    """The grid indices of the lowest and highest inside values (one-sided ranges capped)."""
    step = step_of(rng)
    lo = hi = None
    if rng.min is not None:
        lo = _index(_dec(rng.min), step, ROUND_CEILING)
        if rng.min_open and lo * step == _dec(rng.min):
            lo += 1
    if rng.max is not None:
        hi = _index(_dec(rng.max), step, ROUND_FLOOR)
        if rng.max_open and hi * step == _dec(rng.max):
            hi -= 1
    if lo is None and hi is None:
        lo, hi = -_span_steps(rng), _span_steps(rng)
    elif lo is None:
        assert hi is not None
        lo = hi - _span_steps(rng)
    elif hi is None:
        hi = lo + _span_steps(rng)
    return (lo, hi) if lo <= hi else None


def inside_draws(rng: Range) -> st.SearchStrategy[BoundaryCase] | None:
    """Values on the step grid inside `rng` (one-sided ranges: within a small span of the bound)."""
    bounds = _inside_bounds(rng)
    return None if bounds is None else _grid(rng, *bounds, inside=True)


def outside_draws(rng: Range, *, floor: float | None = None) -> st.SearchStrategy[BoundaryCase] | None:
    """Values on the step grid outside `rng`, within one range width of a bound, none below `floor`."""
    step = step_of(rng)
    span = _span_steps(rng)
    parts: list[st.SearchStrategy[BoundaryCase]] = []
    if rng.min is not None:
        top = _index(_dec(rng.min), step, ROUND_FLOOR)
        if not (rng.min_open and top * step == _dec(rng.min)):
            top = _index(_dec(rng.min), step, ROUND_CEILING) - 1
        bottom = top - span
        if floor is not None:
            bottom = max(bottom, _index(_dec(floor), step, ROUND_CEILING))
        if bottom <= top:
            parts.append(_grid(rng, bottom, top, inside=False))
    if rng.max is not None:
        bottom = _index(_dec(rng.max), step, ROUND_CEILING)
        if not (rng.max_open and bottom * step == _dec(rng.max)):
            bottom = _index(_dec(rng.max), step, ROUND_FLOOR) + 1
        top = bottom + span
        if floor is not None:
            bottom = max(bottom, _index(_dec(floor), step, ROUND_CEILING))
        if bottom <= top:
            parts.append(_grid(rng, bottom, top, inside=False))
    return st.one_of(parts) if parts else None


def draws(rng: Range, *, floor: float | None = None) -> st.SearchStrategy[BoundaryCase] | None:
    """Inside and outside draws together (None when the range has neither)."""
    parts = [s for s in (inside_draws(rng), outside_draws(rng, floor=floor)) if s is not None]
    return st.one_of(parts) if parts else None


# -- exploration ---------------------------------------------------------------------------------------

_HYPOTHESIS = threading.Lock()  # Hypothesis keeps global state: one exploration at a time


def _key(case: BoundaryCase) -> Hashable:
    """Identity of a sent case: 0 and 0.0 are one JSON number, True and 1 are not; type cases stand apart."""
    value = case.value
    if isinstance(value, bool) or not isinstance(value, int | float):
        return (case.kind == "type", type(value).__name__, repr(value))
    return (case.kind == "type", "number", value)


def explore(
    cases: Iterable[BoundaryCase],
    strategy: st.SearchStrategy[BoundaryCase] | None,
    *,
    run_seed: int,
    count: int,
) -> list[BoundaryCase]:
    """The values to send: every case in `cases` (as explicit examples) then `count` new draws.

    Hypothesis runs without shrinking and without a database, seeded from the run seed, so a
    run with the same seed sends the same values. Duplicates of earlier values are dropped.
    """
    plan: list[BoundaryCase] = []
    seen: set[Hashable] = set()
    drawn = 0

    def collect(case: BoundaryCase) -> None:
        nonlocal drawn
        if _key(case) in seen or (case.kind == "draw" and drawn >= count):
            return
        seen.add(_key(case))
        plan.append(case)
        drawn += case.kind == "draw"

    explicit = list(cases)
    generate = strategy is not None and count > 0
    if not explicit and not generate:
        return []
    test: Any = collect
    for case in reversed(explicit):
        test = example(case)(test)
    # Without draws only the explicit phase runs; the strategy must still be satisfiable.
    test = given(strategy if strategy is not None else st.sampled_from(explicit))(test)
    test = settings(
        max_examples=max(1, count * 20),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate] if generate else [Phase.explicit],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
    )(test)
    test = seed(run_seed)(test)
    with _HYPOTHESIS:
        test()
    return plan
