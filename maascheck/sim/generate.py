"""What each choice of a request will output: reasoning, content or a tool call, and why it finished.

Output length: `output_tokens` (SimConfig) is the natural length; `max_tokens` /
`max_completion_tokens` cut it (finish_reason "length"); with the vendor flag `ignore_eos` the output
is exactly `max_tokens` long. Reasoning models spend the first quarter of the budget on
`reasoning_content`. Stop sequences are searched in the content; the output ends before the
earliest match (spec: "The returned text will not contain the stop sequence").
Determinism: with `seed`, or `temperature: 0`, the text depends only on (seed, model, prompt, choice
index), so changing `stop`, `max_tokens` or `stream` never changes the text before the cut.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from maascheck.sim.tokens import (
    alternatives,
    arguments_for,
    generate_tokens,
    instance_of,
    json_fragments,
    rng_for,
    token_logprob,
)
from maascheck.sim.validate import GenRequest

TokenLogprob = tuple[str, float, list[tuple[str, float]]]


@dataclass
class ToolPlan:
    """One tool call: its id, function name and the argument string cut into streamed fragments."""

    call_id: str
    name: str
    fragments: list[str]

    @property
    def arguments(self) -> str:
        """The full argument string (valid JSON unless cut by max_tokens)."""
        return "".join(self.fragments)


@dataclass
class ChoicePlan:
    """The complete output of one choice."""

    index: int
    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    tools: list[ToolPlan] = field(default_factory=list)  # several when the model calls tools in parallel
    finish_reason: str = "stop"
    completion_tokens: int = 0
    logprobs: list[TokenLogprob] | None = None

    @property
    def text(self) -> str:
        """The visible content."""
        return "".join(self.content)

    @property
    def tool(self) -> ToolPlan | None:
        """The first tool call (None when the choice calls no tool)."""
        return self.tools[0] if self.tools else None

    def pieces(self) -> list[tuple[str, str]]:
        """The output as (kind, token text) pairs in stream order; kind is reasoning|content|tool|tool#N.

        The fragments of the N-th parallel tool call (N >= 1) have kind `tool#N`, so no step mixes calls.
        """
        out = [("reasoning", t) for t in self.reasoning]
        if self.tools:
            for n, tool in enumerate(self.tools):
                out += [(tool_kind(n), t) for t in tool.fragments]
        else:
            out += [("content", t) for t in self.content]
        return out


def plan_choices(req: GenRequest, natural_tokens: int, fallback: random.Random) -> list[ChoicePlan]:
    """Plan every choice of `req` (n per prompt)."""
    deterministic = req.seed is not None or req.temperature == 0
    plans = []
    for index in range(req.n * len(req.prompts)):
        if deterministic:
            rng = rng_for(
                [req.seed, req.model, req.endpoint, req.prompt_key, req.tools, req.json_output, index]
            )
        else:
            rng = random.Random(fallback.getrandbits(64))
        plans.append(_plan_one(req, index, natural_tokens, rng))
    return plans


def _plan_one(req: GenRequest, index: int, natural: int, rng: random.Random) -> ChoicePlan:
    plan = ChoicePlan(index=index)
    budget = req.max_tokens
    if req.ignore_eos and budget is not None:
        natural = budget
    cut = budget is not None and budget < natural
    limit = min(natural, budget) if budget is not None else natural
    reasoning_len = max(1, natural // 4) if req.model_role == "reasoning" else 0
    plan.reasoning = generate_tokens(rng, min(reasoning_len, limit))
    left = limit - len(plan.reasoning)
    picked = _pick_tools(req, rng)
    if picked:
        plan.finish_reason = "tool_calls"
        for name, schema in picked:
            frags = json_fragments(json.dumps(arguments_for(schema, rng), ensure_ascii=False))
            call_id = "call_" + f"{rng.getrandbits(96):024x}"
            if left <= 0:
                break
            plan.tools.append(ToolPlan(call_id=call_id, name=name, fragments=frags[:left]))
            if left < len(frags):
                plan.finish_reason = "length"
            left -= len(frags)
        plan.completion_tokens = len(plan.reasoning) + sum(len(t.fragments) for t in plan.tools)
        if not plan.tools:
            plan.finish_reason = "length"
        return plan
    natural_content = natural - reasoning_len
    if req.json_output:  # the JSON document is the natural output: only max_tokens cuts it
        if req.json_schema is not None:
            doc: object = instance_of(req.json_schema, rng)
        else:
            doc = {"answer": "".join(generate_tokens(rng, max(1, natural_content - 6))).strip()}
        tokens = json_fragments(json.dumps(doc, ensure_ascii=False))
        left = len(tokens) if budget is None else budget - len(plan.reasoning)
        cut = left < len(tokens)
    else:
        tokens = generate_tokens(rng, max(0, natural_content))
    tokens = tokens[: max(0, left)]
    plan.finish_reason = "length" if cut else "stop"
    consumed = len(tokens)
    if req.stop:
        tokens, consumed, hit = _apply_stop(tokens, req.stop)
        if hit:
            plan.finish_reason = "stop"
    plan.content = tokens
    plan.completion_tokens = len(plan.reasoning) + consumed
    want = (
        req.top_logprobs if req.logprobs else (req.legacy_logprobs if req.legacy_logprobs is not None else -1)
    )
    if want >= 0:
        plan.logprobs = []
        for tok in tokens:
            lp = token_logprob(rng)
            plan.logprobs.append((tok, lp, alternatives(rng, tok, lp, want) if want else []))
    return plan


def _apply_stop(tokens: list[str], stops: list[str]) -> tuple[list[str], int, bool]:
    """Cut `tokens` before the earliest stop sequence; return (kept, tokens consumed, whether one hit)."""
    text = "".join(tokens)
    hits = [(text.find(s), s) for s in stops if s and text.find(s) >= 0]
    if not hits:
        return tokens, len(tokens), False
    pos, stop = min(hits)
    end = pos + len(stop)
    kept: list[str] = []
    offset = 0
    consumed = 0
    for tok in tokens:
        start, offset = offset, offset + len(tok)
        if start < pos:
            kept.append(tok[: pos - start] if offset > pos else tok)
        consumed += 1
        if offset >= end:
            break
    return kept, consumed, True


def tool_kind(n: int) -> str:
    """The piece kind of the n-th tool call's fragments: `tool`, then `tool#1`, `tool#2`..."""
    return "tool" if n == 0 else f"tool#{n}"


def _pick_tools(req: GenRequest, rng: random.Random) -> list[tuple[str, object]]:
    """The tools the answer calls: the named one; else those the last user message names (all of them
    unless `parallel_tool_calls` is false); with `required` at least one; with `none` or after a tool
    result (the second turn answers in text) none."""
    if req.endpoint != "chat" or not req.tools or req.tool_choice == "none" or req.after_tool_result:
        return []
    by_name = {t["function"]["name"]: t["function"].get("parameters") for t in req.tools}
    if isinstance(req.tool_choice, dict):
        name = req.tool_choice["function"]["name"]
        return [(name, by_name[name])]
    asked = req.last_user_text.lower()
    named = [
        (name, schema)
        for name, schema in by_name.items()
        if name.lower() in asked or name.lower().replace("_", " ") in asked
    ]
    if not named and req.tool_choice == "required":
        name = list(by_name)[rng.randrange(len(by_name))]
        named = [(name, by_name[name])]
    return named if req.parallel_tool_calls else named[:1]
