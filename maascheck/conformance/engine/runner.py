"""Runs the rules: decides which apply, makes each needed probe once (concurrently), judges them,
and applies known deviations.

The runner knows nothing of pytest or reports: `Suite` evaluates one rule at a time (the pytest
plugin drives it item by item) and `run_suite` evaluates them all (tests and scripts).
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from maascheck.conformance import rules as rules_pkg
from maascheck.conformance.engine.options import RunOptions
from maascheck.conformance.engine.verdict import View, counts, observed_defects
from maascheck.conformance.model.exchange import Exchange, owner_of
from maascheck.conformance.model.outcome import Outcome
from maascheck.conformance.model.probe import PROBES, Probe, ProbeEnv, SDKProbeEnv
from maascheck.conformance.model.rule import RULES, Defect, NotApplicable, Rule, RuleContext, Violation
from maascheck.conformance.report.evidence import redact_value, render_attempts
from maascheck.conformance.transport.recorder import Limits, Recorder, Timeouts
from maascheck.conformance.transport.sdk_transport import recording_client
from maascheck.conformance.transport.transient import TRANSIENT_STATUSES, TransientPolicy, transient_note
from maascheck.core.profiles import Deviation, Profile
from maascheck.core.secrets import Redactor

BUDGET_EXHAUSTED = "request budget exhausted"


class ProbeUnavailable(NotApplicable):
    """The probe was not made (budget exhausted, feature undocumented, no model for it)."""


class ProbeError(Exception):
    """The probe's own code (its body builder) raised: a bug in the suite, reported as a rule error."""


@dataclass
class RuleResult:
    """The judgement of one rule (the `rules[]` entry of results.json, before rendering)."""

    rule: Rule
    outcome: Outcome
    message: str | None = None
    reason: str | None = None
    evidence: dict[str, Any] | None = None
    duration_ms: float = 0.0
    defects: tuple[Defect, ...] = ()  # of a failure: the rule's own defect and those its exchanges show

    @property
    def fails_run(self) -> bool:
        """Whether this outcome fails the strict view without --strict (MUST failure, error, strict xpass)."""
        return counts(self, View.STRICT)


@dataclass
class SuiteResult:
    """Every rule's result, the request count and the run's timing."""

    results: list[RuleResult]
    requests_made: int
    max_requests: int | None
    started_utc: str
    finished_utc: str
    duration_s: float
    strict: bool = False
    interrupted: bool = False
    exchanges: list[Exchange] = field(default_factory=list)
    view: View = View.COMPAT
    trials: dict[str, Any] | None = None  # behaviour rates over --trials N (engine/trials.py)

    def ids(self, *outcomes: str) -> set[str]:
        """IDs of the rules whose outcome is one of `outcomes`."""
        return {r.rule.id for r in self.results if r.outcome in outcomes}

    @property
    def exit_code(self) -> int:
        """0 pass, 1 fail under the run's view (maascheck.conformance.engine.verdict)."""
        return verdict_exit_code(self.results, self.strict, self.view)


def verdict_exit_code(results: Iterable[RuleResult], strict: bool, view: View = View.COMPAT) -> int:
    """The run's exit status from its rule results under `view` (MAY failures never fail it)."""
    return 1 if any(counts(r, view, should=strict) for r in results) else 0


def _defects(rule: Rule, used: Iterable[Exchange]) -> tuple[Defect, ...]:
    found = set(observed_defects(used)) | ({rule.defect} if rule.defect else set())
    return tuple(d for d in Defect if d in found)


def utc_now() -> str:
    """The current UTC time in ISO 8601 with a Z suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def deviation_for(rule_id: str, profile: Profile) -> Deviation | None:
    """The profile's known deviation for `rule_id`, if any."""
    return next(
        (d for d in profile.deviations if d.rule == rule_id and d.profile in (None, profile.name)), None
    )


class Budget:
    """A thread-safe request counter with an optional ceiling."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Reserve one request; False when the ceiling is reached."""
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                return False
            self.used += 1
            return True

    def refund(self) -> None:
        """Give back a reservation that made no request."""
        with self._lock:
            self.used -= 1


class Suite:
    """One run's shared state: the client, the budget, and each probe's exchange (made once)."""

    def __init__(
        self,
        base_url: str,
        profile: Profile,
        options: RunOptions,
        *,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        rules_pkg.load_all()
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.options = options if options.base_url else replace(options, base_url=self.base_url)
        self.redactor = Redactor([options.api_key])
        self.timeouts = Timeouts(
            connect=options.connect_timeout,
            headers=options.head_timeout,
            stall=options.stall_timeout,
            total=options.exchange_timeout,
        )
        self.limits = Limits(
            response_bytes=options.max_response_bytes,
            line_bytes=options.max_line_bytes,
            event_bytes=options.max_event_bytes,
            events=options.max_events,
            json_depth=options.max_json_depth,
            run_bytes=options.max_run_bytes,
        )
        self.budget = Budget(options.max_requests)
        # A retry on a fresh connection (after a dead keep-alive one) is a request made: it takes budget.
        self.transient = TransientPolicy()
        self.recorder = Recorder(
            self.base_url,
            options.api_key,
            self.timeouts,
            may_retry=self.budget.take,
            limits=self.limits,
            run_timeout=options.run_timeout,
            transient=self.transient,
        )
        self.progress = progress or (lambda _line: None)
        self._made: dict[str, Exchange | ProbeUnavailable | ProbeError] = {}
        self._locks: dict[str, threading.Lock] = {name: threading.Lock() for name in PROBES}
        self._reserved: set[str] = set()
        self._reserve_lock = threading.Lock()
        self.trial_requests = 0  # requests made by --trials (outside the request budget)
        self.started_utc = utc_now()
        self._t0 = time.monotonic()

    # -- which rules apply ---------------------------------------------------------------------------

    def rules(self) -> list[Rule]:
        """Every registered rule, in registration order."""
        return list(RULES.values())

    def skip_reason(self, rule: Rule) -> str | None:
        """Why `rule` cannot apply under this profile (None when it applies)."""
        missing = [f for f in rule.requires if not self.profile.feature(f)]
        if missing:
            return f"profile {self.profile.name!r} does not document: {', '.join(missing)}"
        return None

    def _probe_skip_reason(self, p: Probe) -> str | None:
        missing = [f for f in p.requires if not self.profile.feature(f)]
        if missing:
            return f"profile {self.profile.name!r} does not document: {', '.join(missing)} (probe {p.name})"
        return None

    # -- making probes -------------------------------------------------------------------------------

    def plan(self, rules: Iterable[Rule]) -> list[str]:
        """Probes the applicable `rules` need, dependencies before dependents, in rule order."""
        order: list[str] = []

        def visit(name: str) -> None:
            if name in order or name not in PROBES:
                return
            for dep in PROBES[name].depends:
                visit(dep)
            order.append(name)

        for r in rules:
            if self.skip_reason(r) is None:
                for name in r.probes:
                    visit(name)
        return order

    def prefetch(self, rules: Iterable[Rule]) -> None:
        """Make the probes the applicable `rules` need (budget reserved in plan order), concurrently."""
        order = [n for n in self.plan(rules) if n not in self._made]
        with self._reserve_lock:
            for name in order:
                if self._probe_skip_reason(PROBES[name]) is None and name not in self._reserved:
                    if not self.budget.take():
                        break
                    self._reserved.add(name)
        self.progress(f"making {len(order)} probes ({self.options.concurrency} at a time)")
        done_count = 0
        with ThreadPoolExecutor(max_workers=max(1, self.options.concurrency)) as pool:
            pending = set(order)
            while pending:
                ready = [
                    n for n in order if n in pending and all(d not in pending for d in PROBES[n].depends)
                ]
                if not ready:  # a dependency cycle: make the rest one by one
                    ready = [next(n for n in order if n in pending)]
                futures: dict[Future[Exchange | ProbeUnavailable | ProbeError], str] = {
                    pool.submit(self._get, n): n for n in ready
                }
                for fut in as_completed(futures):
                    name = futures[fut]
                    pending.discard(name)
                    done_count += 1
                    self.progress(f"[{done_count}/{len(order)}] {self._describe(name, fut.result())}")

    def _describe(self, name: str, made: Exchange | ProbeUnavailable | ProbeError) -> str:
        if isinstance(made, (ProbeUnavailable, ProbeError)):
            return f"{name}: not made ({made})"
        status = made.status if made.status is not None else made.error_kind
        extra = f", {len(made.events)} events" if made.events else ""
        if made.prior_attempt is not None:
            extra += f" (retried on a fresh connection after: {made.prior_attempt.error_kind})"
        return f"{name}: {made.method} {made.url} -> {status} in {made.elapsed_ns / 1e6:.0f} ms{extra}"

    def exchange(self, name: str) -> Exchange:
        """The exchange of probe `name`, made on first use; raises ProbeUnavailable when it cannot be made."""
        made = self._get(name)
        if isinstance(made, (ProbeUnavailable, ProbeError)):
            raise made
        return made

    def _get(self, name: str) -> Exchange | ProbeUnavailable | ProbeError:
        if name not in PROBES:
            raise KeyError(f"no probe named {name!r} is registered (known: {', '.join(sorted(PROBES))})")
        with self._locks[name]:
            if name not in self._made:
                self._made[name] = self._make(PROBES[name])
            return self._made[name]

    def _make(self, p: Probe) -> Exchange | ProbeUnavailable | ProbeError:
        reason = self._probe_skip_reason(p)
        if reason:
            return ProbeUnavailable(reason)
        for dep in p.depends:
            dep_made = self._get(dep)
            if isinstance(dep_made, (ProbeUnavailable, ProbeError)):
                return ProbeUnavailable(f"probe {p.name} depends on {dep}, which was not made: {dep_made}")
        if self.recorder.run_over():
            return ProbeUnavailable(self.recorder.run_over_reason())
        with self._reserve_lock:
            reserved = p.name in self._reserved
            if not reserved and not self.budget.take():
                return ProbeUnavailable(BUDGET_EXHAUSTED)
            self._reserved.add(p.name)
        env = ProbeEnv(self.profile, self.options, self.exchange)
        try:
            if p.sdk is not None:
                return self._make_sdk(p, env)
            body = p.body(env) if p.body is not None else None
        except NotApplicable as exc:
            self.budget.refund()
            return ProbeUnavailable(str(exc))
        except Exception as exc:
            self.budget.refund()
            return ProbeError(f"probe {p.name} could not build its request: {type(exc).__name__}: {exc}")
        return self.recorder.record(p.name, p.method, p.path, body, auth=p.auth, headers=p.headers)

    def _make_sdk(self, p: Probe, env: ProbeEnv) -> Exchange:
        """The SDK call of `p`; a 429/503 answer is retried like the recorder's (transport/transient.py)."""
        ex, done = self._sdk_attempt(p, env), 0
        while (wait := self.transient.wait_before_retry(ex, done)) is not None and self.budget.take():
            time.sleep(wait)
            retry = self._sdk_attempt(p, env)
            retry.prior_attempt = ex
            ex, done = retry, done + 1
        if ex.status in TRANSIENT_STATUSES:
            ex.transient = transient_note(ex, done, self.transient)
        return ex

    def _sdk_attempt(self, p: Probe, env: ProbeEnv) -> Exchange:
        import openai  # the SDK is only needed by client-compatibility probes

        http_client, transport = recording_client(
            p.name, self.recorder, total=self.timeouts.total, origin=self.base_url
        )
        client = openai.OpenAI(
            base_url=self.base_url,
            api_key=self.options.api_key or "no-key-configured",
            max_retries=0,
            http_client=http_client,
        )
        sdk_env = SDKProbeEnv(env.profile, env.options, env.exchange, client=client)
        result: Any = None
        error: str | None = None
        assert p.sdk is not None
        try:
            result = p.sdk(sdk_env)
        except NotApplicable:
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        finally:
            http_client.close()
        recorded: list[Exchange] = transport.exchanges
        if recorded:
            ex = recorded[-1]
        else:
            ex = Exchange(
                p.name,
                p.method,
                self.base_url + p.path,
                [],
                None,
                error_kind="protocol",
                error="the openai SDK made no request",
            )
        ex.sdk_result, ex.sdk_error = result, error
        return ex

    def send(self, method: str, path: str, body: Any = None, *, label: str, auth: str = "valid") -> Exchange:
        """An ad-hoc request for a rule (thread-safe, counted in the budget)."""
        if self.recorder.run_over():
            raise ProbeUnavailable(self.recorder.run_over_reason())
        if not self.budget.take():
            raise ProbeUnavailable(BUDGET_EXHAUSTED)
        return self.recorder.record(label, method, path, body, auth=auth)

    # -- judging -------------------------------------------------------------------------------------

    def evaluate(self, rule: Rule) -> RuleResult:
        """Judge `rule` (making any probe it needs that is not made yet) and apply known deviations."""
        t0 = time.perf_counter()
        result = self._judge(rule)
        result.duration_ms = round((time.perf_counter() - t0) * 1000, 3)
        return apply_deviation(result, deviation_for(rule.id, self.profile))

    def _judge(self, rule: Rule) -> RuleResult:
        reason = self.skip_reason(rule)
        if reason:
            return RuleResult(rule, Outcome.SKIPPED, reason=reason)
        ctx = RuleContext(self.profile, self.options, self.exchange, sender=self.send)
        result = self._check(rule, ctx)
        stuck = next((ex for ex in ctx.used if ex.transient), None)
        if stuck is not None and result.outcome != Outcome.SKIPPED:  # a 429/503 says nothing the rule asks
            note = f"not judged: the {stuck.probe} request got a {stuck.transient}"
            return RuleResult(
                rule,
                Outcome.SKIPPED,
                reason=self.redactor.text(note),
                evidence=self._evidence("an answer to judge", stuck.transient, None, [stuck]),
            )
        return result

    def _check(self, rule: Rule, ctx: RuleContext) -> RuleResult:
        """Run `rule` on its exchanges: passed, failed (a violation or a broken exchange), skipped or error."""
        try:
            rule.check(ctx)
        except Violation as v:
            # A violation that names its exchange is shown by that exchange alone (the one its message describes).
            used = [v.exchange] if v.exchange is not None else ctx.used
            return RuleResult(
                rule,
                Outcome.FAILED,
                message=self.redactor.text(v.message),
                evidence=self._evidence(v.expected, v.received, v.where, used),
                defects=_defects(rule, used),
            )
        except NotApplicable as n:
            return RuleResult(rule, Outcome.SKIPPED, reason=self.redactor.text(str(n)))
        except Exception as exc:
            broken = next((ex for ex in ctx.used if ex.error), None)
            if broken is not None:  # the rule could not read a broken exchange: the endpoint's fault
                msg = f"transport failure ({broken.error_kind}): {broken.error}"
                return RuleResult(
                    rule,
                    Outcome.FAILED,
                    message=self.redactor.text(msg),
                    evidence=self._evidence("a complete response", msg, None, ctx.used),
                    defects=_defects(rule, ctx.used),
                )
            tb = traceback.format_exc(limit=8)
            return RuleResult(
                rule,
                Outcome.ERROR,
                message=self.redactor.text(f"{type(exc).__name__}: {exc}\n{tb}"),
                evidence=self._evidence(None, None, None, ctx.used) if ctx.used else None,
            )
        unanswered = next((ex for ex in ctx.used if ex.status is None), None)
        if unanswered is not None:  # a fact about a response that never came was not verified
            return RuleResult(
                rule,
                Outcome.SKIPPED,
                reason=self.redactor.text(
                    f"no response to judge: the {unanswered.probe} request did not complete "
                    f"({unanswered.error_kind}: {unanswered.error})"
                ),
            )
        unread = next((why for ex in ctx.used if (why := unreadable(ex)) is not None), None)
        if unread is not None:  # a fact about a response read only in part was not verified
            return RuleResult(rule, Outcome.SKIPPED, reason=self.redactor.text(unread))
        return RuleResult(rule, Outcome.PASSED)

    def _evidence(
        self, expected: Any, received: Any, where: str | None, used: list[Exchange]
    ) -> dict[str, Any]:
        seen: list[Exchange] = []
        for ex in used:
            if all(ex is not s for s in seen):
                seen.append(ex)
        return {
            "expected": redact_value(expected, self.redactor),
            "received": redact_value(received, self.redactor),
            "where": self.redactor.text(where) if where else None,
            "exchanges": [
                shown for ex in seen for shown in render_attempts(ex, self.redactor, self.options.api_key_env)
            ],
        }

    def result(self, results: list[RuleResult], *, interrupted: bool = False) -> SuiteResult:
        """A `SuiteResult` of `results` with this run's timing and request count."""
        return SuiteResult(
            results=results,
            requests_made=self.budget.used + self.trial_requests,
            max_requests=self.options.max_requests,
            started_utc=self.started_utc,
            finished_utc=utc_now(),
            duration_s=round(time.monotonic() - self._t0, 3),
            strict=self.options.strict,
            interrupted=interrupted,
            view=View(self.options.verdict),
            exchanges=self.exchanges(),
        )

    def exchanges(self) -> list[Exchange]:
        """Every exchange made so far (probes only), in probe order."""
        return [m for m in list(self._made.values()) if isinstance(m, Exchange)]

    def close(self) -> None:
        """Release the connection pool."""
        self.recorder.close()


def unreadable(ex: Exchange) -> str | None:
    """Why a rule cannot have judged all of `ex` (cut by a bound or the endpoint, or holding unusable JSON)."""
    if ex.error:
        return (
            f"the {ex.probe} response was not read to its end ({ex.error_kind}: {ex.error}); {owner_of(ex)} reports it"
        )
    if ex.status != 200:
        return None
    if ex.is_sse or ex.events:
        bad = next((ev for ev in ex.events if ev.json_error is not None), None)
        if bad is not None:
            return f"the {ex.probe} stream has an event that is not usable JSON ({bad.json_error}); STREAM-002 fails"
        return None
    if "json" in (ex.header("content-type") or "").lower() and ex.json_problem is not None:
        return f"the {ex.probe} body is not usable JSON ({ex.json_problem[:200]}); its acceptance rule reports it"
    return None


def apply_deviation(result: RuleResult, deviation: Deviation | None) -> RuleResult:
    """A known deviation is a strict expected failure: failed -> xfailed; passed -> xpassed (a failure)."""
    if deviation is None:
        return result
    if result.outcome == Outcome.FAILED:
        result.outcome, result.reason = Outcome.XFAILED, deviation.reason
    elif result.outcome == Outcome.PASSED:
        result.outcome = Outcome.XPASSED
        result.reason = deviation.reason
        result.message = f"[XPASS(strict)] known deviation no longer observed: {deviation.reason}"
    return result


def run_suite(
    base_url: str,
    profile: Profile,
    options: RunOptions,
    *,
    only: Callable[[Rule], bool] | None = None,
    progress: Callable[[str], None] | None = None,
) -> SuiteResult:
    """Run every registered rule (or those `only` selects) against `base_url`; no pytest involved."""
    suite = Suite(base_url, profile, options, progress=progress)
    chosen = [r for r in suite.rules() if only is None or only(r)]
    results: list[RuleResult] = []
    interrupted = False
    trials = None
    try:
        suite.prefetch(chosen)
        for r in chosen:
            results.append(suite.evaluate(r))
        if options.trials:
            from maascheck.conformance.engine.trials import run_trials

            trials = run_trials(suite, options.trials)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        suite.close()
    done = suite.result(results, interrupted=interrupted)
    done.trials = trials
    return done
