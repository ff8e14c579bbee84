"""`--interrupt_requests` (llama-cpp-python's default: on) cuts a stream when another request arrives.

llama_cpp/server/app.py get_event_publisher: with interrupt_requests, a stream that sees another
request waiting sends `data: [DONE]` at once, without a finish chunk. serve-real turns it off by
default, so concurrent load-test streams run to the end (queued: the server serves one at a time).
"""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from maascheck.orchestrate.real_server import RealServer, real_server
from maascheck.orchestrate.real_server_install import Installed

pytestmark = pytest.mark.e2e

TOKENS = 120  # min_tokens = max_tokens: the stream carries exactly this many tokens unless cut


def long_stream(srv: RealServer, first: threading.Event, out: dict[str, Any]) -> None:
    """Stream TOKENS tokens; set `first` at the first content chunk; record chunks and finish reasons."""
    body = {
        "model": srv.model,
        "messages": [{"role": "user", "content": "Tell a long story about a lighthouse."}],
        "max_tokens": TOKENS,
        "min_tokens": TOKENS,  # llama-cpp-python extension: no early EOS
        "stream": True,
    }
    headers = {"Authorization": f"Bearer {srv.api_key}"}
    out.update(content_chunks=0, finish=[], done=False)
    url = f"{srv.base_url}/chat/completions"
    with httpx.stream("POST", url, json=body, headers=headers, timeout=120) as r:
        out["status"] = r.status_code
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            if line == "data: [DONE]":
                out["done"] = True
                break
            choice = json.loads(line[6:])["choices"][0]
            if choice["delta"].get("content"):
                out["content_chunks"] += 1
                first.set()
            if choice.get("finish_reason"):
                out["finish"].append(choice["finish_reason"])
    first.set()


def race(srv: RealServer) -> dict[str, Any]:
    """A long stream, and a short request sent once the stream has begun; the stream's record."""
    first, out = threading.Event(), dict[str, Any]()
    reader = threading.Thread(target=long_stream, args=(srv, first, out), daemon=True)
    reader.start()
    assert first.wait(60), "the long stream produced no content within 60 s"
    short = httpx.post(
        f"{srv.base_url}/chat/completions",
        json={"model": srv.model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 2},
        headers={"Authorization": f"Bearer {srv.api_key}"},
        timeout=120,
    )
    reader.join(120)
    assert short.status_code == 200, short.text
    assert out.get("status") == 200, out
    return out


def test_streams_run_to_the_end_with_interrupt_requests_off(server: RealServer) -> None:
    """serve-real's default: the second request waits; the stream keeps all its tokens and its finish."""
    out = race(server)
    assert out["done"] and out["finish"] == ["length"], out
    assert out["content_chunks"] >= TOKENS * 0.8, out


def test_a_new_request_cuts_the_stream_with_interrupt_requests_on(installed: Installed) -> None:
    """The server's own default: the stream ends early with [DONE] and no finish_reason."""
    with real_server(interrupt_requests=True) as srv:
        out = race(srv)
    assert out["done"], out
    assert out["finish"] == [], f"a cut stream sends no finish chunk: {out}"
    assert out["content_chunks"] < TOKENS * 0.8, f"the stream was not cut: {out}"
