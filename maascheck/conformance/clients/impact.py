"""The client impact the matrix observed: which real clients broke on the exchange a failed rule judged.

A failed wire rule (STREAM-..., USAGE-...) and a failed matrix cell (CLIENT-...) that read the same
probe's exchange are one deviation seen twice: the cell names the client and its exception, which is
the evidence of the rule's `client` impact in this run (replay mode: cells replay the probes' exchanges).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from maascheck.conformance.model.rule import ClientBreak


def _probes(evidence: dict[str, Any] | None) -> set[str]:
    return {str(x.get("probe")) for x in (evidence or {}).get("exchanges", []) if isinstance(x, dict)}


def matrix_breaks(results: Iterable[Any]) -> dict[str, list[ClientBreak]]:
    """{failed non-matrix rule ID: the clients that failed on one of its exchanges, with how}."""
    done = list(results)
    cells = [r for r in done if r.rule.client is not None and r.outcome == "failed"]
    out: dict[str, list[ClientBreak]] = {}
    for r in done:
        if r.rule.client is not None or r.outcome not in ("failed", "xfailed"):
            continue
        mine = _probes(r.evidence)
        found = [
            ClientBreak(c.rule.client, (c.message or "").splitlines()[0][:300] if c.message else c.rule.id)
            for c in cells
            if mine & _probes(c.evidence)
        ]
        if found:
            out[r.rule.id] = found
    return out
