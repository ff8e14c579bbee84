"""A rule: one documented fact with a stable ID, a level and a source, checked by one small function.

Rules are registered with the `rule` decorator in the area modules of `maascheck.conformance.rules`. A rule
function receives a `RuleContext`, reads the exchanges of the probes it declared, and raises
`Violation` (the fact does not hold) or `NotApplicable` (the exchange cannot say, e.g. the
profile does not document the feature). Returning normally means the rule passed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from maascheck.conformance.model.exchange import Exchange
    from maascheck.core.profiles import Profile


class Level(StrEnum):
    """RFC 2119 levels: MUST failures fail the run; SHOULD failures only with --strict; MAY never."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"


class Impact(StrEnum):
    """What breaks when a rule fails: the evidence behind a verdict, beside the level (a fact of the documents).

    `client`: a named real client fails (the official openai SDK, or one from the client matrix);
    the rule names it and the exception in `breaks`. `spec`: the answer differs from the documented
    contract, and no known client breaks on it. `hygiene`: presentation a user or operator notices
    (a header, a helpful error field), no contract term at stake.
    """

    CLIENT = "client"
    SPEC = "spec"
    HYGIENE = "hygiene"


class Defect(StrEnum):
    """Failures that are defects whatever the level or impact: the compat view always counts them.

    A rule may declare one (STREAM-005 is about hangs, USAGE-002 about arithmetic); the runner also
    finds them in the exchanges a failed rule read (a 5xx status, a stall, a cut body).
    """

    SERVER_ERROR = "5xx"
    HANG = "hang"
    TRUNCATION = "truncation"
    ARITHMETIC = "arithmetic"


@dataclass(frozen=True)
class ClientBreak:
    """Evidence of client impact: which client fails and how (exception or wrong result)."""

    client: str  # a client a user can install: "openai-python 1.x", a client-matrix name
    failure: str  # what it does with the failing answer: "raises json.JSONDecodeError in Stream.__stream__"

    def __str__(self) -> str:
        return f"{self.client}: {self.failure}"


class Violation(Exception):
    """The rule's fact does not hold: what was expected, what was received, and where."""

    def __init__(
        self,
        message: str,
        *,
        expected: Any = None,
        received: Any = None,
        where: str | None = None,
        exchange: Exchange | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.received = received
        self.where = where
        self.exchange = exchange


class NotApplicable(Exception):
    """The rule cannot be judged here (feature not documented by the profile, probe not made...)."""


class RuleContext:
    """What a rule function can see: the profile, the run options and the recorded exchanges."""

    def __init__(
        self,
        profile: Profile,
        options: Any,
        exchanges: Callable[[str], Exchange],
        sender: Callable[..., Exchange] | None = None,
    ) -> None:
        self.profile = profile
        self.options = options
        self._exchanges = exchanges
        self._sender = sender
        self.used: list[Exchange] = []

    def exchange(self, probe: str) -> Exchange:
        """The recorded exchange of `probe` (made on first use, then shared by every rule)."""
        ex = self._exchanges(probe)
        if ex not in self.used:
            self.used.append(ex)
        return ex

    def peek(self, probe: str) -> Exchange:
        """The recorded exchange of `probe` without adding it to this rule's evidence (the client matrix
        runs a client over several probes at once, and each cell shows only its own)."""
        return self._exchanges(probe)

    def send(self, method: str, path: str, body: Any = None, *, label: str, auth: str = "valid") -> Exchange:
        """Make an ad-hoc request (counted against the request budget), e.g. one Hypothesis example."""
        if self._sender is None:
            raise NotApplicable("this run does not allow ad-hoc requests")
        ex = self._sender(method, path, body, label=label, auth=auth)
        self.used.append(ex)
        return ex


@dataclass(frozen=True)
class Rule:
    """A registered rule."""

    id: str
    level: Level
    title: str  # the fact, stated: "The stream ends with data: [DONE]"
    source: str  # seed file or spec section it enforces
    area: str
    probes: tuple[str, ...]
    check: Callable[[RuleContext], None]
    requires: tuple[str, ...] = ()  # profile features that must be documented for the rule to apply
    impact: Impact = Impact.SPEC
    breaks: tuple[ClientBreak, ...] = ()  # the evidence of a `client` impact (empty otherwise)
    defect: Defect | None = None  # a failure of this rule is always this defect (e.g. a hang)
    client: str | None = None  # the client-matrix client the rule judges (results.json `client`)


RULES: dict[str, Rule] = {}


def rule(
    rule_id: str,
    level: Level,
    title: str,
    *,
    source: str,
    probes: tuple[str, ...] | list[str],
    impact: Impact,
    breaks: Sequence[ClientBreak] = (),
    defect: Defect | None = None,
    requires: tuple[str, ...] | list[str] = (),
    client: str | None = None,
) -> Callable[[Callable[[RuleContext], None]], Callable[[RuleContext], None]]:
    """Register the decorated function as rule `rule_id`; its docstring explains the check.

    `impact` is required: a `client` impact names at least one client in `breaks`, other impacts none.
    """
    if (impact is Impact.CLIENT) != bool(breaks):
        raise ValueError(
            f"rule {rule_id}: impact {impact.value!r} with {len(breaks)} client breaks; a 'client' impact "
            "names the client that fails, e.g. breaks=[ClientBreak('openai-python', 'raises APIError')], "
            "and 'spec' or 'hygiene' name none"
        )

    def register(fn: Callable[[RuleContext], None]) -> Callable[[RuleContext], None]:
        if rule_id in RULES:
            raise ValueError(f"rule {rule_id} registered twice")
        area = fn.__module__.rsplit(".", 1)[-1]
        RULES[rule_id] = Rule(
            rule_id,
            level,
            title,
            source,
            area,
            tuple(probes),
            fn,
            tuple(requires),
            impact,
            tuple(breaks),
            defect,
            client,
        )
        return fn

    return register
