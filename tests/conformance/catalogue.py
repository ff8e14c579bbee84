"""The rule catalogue docs/rules.md, rendered from the rule registry.

Regenerate after adding or retitling a rule: `python -m tests.conformance.catalogue > docs/rules.md`.
"""

from __future__ import annotations

from maascheck.conformance import rules
from maascheck.conformance.model.rule import RULES, Rule

HEADER = """# Rule catalogue

Every conformance rule: its stable ID, its level (RFC 2119, a fact of the documents), its impact
(what breaks when it fails: `client`, a named client fails, the client and its failure given; `spec`,
the answer differs from the documented contract; `hygiene`), the defect its failure always is (if
any), its area (the module `maascheck/conformance/rules/<area>.py` that declares it, with its probes and
its source) and the fact it checks. The compat verdict (default) counts MUST failures of client impact
and every defect; the strict verdict every MUST failure; SHOULD failures count only with `--strict`,
MAY never. Each rule has a simulator fault that makes exactly it fail (`maascheck sim --list-faults`).
Generated from the registry by `python -m tests.conformance.catalogue`;
`tests/conformance/test_catalogue.py` keeps it in step.

| ID | level | impact | area | fact |
|---|---|---|---|---|
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _impact(r: Rule) -> str:
    text = r.impact.value
    if r.breaks:
        text += " (" + "; ".join(_cell(str(b)) for b in r.breaks) + ")"
    if r.defect:
        text += f", defect: {r.defect.value}"
    return text


def render() -> str:
    """The catalogue as Markdown, rules ordered by area then ID."""
    rules.load_all()
    rows = sorted(RULES.values(), key=lambda r: (r.area, r.id))
    lines = [f"| `{r.id}` | {r.level.value} | {_impact(r)} | {r.area} | {_cell(r.title)} |" for r in rows]
    return HEADER + "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render(), end="")
