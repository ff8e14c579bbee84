"""Runs the full suite against an in-thread simulator (one fault or persona per call), for the proof tests.

Module-level and picklable so a process pool can run several at once (2 cores -> 2 workers).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

SIM_KEY = "sk-maascheck-proof-key-5b1e0c"
# A little decode time, so streams have gaps the stall rules can tell from stalls.
SIM_TIMING = {"decode_step_ms": 0.5, "decode_ms_per_seq": 0.01, "output_tokens": 24}


@dataclass
class Proof:
    """What one suite run reported, reduced to what the proof tests compare."""

    label: str
    failed: set[str]
    errors: dict[str, str]
    messages: dict[str, str] = field(default_factory=dict)
    outcomes: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    exit_code: int = 0
    leaked_key: bool = False
    schema_errors: list[str] = field(default_factory=list)
    views: dict[str, dict[str, object]] = field(default_factory=dict)  # results.json summary.views


def run(
    label: str, faults: tuple[str, ...] = (), sim_profile: str = "openai", suite_profile: str = "openai"
) -> Proof:
    """Serve `sim_profile` with `faults`, run every rule under `suite_profile`, and summarise."""
    import json

    from maascheck.conformance.engine.options import RunOptions
    from maascheck.conformance.engine.runner import run_suite
    from maascheck.conformance.report.results import from_suite
    from maascheck.core.profiles import load_profile
    from tests.simulator import running_simulator

    sim_prof = load_profile(sim_profile)
    with running_simulator(*faults, profile=sim_profile, api_key=SIM_KEY, **SIM_TIMING) as base_url:
        profile = load_profile(suite_profile)
        options = RunOptions(
            model=str(sim_prof.models.get("chat") or "sim-chat"),
            base_url=base_url,
            profile=suite_profile,
            vision_model=sim_prof.models.get("vision") if profile.feature("vision") else None,
            reasoning_model=sim_prof.models.get("reasoning") if profile.feature("reasoning") else None,
            api_key=SIM_KEY,
            stall_timeout=1.0,
            exchange_timeout=30.0,
            seed=1,
        )
        result = run_suite(base_url, profile, options)
    from maascheck.core import schema_registry as schemas

    document = from_suite(result, options, profile)
    doc = json.dumps(document)
    return Proof(
        label=label,
        failed=result.ids("failed"),
        errors={r.rule.id: (r.message or "")[:2000] for r in result.results if r.outcome == "error"},
        messages={
            r.rule.id: (r.message or "")[:300] for r in result.results if r.outcome in ("failed", "xpassed")
        },
        outcomes={r.rule.id: r.outcome for r in result.results},
        requests=result.requests_made,
        exit_code=result.exit_code,
        leaked_key=SIM_KEY in doc,
        schema_errors=schemas.errors("conformance-results", document),
        views=document["summary"]["views"],
    )


def pool(workers: int = 2) -> ProcessPoolExecutor:
    """A pool of spawned worker processes for `run_many` (use it as a context manager)."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


def run_many(
    jobs: dict[str, tuple[tuple[str, ...], str, str]], executor: ProcessPoolExecutor | None = None
) -> dict[str, Proof]:
    """Run `label -> (faults, sim_profile, suite_profile)` jobs in worker processes (default: a new pool)."""
    if executor is None:
        with pool() as own:
            return run_many(jobs, own)
    futures = {label: executor.submit(run, label, *job) for label, job in sorted(jobs.items())}
    return {label: fut.result() for label, fut in futures.items()}
