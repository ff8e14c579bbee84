"""Boundary generation: cases agree with `Range.contains`, straddle their bound; draws land where they say."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maascheck.conformance.rules.boundaries import (
    BoundaryCase,
    boolean_cases,
    boundary_cases,
    draws,
    explore,
    inside_draws,
    interval,
    is_inside,
    outside_draws,
    reject_case,
    step_of,
)
from maascheck.core.profiles import Range, load_profile

STEPS = st.sampled_from([None, 0.01, 0.1, 0.5, 1.0])
DETERMINISTIC = settings(derandomize=True, database=None, max_examples=200)


@st.composite
def ranges(draw: st.DrawFn) -> Range:
    """Ranges like the profiles': number or integer, either bound optional, open or closed, maybe a step."""
    kind = draw(st.sampled_from(["number", "integer"]))
    if kind == "integer":
        lo = draw(st.none() | st.integers(-(2**63), 2**63))
        width = draw(st.integers(0, 300))
        step = draw(st.sampled_from([None, 1, 2]))
    else:
        lo = draw(st.none() | st.integers(-400, 400).map(lambda i: i / 100))
        width = draw(st.integers(0, 400)) / 100
        step = draw(STEPS)
    hi = draw(st.none() | st.just(None if lo is None else lo + width) | st.integers(-50, 50))
    if lo is not None and hi is not None and hi < lo:
        lo, hi = hi, lo
    return Range("p", kind, lo, hi, draw(st.booleans()), draw(st.booleans()), step=step)


@DETERMINISTIC
@given(ranges())
def test_every_case_agrees_with_contains(rng: Range) -> None:
    for case in boundary_cases(rng):
        assert is_inside(rng, case.value) == case.expected_inside, case
        if case.kind in ("bound", "neighbour"):
            assert rng.contains(case.value) == case.expected_inside, case


@DETERMINISTIC
@given(ranges())
def test_integer_ranges_get_integers(rng: Range) -> None:
    for case in boundary_cases(rng):
        if rng.kind == "integer" and case.kind in ("bound", "neighbour"):
            assert type(case.value) is int


@DETERMINISTIC
@given(ranges())
def test_each_bound_is_straddled_by_two_essential_cases(rng: Range) -> None:
    """At each finite bound the essential cases hold one value inside and one outside."""
    cases = boundary_cases(rng)
    for side, bound in (("min", rng.min), ("max", rng.max)):
        near = [c for c in cases if c.side == side and c.essential]
        if bound is None:
            assert not near
            continue
        if any(c.expected_inside for c in cases if c.side == side):  # not an empty range
            assert sorted(c.expected_inside for c in near) == [False, True]
        assert all(abs(c.value - bound) <= float(step_of(rng)) + 1e-9 for c in near)


@DETERMINISTIC
@given(ranges())
def test_open_bounds_are_outside_and_closed_inside(rng: Range) -> None:
    degenerate = rng.min == rng.max and (rng.min_open or rng.max_open)  # e.g. [0, 0): empty
    for case in boundary_cases(rng):
        if case.kind == "bound":
            is_open = rng.min_open if case.side == "min" else rng.max_open
            assert case.expected_inside is not (is_open or degenerate)


@DETERMINISTIC
@given(ranges())
def test_type_confusion_is_always_outside(rng: Range) -> None:
    kinds = {c.kind: c for c in boundary_cases(rng) if not c.expected_inside and c.side is None}
    assert not kinds["type"].expected_inside
    if rng.kind == "integer":
        assert any(isinstance(c.value, float) and not c.value.is_integer() for c in boundary_cases(rng))
    elif rng.min is not None or rng.max is not None:
        assert math.isinf(kinds["non-finite"].value)


@settings(DETERMINISTIC, suppress_health_check=[HealthCheck.too_slow])
@given(ranges(), st.data())
def test_draws_land_where_they_say(rng: Range, data: st.DataObject) -> None:
    for strategy, inside in ((inside_draws(rng), True), (outside_draws(rng), False)):
        if strategy is None:
            continue
        case = data.draw(strategy)
        assert case.kind == "draw" and case.expected_inside is inside
        assert rng.contains(case.value) is inside, (case, interval(rng))


@DETERMINISTIC
@given(ranges(), st.data())
def test_floor_keeps_values_at_or_above_it(rng: Range, data: st.DataObject) -> None:
    floor = 0
    assert all(
        c.value >= floor
        for c in boundary_cases(rng, floor=floor)
        if c.side and c.kind == "neighbour" and c.side == "min" and not c.expected_inside
    )
    strategy = outside_draws(rng, floor=floor)
    if strategy is not None:
        case = data.draw(strategy)
        assert case.value >= floor


def test_taichu_top_p_open_interval_with_documented_step() -> None:
    """seeds/001: top_p (0.0, 1.0) open, step 0.1: the bounds are outside, 0.1 and 0.9 inside."""
    cases = {c.value: c.expected_inside for c in boundary_cases(load_profile("taichu").ranges["top_p"])}
    assert cases[0.0] is False and cases[1.0] is False
    assert cases[0.1] is True and cases[0.9] is True
    assert cases[-0.1] is False and cases[1.1] is False


def test_taichu_repetition_penalty_default_is_outside_its_range() -> None:
    """seeds/001: the documented default 1.0 is the open minimum, so it is an outside case."""
    rng = load_profile("taichu").ranges["repetition_penalty"]
    at_min = next(c for c in boundary_cases(rng) if c.side == "min" and c.kind == "bound")
    assert at_min.value == rng.default == 1.0 and at_min.expected_inside is False


def test_openai_temperature_closed_bounds() -> None:
    cases = {c.value: c.expected_inside for c in boundary_cases(load_profile("openai").ranges["temperature"])}
    assert cases[0.0] and cases[2.0] and not cases[-0.01] and not cases[2.01]


def test_int64_seed_bounds_are_exact() -> None:
    rng = load_profile("openai").ranges["seed"]
    values = {c.value: c.expected_inside for c in boundary_cases(rng) if c.side}
    assert values[2**63 - 1] and values[-(2**63)] and not values[2**63] and not values[-(2**63) - 1]
    assert interval(rng) == "[-9223372036854775808, 9223372036854775807]"


def test_reject_case_prefers_the_maximum() -> None:
    openai = load_profile("openai").ranges
    assert reject_case(openai["temperature"]) == BoundaryCase(
        2.01, False, "one step (0.01) outside the maximum", "neighbour", True, "max"
    )
    case = reject_case(openai["max_tokens"])
    assert case is not None and case.value == 0 and case.side == "min"
    assert reject_case(Range("x")) is None


def test_boolean_cases() -> None:
    assert [(c.value, c.expected_inside) for c in boolean_cases()] == [
        (True, True),
        (False, True),
        ("yes", False),
        (2, False),
    ]


def _plan(rng: Range, run_seed: int, count: int) -> list[Any]:
    return [
        c.value
        for c in explore(
            [c for c in boundary_cases(rng) if c.essential], draws(rng), run_seed=run_seed, count=count
        )
    ]


@pytest.mark.parametrize("name", ["temperature", "n", "seed", "max_tokens"])
def test_explore_sends_explicit_cases_first_then_new_draws(name: str) -> None:
    rng = load_profile("openai").ranges[name]
    essential = [c.value for c in boundary_cases(rng) if c.essential]
    plan = _plan(rng, 3, 2)
    assert plan[: len(essential)] == essential
    assert len(plan) == len(essential) + 2
    assert len({(type(v), v) for v in plan}) == len(plan)


def test_explore_is_reproducible_from_the_run_seed() -> None:
    rng = load_profile("openai").ranges["temperature"]
    assert _plan(rng, 11, 3) == _plan(rng, 11, 3)
    assert any(_plan(rng, 11, 3) != _plan(rng, s, 3) for s in range(12, 16))


def test_explore_without_draws_runs_explicit_cases_only() -> None:
    cases = boolean_cases()
    assert explore(cases, None, run_seed=0, count=3) == cases
    assert explore([], None, run_seed=0, count=3) == []


@settings(DETERMINISTIC, max_examples=10, suppress_health_check=[HealthCheck.nested_given])
@given(ranges(), st.integers(0, 2**32 - 1))
def test_explore_draws_are_classified_correctly(rng: Range, run_seed: int) -> None:
    for case in explore([], draws(rng), run_seed=run_seed, count=2):
        assert rng.contains(case.value) is case.expected_inside
