"""No rule message or source names a file the product does not ship (issue 10.4).

Sources cite public documents by name (the OpenAI spec by component and property, a provider's page
by its title, a client by its repository); a path they name is a file of the installed package. The
message texts are the string literals of the rule modules; the profiles' `source` strings reach the
messages of the range rules.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from maascheck.conformance import rules
from maascheck.conformance.model.rule import RULES
from maascheck.core.sources import REFERENCES

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "maascheck" / "conformance" / "rules"
PROFILES_DIR = ROOT / "maascheck" / "data" / "profiles"
# Internal notes, the seed files, the spec file and its line numbers (no line-numbered spec is shipped).
UNSHIPPED = re.compile(r"\bnotes\b|\bseeds?/|shared/|/work/|\.ya?ml\b|\bl\.\d{2,}", re.IGNORECASE)
# A path in one of this repository's folders must be a file the distribution carries (pyproject include);
# paths of other projects (llama_cpp/server/app.py) name that project's public source.
PATH = re.compile(r"\b(?:schemas|maascheck|docs|conformance|loadtests|tests|notes|reports)(?:/[\w.-]+)+\.\w+")

rules.load_all()


def _shipped(path: str) -> bool:
    """Whether `path` (as a source or message names it) is a file the distribution carries."""
    return (ROOT / path).is_file() and not path.startswith(("notes/", "reports/"))


def _problems(text: str) -> list[str]:
    found = [m.group(0) for m in UNSHIPPED.finditer(text)]
    return found + [p for p in PATH.findall(text) if not _shipped(p)]


def _message_literals(path: Path) -> Iterator[tuple[int, str]]:
    """Every string literal of a module except docstrings (messages, sources, expectations)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def _profile_sources(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in ("source", "reason", "text") and isinstance(v, str):
                yield v
            yield from _profile_sources(v)
    elif isinstance(value, list):
        for v in value:
            yield from _profile_sources(v)


def test_no_rule_source_or_title_names_an_unshipped_file() -> None:
    bad = {r.id: _problems(f"{r.title} | {r.source}") for r in RULES.values()}
    assert {k: v for k, v in bad.items() if v} == {}


@pytest.mark.parametrize("module", sorted(p.name for p in RULES_DIR.glob("*.py")))
def test_no_message_names_an_unshipped_file(module: str) -> None:
    bad = [(line, text[:120], _problems(text)) for line, text in _message_literals(RULES_DIR / module)]
    assert [b for b in bad if b[2]] == []


def test_no_profile_source_names_an_unshipped_file() -> None:
    bad = []
    for path in sorted(PROFILES_DIR.rglob("*.json")):
        for text in _profile_sources(json.loads(path.read_text(encoding="utf-8"))):
            if _problems(text):
                bad.append((path.name, text[:120], _problems(text)))
    assert bad == []


def test_the_names_sources_use_are_listed_with_where_to_find_them() -> None:
    names = {r.name for r in REFERENCES}
    assert "OpenAI spec" in names and all(r.where for r in REFERENCES)
    spec = next(r for r in REFERENCES if r.name == "OpenAI spec")
    assert "github.com/openai/openai-openapi" in spec.where and "2.3.0" in spec.where
    cited = " ".join(r.source for r in RULES.values())
    assert "OpenAI spec CreateChatCompletionStreamResponse" in cited
    for seed_title in ("常见模型 API 文档", "预置多模态大模型服务接口说明", "百炼openAi文档", "openapi.hhaice.com"):
        assert seed_title in names


def test_the_checker_catches_what_it_forbids() -> None:
    assert _problems("notes/openai-spec-rules.md a.1") and _problems("openai-openapi.yaml l.33105")
    assert _problems("seeds/001 finish_reason") and _problems("see docs/internal/plan.md")
    assert not _problems("llama_cpp/server/errors.py RouteErrorHandler; docs/real-server.md")
    assert not _problems("OpenAI spec CreateChatCompletionStreamResponse.created; schemas/chat-completion.json")
