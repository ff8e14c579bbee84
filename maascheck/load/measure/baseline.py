"""Compare a load run with an earlier one (`maascheck load --baseline OLD_RESULTS`).

`compare(new_doc, old_path, threshold_pct)` returns the `baseline` object of results.json:
`{"path", "threshold_pct", "regressed", "regressions": [{"metric", "stat", "old", "new",
"change_pct", "regressed"}], "warnings": [...]}`. `regressions` lists every compared figure;
`regressed` marks those more than `threshold_pct` percent worse, and the top-level `regressed` is
true when any is. Worse means higher for latencies (p50/p95/p99 of TTFT, ITL, TPOT, E2E) and lower for
throughputs (output tokens/s, requests/s, goodput, good fraction). A figure missing or zero in either
run is listed with `change_pct` null and never counts as a regression (a run whose requests all
failed still regresses through its throughput).

This is a thresholded comparison of two single runs, not a significance test: repeat runs and
compare medians when the difference is near the threshold. The warnings flag comparisons that are
not like-for-like (different target or load settings) and tail percentiles from few samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from maascheck.core import schema_registry as schemas
from maascheck.core.errors import ConfigError
from maascheck.load.measure.reader import load_results, num, section

DEFAULT_THRESHOLD_PCT = 10.0
SCHEMA_NAME = "load-results"
LATENCY_METRICS = ("ttft_ms", "itl_ms", "tpot_ms", "e2e_ms")
LATENCY_STATS = ("p50", "p95", "p99")
THROUGHPUT_METRICS = ("output_tokens_per_s", "requests_per_s", "goodput_rps", "good_fraction")
# Below this many samples p99 is within a couple of values of the max.
MIN_SAMPLES_P99 = 100
_SAME_TARGET = ("base_url", "model", "scenario")
_SAME_LOAD = ("mode", "users", "rate_rps", "arrival", "shape")


def _validate(doc: dict[str, Any], path: Path) -> None:
    if SCHEMA_NAME not in schemas.available():
        return
    problems = schemas.errors(SCHEMA_NAME, doc)
    if problems:
        raise ConfigError(
            f"baseline {path} does not match schemas/{SCHEMA_NAME}.json: {problems[0]}"
            + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
            + "; pass the results.json of an earlier `maascheck load` run written by this version"
        )


def load_baseline(path: Path) -> dict[str, Any]:
    """Read and validate an old results.json; ConfigError naming the problem when it is unusable."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    doc = load_results(path)
    _validate(doc, path)
    return doc


def _row(
    metric: str, stat: str, old: Any, new: Any, higher_is_worse: bool, threshold: float
) -> dict[str, Any]:
    o, n = num(old), num(new)
    change = None if o is None or n is None or o == 0 else (n - o) / abs(o) * 100
    worse = change is not None and (change > threshold if higher_is_worse else change < -threshold)
    return {
        "metric": metric,
        "stat": stat,
        "old": o,
        "new": n,
        "change_pct": None if change is None else round(change, 2),
        "regressed": worse,
    }


def _warnings(new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    out = []
    for block, keys in (("target", _SAME_TARGET), ("load", _SAME_LOAD)):
        nb, ob = section(new, block), section(old, block)
        diffs = [f"{block}.{k}: {ob.get(k)!r} -> {nb.get(k)!r}" for k in keys if nb.get(k) != ob.get(k)]
        if diffs:
            out.append("not like-for-like: " + "; ".join(diffs))
    if section(new, "workload") != section(old, "workload"):
        out.append("not like-for-like: the workload settings differ")
    for name, doc in (("baseline", old), ("this run", new)):
        if section(doc, "client").get("saturated"):
            out.append(f"the load generator was saturated in {name}: its latencies include client delay")
        for metric in LATENCY_METRICS:
            count = num(section(section(doc, "metrics"), metric).get("count"))
            if count is not None and count < MIN_SAMPLES_P99:
                out.append(
                    f"{metric}.p99 of {name} comes from {int(count)} samples (< {MIN_SAMPLES_P99}): noisy"
                )
    return out


def compare(
    new_doc: dict[str, Any], old_path: Path | str, threshold_pct: float = DEFAULT_THRESHOLD_PCT
) -> dict[str, Any]:
    """The `baseline` object comparing `new_doc` with the results.json at `old_path`."""
    if not num(threshold_pct) or threshold_pct < 0:
        raise ConfigError(
            f"baseline threshold must be a positive percentage, got {threshold_pct!r}; "
            "e.g. 10 flags figures more than 10 % worse"
        )
    old = load_baseline(Path(old_path))
    rows: list[dict[str, Any]] = []
    new_m, old_m = section(new_doc, "metrics"), section(old, "metrics")
    for metric in LATENCY_METRICS:
        for stat in LATENCY_STATS:
            rows.append(
                _row(
                    metric,
                    stat,
                    section(old_m, metric).get(stat),
                    section(new_m, metric).get(stat),
                    True,
                    threshold_pct,
                )
            )
    new_t, old_t = section(new_doc, "throughput"), section(old, "throughput")
    for metric in THROUGHPUT_METRICS:
        rows.append(_row(metric, "value", old_t.get(metric), new_t.get(metric), False, threshold_pct))
    return {
        "path": str(old_path),
        "threshold_pct": float(threshold_pct),
        "regressed": any(r["regressed"] for r in rows),
        "regressions": rows,
        "warnings": _warnings(new_doc, old),
    }
