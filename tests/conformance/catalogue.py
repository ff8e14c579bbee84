"""The rule catalogue docs/rules.md, rendered from the rule registry.

Regenerate after adding or retitling a rule: `python -m tests.conformance.catalogue > docs/rules.md`.
"""

from __future__ import annotations

from maascheck.conformance import rules
from maascheck.conformance.model.rule import RULES

HEADER = """# Rule catalogue

Every conformance rule: its stable ID, its level (RFC 2119: MUST failures fail the run, SHOULD
failures only with `--strict`, MAY never), its area (the module `maascheck/conformance/rules/<area>.py`
that declares it, with its probes and its source) and the fact it checks. Each rule has a simulator
fault that makes exactly it fail (`maascheck sim --list-faults`). Generated from the registry by
`python -m tests.conformance.catalogue`; `tests/conformance/test_catalogue.py` keeps it in step.

| ID | level | area | fact |
|---|---|---|---|
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The catalogue as Markdown, rules ordered by area then ID."""
    rules.load_all()
    rows = sorted(RULES.values(), key=lambda r: (r.area, r.id))
    lines = [f"| `{r.id}` | {r.level.value} | {r.area} | {_cell(r.title)} |" for r in rows]
    return HEADER + "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
