"""The public documents rule sources cite, named as a reader finds them.

Rule sources cite the OpenAI spec by component and property (`OpenAI spec
CreateChatCompletionStreamResponse.created`), a seed provider's documentation by its own title (or
its URL where it has no title), and clients and servers by their public repositories. Reports list
these references once, so each short name in a source leads to a document a user can open.
"""

from __future__ import annotations

from dataclasses import dataclass

SPEC_REPOSITORY = "https://github.com/openai/openai-openapi"
SPEC_COMMIT = "f85dbe2"  # the commit whose openapi.yaml the schemas/ and rule sources were derived from
SPEC_VERSION = "2.3.0"  # that file's info.version


@dataclass(frozen=True)
class Reference:
    """A short name used in rule sources, and where its document is."""

    name: str
    where: str


REFERENCES: tuple[Reference, ...] = (
    Reference(
        "OpenAI spec",
        f"{SPEC_REPOSITORY} (openapi.yaml at {SPEC_COMMIT}, info.version {SPEC_VERSION}); cited by component "
        "and property, e.g. CreateChatCompletionStreamResponse.created",
    ),
    Reference("OpenAI error codes guide", "https://platform.openai.com/docs/guides/error-codes"),
    Reference("常见模型 API 文档", "a MaaS platform's model API page (/v1/chat/completions, /v1/completions)"),
    Reference("预置多模态大模型服务接口说明", "Taichu-VL API page, https://platform.wair.ac.cn/maas/v1/chat/completions"),
    Reference("百炼openAi文档", "Alibaba Cloud Bailian OpenAI-compatible mode, in a device maker's Ai大模型接入手册"),
    Reference("openapi.hhaice.com", "hhaice inference API page, https://openapi.hhaice.com/v1"),
    Reference("openai-python", "https://github.com/openai/openai-python (the official SDK)"),
    Reference("openai-node", "https://github.com/openai/openai-node"),
    Reference("WHATWG HTML 9.2", "https://html.spec.whatwg.org/multipage/server-sent-events.html"),
)
