"""Response bodies and stream chunks as dicts, shaped by the active persona.

Shapes follow the OpenAI spec (github.com/openai/openai-openapi: CreateChatCompletionResponse,
CreateChatCompletionStreamResponse, CreateCompletionResponse): non-stream `chat.completion`,
stream `chat.completion.chunk`, legacy `text_completion` for both stream and non-stream, usage per
CompletionUsage. Persona switches (see persona.py) add the seed-documented variants.
"""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

from maascheck.sim.generate import ChoicePlan, TokenLogprob, ToolPlan
from maascheck.sim.persona import Persona
from maascheck.sim.validate import GenRequest

_MISSING: Any = object()
_NULL_DELTA_FIELDS = {"function_call": None, "refusal": None, "tool_calls": None}


class Renderer:
    """Builds every dict of one response; id, created and model are fixed per response (spec a.3)."""

    def __init__(self, persona: Persona, req: GenRequest, rng: random.Random) -> None:
        self.persona = persona
        self.req = req
        self.chat = req.endpoint == "chat"
        bits = rng.getrandbits(128)
        if persona.id_style == "uuid":
            self.id = persona.id_prefix + str(uuid.UUID(int=bits, version=4))
        elif self.chat:
            self.id = persona.id_prefix + f"{bits:032x}"
        else:
            self.id = "cmpl-" + f"{bits:032x}"
        self.created = int(time.time())
        self.nulls = persona.chunk_null_fields
        self.strict = persona.strict_fields

    # ---- shared pieces -------------------------------------------------------------------------------
    def _envelope(self, obj: str) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "object": obj, "created": self.created, "model": self.req.model}
        if self.persona.has_fingerprint:
            out["system_fingerprint"] = self.persona.fingerprint
        elif self.nulls:
            out["system_fingerprint"] = None
        return out

    def usage(self, plans: list[ChoicePlan], cached: int) -> dict[str, Any]:
        """CompletionUsage: total = prompt + completion; details per persona (seed 002 shows null/nested)."""
        completion = sum(p.completion_tokens for p in plans)
        out: dict[str, Any] = {
            "prompt_tokens": self.req.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.req.prompt_tokens + completion,
        }
        if not self.chat:
            return out
        reasoning = self.req.model_role == "reasoning"
        mode = "object" if reasoning else self.persona.usage_completion_details
        if mode == "object":
            out["completion_tokens_details"] = {
                "reasoning_tokens": sum(len(p.reasoning) for p in plans),
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
        elif mode == "null":
            out["completion_tokens_details"] = None
        if self.persona.usage_prompt_details:
            out["prompt_tokens_details"] = {
                "cached_tokens": cached,
                "audio_tokens": None if self.nulls else 0,
            }
        return out

    def _chat_logprobs(self, items: list[TokenLogprob]) -> dict[str, Any]:
        content = [
            {
                "token": tok,
                "logprob": lp,
                "bytes": list(tok.encode()),
                "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in alts],
            }
            for tok, lp, alts in items
        ]
        return {"content": content, "refusal": None}

    def _legacy_logprobs(self, items: list[TokenLogprob], start: int) -> dict[str, Any]:
        offsets = []
        pos = start
        for tok, _, _ in items:
            offsets.append(pos)
            pos += len(tok)
        return {
            "tokens": [t for t, _, _ in items],
            "token_logprobs": [lp for _, lp, _ in items],
            "top_logprobs": [dict(alts) if alts else {t: lp} for t, lp, alts in items],
            "text_offset": offsets,
        }

    @staticmethod
    def _tool_call(tool: ToolPlan) -> dict[str, Any]:
        return {
            "id": tool.call_id,
            "type": "function",
            "function": {"name": tool.name, "arguments": tool.arguments},
        }

    # ---- non-stream ----------------------------------------------------------------------------------
    def body(self, plans: list[ChoicePlan], cached: int) -> dict[str, Any]:
        """The complete non-stream response."""
        out = self._envelope("chat.completion" if self.chat else "text_completion")
        out["choices"] = [self._chat_choice(p) if self.chat else self._legacy_choice(p) for p in plans]
        out["usage"] = self.usage(plans, cached)
        if self.nulls:
            out["service_tier"] = None
        return out

    def _chat_choice(self, plan: ChoicePlan) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None if plan.tool else plan.text}
        if plan.reasoning:
            message["reasoning_content"] = "".join(plan.reasoning)
        if plan.tools:
            message["tool_calls"] = [self._tool_call(tool) for tool in plan.tools]
        if self.strict or self.nulls:
            message["refusal"] = None
        choice: dict[str, Any] = {"index": plan.index, "message": message}
        if plan.logprobs is not None:
            choice["logprobs"] = self._chat_logprobs(plan.logprobs)
        elif self.strict or self.nulls:
            choice["logprobs"] = None
        choice["finish_reason"] = plan.finish_reason
        return choice

    def _prompt_for(self, plan: ChoicePlan) -> str:
        return self.req.prompts[plan.index // max(1, self.req.n)]

    def _legacy_choice(self, plan: ChoicePlan) -> dict[str, Any]:
        prefix = self._prompt_for(plan) if self.req.echo else ""
        logprobs = None if plan.logprobs is None else self._legacy_logprobs(plan.logprobs, len(prefix))
        return {
            "index": plan.index,
            "text": prefix + plan.text,
            "logprobs": logprobs,
            "finish_reason": plan.finish_reason,
        }

    # ---- stream --------------------------------------------------------------------------------------
    def chunk(self, choices: list[dict[str, Any]], usage: Any = _MISSING) -> dict[str, Any]:
        """One stream chunk around `choices`; `usage` only on the final usage chunk (spec b.1 rule 6)."""
        out = self._envelope("chat.completion.chunk" if self.chat else "text_completion")
        out["choices"] = choices
        if usage is not _MISSING:
            out["usage"] = usage
        elif self.req.include_usage or self.nulls:
            out["usage"] = None
        if self.nulls:
            out["service_tier"] = None
        return out

    def stream_choice(
        self,
        index: int,
        delta: dict[str, Any],
        finish: str | None = None,
        logprobs: list[TokenLogprob] | None = None,
    ) -> dict[str, Any]:
        """One chat chunk choice; `finish_reason` is present (null) on every non-final chunk (spec a.3)."""
        choice: dict[str, Any] = {"index": index, "delta": delta}
        if logprobs is not None:
            choice["logprobs"] = self._chat_logprobs(logprobs)
        elif self.strict or self.nulls:
            choice["logprobs"] = None
        choice["finish_reason"] = finish
        return choice

    def legacy_stream_choice(
        self,
        index: int,
        text: str,
        finish: str | None = None,
        logprobs: list[TokenLogprob] | None = None,
        offset: int = 0,
    ) -> dict[str, Any]:
        """One legacy completion chunk choice."""
        lp = None if logprobs is None else self._legacy_logprobs(logprobs, offset)
        return {"index": index, "text": text, "logprobs": lp, "finish_reason": finish}

    def role_delta(self, plan: ChoicePlan) -> dict[str, Any]:
        """The first delta of a choice: role assistant, content "" (or null per persona / for tool calls)."""
        delta: dict[str, Any] = {
            "role": "assistant",
            "content": None if plan.tool else self.persona.role_chunk_content,
        }
        if self.nulls:
            return {**_NULL_DELTA_FIELDS, **delta}
        return delta

    def piece_delta(
        self, kind: str, text: str, tool: ToolPlan | None = None, first_tool: bool = False, tool_index: int = 0
    ) -> dict[str, Any]:
        """The delta carrying `text` of `kind` (content | reasoning | the arguments of tool call `tool_index`)."""
        delta: dict[str, Any]
        if kind == "content":
            delta = {"content": text}
        elif kind == "reasoning":
            delta = (
                {"reasoning_content": text, "content": None} if self.nulls else {"reasoning_content": text}
            )
        else:
            call: dict[str, Any] = {"index": tool_index}
            if first_tool and tool is not None:
                call.update(id=tool.call_id, type="function", function={"name": tool.name, "arguments": text})
            else:
                call["function"] = {"arguments": text}
            delta = {"tool_calls": [call]}
        if self.nulls:
            return {**_NULL_DELTA_FIELDS, "role": None, "content": None, **delta}
        return delta

    def final_delta(self) -> dict[str, Any]:
        """The delta of the chunk that carries finish_reason: `{}` (spec example), content "" for seed 002."""
        if self.nulls:
            return {**_NULL_DELTA_FIELDS, "role": None, "content": ""}
        return {}
