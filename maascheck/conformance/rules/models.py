"""MODELS: `GET /models` lists the served models (OpenAI spec ListModelsResponse, Model)."""

from __future__ import annotations

from maascheck.conformance.model.probe import Probe, probe
from maascheck.conformance.model.rule import Impact, Level, NotApplicable, RuleContext, Violation, rule
from maascheck.conformance.rules._clients import STATUS_ERROR
from maascheck.conformance.rules.checks import json_body, media_type, precondition_status, require_status, schema_errors

SPEC = "OpenAI spec GET /models -> ListModelsResponse"

probe(Probe(name="models-list", method="GET", path="/models", requires=("models_endpoint",)))


def _is_entry_path(path: str) -> bool:
    return path.startswith("$.data[")


@rule(
    "MODELS-001",
    Level.MUST,
    "GET /models answers 200 with a JSON body",
    source=SPEC,
    probes=("models-list",),
    requires=("models_endpoint",),
    impact=Impact.CLIENT,
    breaks=[STATUS_ERROR],
)
def models_ok(ctx: RuleContext) -> None:
    """The spec documents only a 200 response for GET /models; its body is JSON."""
    ex = ctx.exchange("models-list")
    require_status(ex, 200, "GET /models")
    json_body(ex, "GET /models")


@rule(
    "MODELS-002",
    Level.MUST,
    "The model list is an object `list` holding a `data` array",
    source=SPEC,
    probes=("models-list",),
    requires=("models_endpoint",),
    impact=Impact.SPEC,
)
def models_envelope(ctx: RuleContext) -> None:
    """ListModelsResponse requires `object: "list"` and `data` (array); entries are judged by MODELS-003."""
    ex = ctx.exchange("models-list")
    precondition_status(ex, 200, "MODELS-001")
    doc = ex.json
    if doc is None:
        raise NotApplicable("the body is not JSON; MODELS-001 judges that")
    problems = [(p, m) for p, m in schema_errors("models-list", doc) if not _is_entry_path(p)]
    if problems:
        raise Violation(
            f"GET /models body is not a ListModelsResponse: {problems[0][0]}: {problems[0][1]}",
            expected='{"object": "list", "data": [...]} (schemas/models-list.json)',
            received={p: m for p, m in problems},
            where="GET /models body",
        )


@rule(
    "MODELS-003",
    Level.MUST,
    "Every model entry has `id`, `object: model`, `created` and `owned_by`",
    source="OpenAI spec Model",
    probes=("models-list",),
    requires=("models_endpoint",),
    impact=Impact.SPEC,
)
def models_entries(ctx: RuleContext) -> None:
    """Model requires id (string), object "model", created (unix time integer) and owned_by (string)."""
    ex = ctx.exchange("models-list")
    precondition_status(ex, 200, "MODELS-001")
    doc = ex.json
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise NotApplicable("no `data` array to inspect; MODELS-002 judges that")
    problems = [(p, m) for p, m in schema_errors("models-list", doc) if _is_entry_path(p)]
    if problems:
        raise Violation(
            f"{len(problems)} problem(s) in model entries, first: {problems[0][0]}: {problems[0][1]}",
            expected="each entry valid per schemas/model.json",
            received={p: m for p, m in problems[:20]},
            where="GET /models data[]",
        )


@rule(
    "MODELS-004",
    Level.MUST,
    "The configured model is listed by GET /models",
    source=SPEC,
    probes=("models-list",),
    requires=("models_endpoint",),
    impact=Impact.SPEC,
)
def models_lists_configured(ctx: RuleContext) -> None:
    """Clients pick their model from the list, so the model under test (--model) appears in `data[].id`."""
    ex = ctx.exchange("models-list")
    precondition_status(ex, 200, "MODELS-001")
    doc = ex.json
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise NotApplicable("no `data` array to inspect; MODELS-002 judges that")
    ids = [e.get("id") for e in data if isinstance(e, dict)]
    if ctx.options.model not in ids:
        raise Violation(
            f"model {ctx.options.model!r} (--model) is not in GET /models",
            expected=ctx.options.model,
            received=ids[:50],
            where="GET /models data[].id",
        )


@rule(
    "MODELS-005",
    Level.SHOULD,
    "GET /models declares Content-Type application/json",
    source=SPEC,
    probes=("models-list",),
    requires=("models_endpoint",),
    impact=Impact.HYGIENE,
)
def models_content_type(ctx: RuleContext) -> None:
    """The spec's only response content for GET /models is `application/json`."""
    ex = ctx.exchange("models-list")
    precondition_status(ex, 200, "MODELS-001")
    if media_type(ex) != "application/json":
        raise Violation(
            f"GET /models Content-Type is {ex.header('content-type')!r}",
            expected="application/json",
            received=ex.header("content-type"),
            where="GET /models response headers",
        )
