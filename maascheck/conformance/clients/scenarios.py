"""The matrix's scenarios as data: which recorded probe each one replays and which parts it compares."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """One thing an application does with a client."""

    name: str  # the rule-ID part, lower case: CLIENT-<CLIENT>-<NAME upper>
    probe: str  # the suite's probe whose exchange the scenario replays
    title: str
    parts: tuple[str, ...]  # what is compared: text, reasoning, tool_calls, usage; or error (the message)
    requires: tuple[str, ...] = ()  # profile features (those of the probe)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("chat", "chat", "a non-stream chat completion", ("text", "usage")),
    Scenario("stream", "chat-stream", "a chat stream", ("text",)),
    Scenario("usage", "chat-stream-usage", "a chat stream with include_usage", ("text", "usage"), ("include_usage",)),
    Scenario("tool", "tools", "a forced tool call", ("tool_calls",), ("tools",)),
    Scenario("toolstream", "tools-stream", "a forced tool call, streamed", ("tool_calls",), ("tools",)),
    Scenario("completions", "completions", "a legacy completion", ("text",), ("completions",)),
    Scenario("reasoning", "reasoning", "a reasoning model's answer", ("text", "reasoning"), ("reasoning",)),
    Scenario(
        "reasoningstream", "reasoning-stream", "a reasoning model's stream", ("text", "reasoning"), ("reasoning",)
    ),
    # The client raises, and its exception carries the server's message (not "(no body)").
    Scenario("error", "err-unknown-model", "an error answer (a model that is not served)", ("error",)),
)
BY_NAME = {s.name: s for s in SCENARIOS}
