"""An adapter process is bounded: a client that hangs fails its cell within the budget and is killed;
one that prints no result is a skip with what it printed. Fake adapters stand in for real clients here."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from maascheck.conformance.clients import catalog, matrix
from maascheck.conformance.clients.catalog import Client
from maascheck.conformance.clients.replay import recorded_source
from maascheck.conformance.model.exchange import Exchange
from maascheck.conformance.model.rule import Level

HANG = """
import json, sys, time, urllib.request
job = json.loads(sys.stdin.read())["jobs"][0]
req = urllib.request.Request(job["base_url"] + "/chat/completions", data=json.dumps(job["request"]).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=5).read()
time.sleep(60)
"""
SILENT = "import sys; sys.stdin.read(); print('not json'); sys.stderr.write('adapter crashed: ImportError')"


def _fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str) -> Client:
    monkeypatch.setenv("MAASCHECK_CACHE_DIR", str(tmp_path / "cache"))
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    (adapters / "fake.py").write_text(script, encoding="utf-8")
    monkeypatch.setattr(catalog, "ADAPTERS_DIR", adapters)
    client = Client("fake", "FAKE", "a fake client", "python", (("fakepkg", "1.0"),), "fake.py", "none", Level.SHOULD)
    bin_dir = client.env_dir / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    os.symlink(sys.executable, bin_dir / "python")
    (client.env_dir / "installed.json").write_text(json.dumps({"versions": {"fakepkg": "1.0"}}), encoding="utf-8")
    return client


def _chat() -> Exchange:
    body = json.dumps({"object": "chat.completion", "choices": [{"index": 0, "message": {"content": "OK"}}]})
    return Exchange(
        "chat",
        "POST",
        "http://target.example/v1/chat/completions",
        [],
        b'{"model": "m", "messages": [], "stream": false}',
        status=200,
        headers=[("content-type", "application/json")],
        body=body.encode(),
    )


def test_a_client_that_hangs_fails_its_cell_within_the_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = _fake(tmp_path, monkeypatch, HANG)
    monkeypatch.setattr(matrix, "START_S", 3.0)
    ex = _chat()
    t0 = time.monotonic()
    cells = matrix.run_client(client, {"chat": ex}, recorded_source({"chat": ex}), timeout_s=1.0)
    assert time.monotonic() - t0 < 15
    assert cells["chat"].outcome == "failed" and "did not return within 4 s" in cells["chat"].message
    assert cells["chat"].exchange is ex


def test_an_adapter_that_prints_no_result_is_a_skip_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _fake(tmp_path, monkeypatch, SILENT)
    ex = _chat()
    cells = matrix.run_client(client, {"chat": ex}, recorded_source({"chat": ex}), timeout_s=1.0)
    assert cells["chat"].outcome == "skipped" and "adapter crashed: ImportError" in cells["chat"].message


ECHO_ENV = """
import json, os, sys, urllib.request
job = json.loads(sys.stdin.read())["jobs"][0]
req = urllib.request.Request(job["base_url"] + "/chat/completions", data=json.dumps(job["request"]).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=5).read()
print(json.dumps({"scenario": "chat", "ok": True, "text": json.dumps([dict(os.environ), job])}))
"""


def test_the_adapter_gets_no_key_and_none_of_the_callers_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-" + "fake-parent-" + "c0ffee11"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://elsewhere.example/v1")
    client = _fake(tmp_path, monkeypatch, ECHO_ENV)
    ex = _chat()
    cells = matrix.run_client(client, {"chat": ex}, recorded_source({"chat": ex}), timeout_s=1.0)
    handed = str(cells["chat"].received)
    assert cells["chat"].outcome == "failed" and matrix.REPLAY_KEY in handed  # the echo differs from "OK"
    assert secret not in handed and "elsewhere.example" not in handed and "OPENAI_API_KEY" not in handed
