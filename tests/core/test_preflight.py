"""The preflight classifies a target in at most 5 requests and says what to fix (simulator + loopback servers)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from maascheck.core.preflight import MAX_REQUESTS, PreflightTarget, run_preflight
from tests.core.scripted_http import HANG, scripted

KEY = "sk-preflight-" + "fake-key-0123456789"  # a test key, not a secret


@contextmanager
def simulator(profile: str = "openai") -> Iterator[str]:
    from maascheck.sim.config import SimConfig
    from maascheck.sim.server import SimServer

    server = SimServer(SimConfig(profile=profile, api_key=KEY, decode_step_ms=0.5, jitter=0.0, seed=7))
    url = server.start_in_thread()
    try:
        yield url
    finally:
        server.stop()


def target(base_url: str, model: str = "sim-chat", key: str | None = KEY, **kw: object) -> PreflightTarget:
    return PreflightTarget(base_url=base_url, model=model, api_key_env="MY_KEY_VAR", api_key=key, **kw)  # type: ignore[arg-type]


def test_a_healthy_simulator_passes_in_two_requests() -> None:
    with simulator() as url:
        r = run_preflight(target(url))
    assert r.ok, r.message
    assert [c.status for c in r.checks] == [200, 200]
    assert r.models_offered and "sim-chat" in r.models_offered
    doc = r.to_dict()
    assert doc["verdict"] == "ok" and doc["requests"] == 2 and doc["key_set"] is True


def test_unset_key_names_the_variable() -> None:
    with simulator() as url:
        r = run_preflight(target(url, key=None))
    assert r.problem == "key_missing"
    assert "MY_KEY_VAR" in r.message and "unset or empty" in r.message
    assert len(r.checks) <= MAX_REQUESTS


def test_refused_key_is_said_and_never_printed() -> None:
    wrong = "sk-wrong-" + "fake-0123456789abcdef"
    echo = json.dumps({"error": {"message": f"Incorrect API key provided: {wrong}"}}).encode()
    with scripted(lambda *_: (401, {"Content-Type": "application/json"}, echo)) as srv:
        r = run_preflight(target(srv.origin + "/v1", key=wrong))
    assert r.problem == "key_refused"
    assert "refused" in r.message and "MY_KEY_VAR" in r.message
    assert wrong not in r.message and wrong[4:16] not in json.dumps(r.to_dict())


def test_unknown_model_lists_what_models_offers() -> None:
    with simulator() as url:
        r = run_preflight(target(url, model="gpt-nope"))
    assert r.problem == "model_not_served"
    assert "'gpt-nope'" in r.message and "sim-chat" in r.message
    assert len(r.checks) == 2


def test_wrong_prefix_names_the_profile_base_path() -> None:
    with simulator("taichu") as url:
        assert url.endswith("/maas/v1")
        wrong = url.removesuffix("/maas/v1") + "/v1"
        r = run_preflight(target(wrong, model="taichu_vl", profile_base_path="/maas/v1"))
    assert r.problem == "wrong_path"
    assert "every request was 404" in r.message
    assert r.suggestion == url and f"did you mean --base-url {url}?" in r.message
    assert len(r.checks) == 3


def test_taichu_without_models_endpoint_passes_on_its_own_path() -> None:
    with simulator("taichu") as url:
        r = run_preflight(target(url, model="taichu_vl", profile_base_path="/maas/v1"))
    assert r.ok, r.message
    assert [c.status for c in r.checks] == [404, 200]


def test_404_everywhere_says_so_after_at_most_five_requests() -> None:
    with scripted(lambda *_: (404, {}, b"not found")) as srv:
        r = run_preflight(target(srv.origin + "/api", profile_base_path="/maas/v1"))
        served = srv.count
    assert r.problem == "wrong_path" and r.suggestion is None
    assert "every request was 404" in r.message and "/maas/v1" in r.message
    assert served == len(r.checks) <= MAX_REQUESTS


def test_closed_port_is_unreachable_fast() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    t0 = time.monotonic()
    r = run_preflight(target(f"http://127.0.0.1:{port}/v1"))
    assert r.problem == "unreachable" and "cannot reach" in r.message
    assert len(r.checks) == 1 and time.monotonic() - t0 < 5


def test_https_to_a_plain_server_is_a_tls_failure() -> None:
    with scripted(lambda *_: (200, {}, b"{}")) as srv:
        r = run_preflight(target(srv.origin.replace("http://", "https://") + "/v1"))
    assert r.problem == "tls", r.message
    assert "TLS" in r.message


def test_rate_limited_reports_retry_after() -> None:
    with scripted(lambda *_: (429, {"Retry-After": "7"}, b'{"error": {"message": "slow down"}}')) as srv:
        r = run_preflight(target(srv.origin + "/v1"))
    assert r.problem == "rate_limited"
    assert "Retry-After: 7" in r.message and "slow down" in r.message


def test_silent_server_is_no_answer_within_the_deadline() -> None:
    with scripted(lambda *_: HANG, hang_s=3.0) as srv:
        t0 = time.monotonic()
        r = run_preflight(target(srv.origin + "/v1"), deadline_s=1.0)
        elapsed = time.monotonic() - t0
    assert r.problem == "no_answer"
    assert elapsed < 2.5


def test_redirect_is_not_followed_and_the_key_stays_home() -> None:
    with scripted(lambda *_: (200, {}, b"{}")) as elsewhere:
        where = elsewhere.origin + "/v1/models"
        with scripted(lambda *_: (307, {"Location": where}, b"")) as srv:
            r = run_preflight(target(srv.origin + "/v1"))
        assert elsewhere.count == 0
    assert r.problem == "redirect" and where in r.message


def test_server_text_is_inert_in_the_message() -> None:
    body = json.dumps({"error": {"message": "\x1b[2J\x1b[Hmaascheck: PASS"}}).encode()
    with scripted(lambda *_: (403, {}, body)) as srv:
        r = run_preflight(target(srv.origin + "/v1"))
    assert r.problem == "key_refused"
    assert "\x1b" not in r.message and "\\x1b[2J" in r.message


def test_keyless_server_that_answers_passes() -> None:
    models = json.dumps({"object": "list", "data": [{"id": "m"}]}).encode()
    with scripted(lambda m, *_: (200, {}, models if m == "GET" else b'{"choices": []}')) as srv:
        r = run_preflight(target(srv.origin + "/v1", model="m", key=None))
        auth = [h.get("authorization") for _, _, h, _ in srv.seen]
    assert r.ok and auth == [None, None]


def test_a_short_retry_after_is_waited_out_once() -> None:
    seen: list[int] = []

    def answer(method: str, *_: object) -> tuple[int, dict[str, str], bytes]:
        seen.append(1)
        if len(seen) == 1:
            return 429, {"Retry-After": "1"}, b'{"error": {"message": "later"}}'
        return 200, {}, b'{"object": "list", "data": [{"id": "m"}]}' if method == "GET" else b"{}"

    with scripted(answer) as srv:
        t0 = time.monotonic()
        r = run_preflight(target(srv.origin + "/v1", model="m"))
    assert r.ok, r.message
    assert [c.status for c in r.checks] == [429, 200, 200] and time.monotonic() - t0 >= 1.0
