"""The key goes only to the configured origin: a 307 to another origin (another loopback port) never
carries it, through the conformance recorder, the openai SDK probes, the load client, or a whole run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openai
import pytest

from maascheck.conformance.transport.recorder import Recorder, Timeouts
from maascheck.conformance.transport.sdk_transport import recording_client, sdk_http_module
from tests.hostile.leaky import KEY, MODEL, Catcher, Redirector

pytestmark = pytest.mark.timeout(300)
KEY_ENV = "INERT_TEST_KEY"
SHORT = Timeouts(connect=5, headers=5, stall=5, total=10)


def test_the_recorder_reports_a_redirect_and_does_not_follow_it() -> None:
    with Catcher() as other, Redirector(other.origin) as target:
        recorder = Recorder(target.base_url, KEY, SHORT)
        try:
            ex = recorder.record("models-list", "GET", "/models")
        finally:
            recorder.close()
    assert ex.status == 307 and ex.header("location") == f"{other.origin}/v1/models"
    assert other.seen == []


def test_the_sdk_drops_the_key_on_a_cross_origin_hop() -> None:
    """openai-python follows redirects; its HTTP library drops Authorization when the origin changes."""
    with Catcher() as other, Redirector(other.origin) as target:
        client = openai.OpenAI(base_url=target.base_url, api_key=KEY, max_retries=0, timeout=10)
        with pytest.raises(openai.APIStatusError):  # the other origin refuses the request that lost its key
            client.models.list()
    assert [r.path for r in other.seen] == ["/models"] and [r.bearer for r in other.seen] == [""]


def test_sdk_probes_do_not_follow_a_redirect() -> None:
    with Catcher() as other, Redirector(other.origin) as target:
        http_client, _ = recording_client("sdk", connect=5, read=5, total=10, origin=target.base_url)
        client = openai.OpenAI(base_url=target.base_url, api_key=KEY, max_retries=0, http_client=http_client)
        with pytest.raises(openai.APIError):  # the 307 itself (not followed), or the refused hop
            client.models.list()
        http_client.close()
    assert other.seen == []


def test_the_recording_transport_refuses_another_origin_whatever_the_client_does() -> None:
    http = sdk_http_module()
    with Catcher() as other, Redirector(other.origin) as target:
        http_client, transport = recording_client("sdk", connect=5, read=5, total=10, origin=target.base_url)
        with pytest.raises(http.TransportError, match="only to the configured origin"):
            http_client.get(f"{other.origin}/v1/models", headers={"Authorization": f"Bearer {KEY}"})
        with pytest.raises(http.TransportError):  # following the 307 by hand is refused the same way
            http_client.get(f"{target.base_url}/models", follow_redirects=True)
        http_client.close()
    assert other.seen == []
    assert [ex.error_kind for ex in transport.exchanges] == ["cross_origin", None, "cross_origin"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["conformance", "--max-requests", "40"], id="conformance"),
        pytest.param(["load", "--users", "2", "--run-time", "2s", "--warmup", "0s"], id="load"),
    ],
)
def test_a_whole_run_sends_the_key_to_the_configured_origin_only(command: list[str], tmp_path: Path) -> None:
    env = {**os.environ, KEY_ENV: KEY}
    with Catcher() as other, Redirector(other.origin) as target:
        args = [*command, "--base-url", target.base_url, "--model", MODEL, "--api-key-env", KEY_ENV]
        proc = subprocess.run(
            [sys.executable, "-m", "maascheck", *args, "--report-dir", str(tmp_path)],
            env=env, capture_output=True, timeout=240,
        )  # fmt: skip
        assert any(r.bearer == KEY for r in target.seen)
    assert proc.returncode in (0, 1, 2), proc.stderr[-3000:]
    assert [r for r in other.seen if KEY in r.bearer or KEY.encode() in r.body] == []
