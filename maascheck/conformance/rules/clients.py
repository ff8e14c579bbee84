"""Clients: real client libraries hand the application what the endpoint sent (the client matrix).

One rule per client and scenario, `CLIENT-<CLIENT>-<SCENARIO>`, registered from the pinned catalog
(`maascheck/conformance/clients/pins.json`) and the scenario table (`clients/scenarios.py`). Each rule
replays the exchange of the suite's own probe for its scenario to the client (mode `replay`, no extra
request) or lets the client ask the target through the suite's recorder (mode `live`, counted in the
request budget). It passes when the client returns normally and what it hands the application (text,
tool call names and arguments, usage numbers, reasoning where the client exposes it) equals what the
exchange carried. The rules run with `--clients all|NAME,...`; without it they are skipped.
The level follows the client's documented promise: MUST where a provider's documentation promises the
client (openapi.hhaice.com: the openai SDK, and its legacy 0.x API), SHOULD for the other widely used
clients.
"""

from __future__ import annotations

from collections.abc import Callable

from maascheck.conformance.clients import matrix
from maascheck.conformance.clients.catalog import CLIENTS, Client, select
from maascheck.conformance.clients.replay import ClientRequest, NoExchange, Source, recorded_source
from maascheck.conformance.clients.scenarios import SCENARIOS, Scenario
from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.rule import ClientBreak, Impact, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.transport.recorder import DEFAULT_TIMEOUTS

MODES = ("replay", "live")
NOT_REQUESTED = "the client matrix runs on request: --clients all (or --clients NAME,...)"


def _templates(ctx: RuleContext) -> dict[str, Exchange]:
    """Each scenario's recorded probe exchange (scenarios whose probe was not made are left out)."""
    out = {}
    for s in SCENARIOS:
        try:
            ex = ctx.peek(s.probe)
        except NotApplicable:
            continue
        if ex.status is not None:
            out[s.name] = ex
    return out


def _live_source(ctx: RuleContext, client: Client) -> Source:
    """Live: each client request goes to the target through the suite's recorder (budget, key, bounds)."""

    def source(req: ClientRequest) -> Exchange:
        try:
            ex = ctx.send(req.method, req.endpoint, req.body, label=f"client {client.name} {req.scenario}")
        except NotApplicable as exc:
            raise NoExchange(f"live request not made: {exc}") from None
        ctx.used.remove(ex)  # each cell shows its own exchange, not the first rule's
        return ex

    return source


def _check_for(client: Client, scenario: Scenario) -> Callable[[RuleContext], None]:
    def check(ctx: RuleContext) -> None:
        spec = getattr(ctx.options, "clients", None)
        if not spec:
            raise NotApplicable(NOT_REQUESTED)
        chosen = select(spec)
        if client not in chosen:
            raise NotApplicable(f"{client.name} is not among --clients {spec}")
        ctx.exchange(scenario.probe)  # the scenario's own probe (NotApplicable when it was not made)
        templates = _templates(ctx)
        if scenario.name not in templates:
            raise NotApplicable(f"the {scenario.probe} probe got no response to replay")
        mode = getattr(ctx.options, "clients_mode", "replay")
        def sources(c: Client) -> Source:
            return _live_source(ctx, c) if mode == "live" else recorded_source(templates)

        timeout_s = float(getattr(ctx.options, "stall_timeout", DEFAULT_TIMEOUTS.stall))
        cells = matrix.cells_for(client, templates, sources, mode=mode, timeout_s=timeout_s, together=chosen)
        cell = cells[scenario.name]
        if cell.outcome == "skipped":
            raise NotApplicable(cell.message)
        if cell.outcome == "failed":
            raise Violation(
                cell.message,
                expected=cell.expected,
                received=cell.received,
                where=f"{client.title} {cell.client_version}, {scenario.title} ({mode})",
                exchange=cell.exchange,
            )

    check.__doc__ = f"{client.title} runs {scenario.title}; it hands the application what the exchange carried."
    check.__module__ = __name__
    return check


def rule_id(client: Client, scenario: Scenario) -> str:
    """CLIENT-<CLIENT>-<SCENARIO>."""
    return f"CLIENT-{client.id}-{scenario.name.upper()}"


for _client in CLIENTS:
    for _scenario in SCENARIOS:
        rule(
            rule_id(_client, _scenario),
            _client.level,
            f"{_client.title} reads {_scenario.title} and hands on what the exchange carried",
            source=f"client compatibility: {_client.name} {_client.version}; {_client.promise}",
            probes=(_scenario.probe,),
            requires=_scenario.requires,
            impact=Impact.CLIENT,
            breaks=[ClientBreak(_client.name, "raises, or hands the application other content than the wire carried")],
            client=_client.name,
        )(_check_for(_client, _scenario))
