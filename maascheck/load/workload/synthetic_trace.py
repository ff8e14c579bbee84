"""The shipped synthetic trace (`maascheck/data/traces/synthetic-2000.jsonl`), made deterministically.

Arrivals alternate calm spells (25 requests/s, spells of 5 s on average) and bursts (80 requests/s,
1 s on average), a Markov-modulated Poisson process: about 34 requests/s over about a minute. Records
are Mooncake-style (``timestamp`` in ms, 512-token blocks): 70 % start with one of four shared prefix
blocks (ids 0..3, a system prompt), the rest of a prompt's blocks are new ids; 10 % carry no
``hash_ids``. Inputs 300..1500 tokens, outputs 4..48 (short, so a 2-core machine replays it against
the simulator). Regenerate with ``python -m maascheck.load.workload.synthetic_trace``.
"""

from __future__ import annotations

import json
import math
import random
import sys
from pathlib import Path

from maascheck.load.workload.trace import FORMATS, TRACES_DIR

RECORDS = 2000
SEED = 2025
CALM_RPS, CALM_MEAN_S = 25.0, 5.0
BURST_RPS, BURST_MEAN_S = 80.0, 1.0
SHARED_PREFIXES = 4
PATH = TRACES_DIR / "synthetic-2000.jsonl"


def synthetic_lines(records: int = RECORDS, seed: int = SEED) -> list[str]:
    """The trace's JSONL lines."""
    rng = random.Random(seed)
    block = FORMATS["mooncake"].block_tokens
    next_id = SHARED_PREFIXES
    t, burst = 0.0, False
    spell_end = rng.expovariate(1 / CALM_MEAN_S)
    lines: list[str] = []
    while len(lines) < records:
        t += rng.expovariate(BURST_RPS if burst else CALM_RPS)
        while t >= spell_end:  # the next spell starts: arrivals go on at its rate (memoryless)
            burst = not burst
            spell_end += rng.expovariate(1 / (BURST_MEAN_S if burst else CALM_MEAN_S))
        n_in = rng.randint(300, 1500)
        n_out = min(max(round(rng.lognormvariate(math.log(16), 0.5)), 4), 48)
        record: dict[str, object] = {"timestamp": round(t * 1000), "input_length": n_in, "output_length": n_out}
        kind = rng.random()
        if kind < 0.9:
            blocks = math.ceil(n_in / block)
            ids = [rng.randrange(SHARED_PREFIXES)] if kind < 0.7 else []
            ids += range(next_id, next_id + blocks - len(ids))
            next_id += blocks - (1 if kind < 0.7 else 0)
            record["hash_ids"] = list(ids)
        lines.append(json.dumps(record, separators=(", ", ": ")))
    return lines


def write(path: Path = PATH) -> Path:
    """Write the trace to `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(synthetic_lines()) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.stdout.write(f"{write()}\n")
