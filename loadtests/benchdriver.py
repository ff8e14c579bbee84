"""One load-generator process for `maascheck bench-client`: N streams on gevent, results as one JSON line.

Run as ``python -m loadtests.benchdriver URL MODEL STREAMS SECONDS TOKENS KEY`` (the bench starts it,
pinned to one core). It patches the stdlib with gevent first, like Locust does, then keeps STREAMS
requests in flight with `loadtests.client.StreamClient` for SECONDS and prints the raw timings.
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    """Drive the streams and print {"records": [...], "cpu_s": ..., "wall_s": ...}."""
    from gevent import monkey

    monkey.patch_all()
    import gevent

    from loadtests.client import Endpoint, StreamClient
    from loadtests.metrics import request_record
    from loadtests.payloads import BodyOptions, build_body
    from loadtests.workloads import Prompt

    url, model, streams, seconds, tokens, key = (
        argv[0],
        argv[1],
        int(argv[2]),
        float(argv[3]),
        int(argv[4]),
        argv[5],
    )
    records: list[dict[str, object]] = []
    body = build_body("chat", Prompt("benchmark the client", tokens, 3), BodyOptions(model))
    stop_at = time.perf_counter() + seconds
    t0 = time.perf_counter_ns()

    def stream() -> None:
        client = StreamClient(Endpoint.parse(url), {"Authorization": f"Bearer {key}"}, timeout=30)
        while time.perf_counter() < stop_at:
            records.append(request_record(client.post_stream("/chat/completions", body), t0_ns=t0))
        client.close()

    cpu0, wall0 = time.process_time(), time.perf_counter()
    gevent.joinall([gevent.spawn(stream) for _ in range(streams)])
    out = {"records": records, "cpu_s": time.process_time() - cpu0, "wall_s": time.perf_counter() - wall0}
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
