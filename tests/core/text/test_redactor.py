"""Redactor: the key, every 8+ character run of it in any echoed form, bearer tokens and key shapes go."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maascheck.core.secrets import FRAGMENT, REDACTED, Redactor

# A fake key, built from parts so no scanner mistakes it for a real one; it exists only for these tests.
KEY = "sk-" + "fake" + "-Zq7Wp3Lx9Ck2Vn6Bm4Hd8Rt1Yg5"
SLASHED = "ak/" + "fake+Zq7Wp3Lx9Ck2/Vn6Bm4Hd8=="


def _fragments(secret: str) -> list[str]:
    return [secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)]


ECHOES = [
    pytest.param(f"Incorrect API key provided: {KEY}.", id="whole"),
    pytest.param(f"key {KEY[:3]}{'*' * 12}{KEY[15:]}", id="masked-prefix"),
    pytest.param(f"key {KEY[:10]}...{KEY[-10:]}", id="both-ends"),
    pytest.param(f"key ****{KEY[8:24]}****", id="masked-middle"),
    pytest.param(f"{KEY[:17]}\n{KEY[17:]}", id="split-over-lines"),
    pytest.param(f"{KEY[:12]}\r\n  {KEY[12:]}", id="split-crlf-indent"),
    pytest.param(f"{KEY}{KEY}x{KEY[:9]}", id="repeated"),
    pytest.param(json.dumps({"error": {"message": f"bad key {KEY}"}}), id="json"),
]


@pytest.mark.parametrize("text", ECHOES)
def test_no_run_of_eight_key_characters_survives(text: str) -> None:
    out = Redactor([KEY]).text(text)
    assert REDACTED in out
    assert [f for f in _fragments(KEY) if f in out] == []


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(SLASHED, id="raw"),
        pytest.param(json.dumps(SLASHED)[1:-1].replace("/", "\\/"), id="json-slash-escaped"),
        pytest.param(quote(SLASHED, safe=""), id="url-encoded"),
        pytest.param(re.sub("%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(SLASHED, safe="")), id="url-lower"),
    ],
)
def test_encoded_echoes_are_redacted(form: str) -> None:
    out = Redactor([SLASHED]).text(f"echo: {form} end")
    assert out.startswith("echo: ") and out.endswith(" end") and REDACTED in out
    assert [f for f in _fragments(form) if f in out] == []


def test_runs_shorter_than_eight_and_other_text_are_kept() -> None:
    red = Redactor([KEY])
    text = f"Incorrect API key provided: {KEY[:6]}...{KEY[-4:]} (see docs)"  # OpenAI's own mask: 6 + 4
    assert red.text(text) == text
    assert red.text("nothing to hide, 12345678") == "nothing to hide, 12345678"


def test_partial_runs_of_lowercase_words_are_prose_and_kept() -> None:
    red = Redactor(["sk-" + "maascheck-proof-key-5b1e0c", "sk-" + "proj-Qm3xT9vLp2Rw8Zk"])
    text = "maascheck clients install; key sk-proj-... ; hostile-model"
    assert red.text(text) == text
    assert red.text("sk-" + "proj-Qm3xT9") == REDACTED and red.text("proof-key-5b1e") == REDACTED


def test_bearer_tokens_and_key_shapes_go_without_a_known_key() -> None:
    red = Redactor()
    assert red.text("Authorization: BeArEr abc.def") == f"Authorization: BeArEr {REDACTED}"
    assert red.text("got sk-" + "abcdefghijkl here") == f"got {REDACTED} here"
    assert red.text("task-abcdefghijkl") == "task-abcdefghijkl"  # not a key shape: `sk-` inside a word


def test_headers_hide_credentials_and_redact_echoes() -> None:
    red = Redactor([KEY])
    shown = red.headers([("Authorization", f"Bearer {KEY}"), ("X-Echo", f"key={KEY[5:20]}")])
    assert shown == [("Authorization", f"Bearer {REDACTED}"), ("X-Echo", f"key={REDACTED}")]


@pytest.mark.timeout(60)
def test_redaction_is_linear_in_the_text() -> None:
    red = Redactor([KEY])
    small, large = "lorem ipsum dolor " * 20_000, "lorem ipsum dolor " * 200_000
    hostile_small, hostile_large = (KEY[2:14] + " ") * 10_000, (KEY[2:14] + " ") * 100_000

    def seconds(text: str) -> float:
        start = time.perf_counter()
        red.text(text)
        return time.perf_counter() - start

    for a, b in ((small, large), (hostile_small, hostile_large)):
        t_small, t_large = min(seconds(a) for _ in range(3)), min(seconds(b) for _ in range(2))
        assert t_large < 10 * t_small * 4 + 0.1, (t_small, t_large)  # 10x the text: not 100x the time (shared CPU)
    assert red.text(hostile_large).count(REDACTED) == 100_000


KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_+/="  # no lowercase: the prose exemption never applies


@st.composite
def _key_and_echo(draw: st.DrawFn) -> tuple[str, str]:
    key = draw(st.text(KEY_ALPHABET, min_size=8, max_size=64))
    pieces = []
    for _ in range(draw(st.integers(1, 6))):
        start = draw(st.integers(0, len(key) - 1))
        end = draw(st.integers(start + 1, len(key)))
        pieces += [draw(st.text(max_size=12)), key[start:end]]
    return key, "".join(pieces)


@settings(max_examples=300, deadline=None)
@given(_key_and_echo())
def test_whatever_the_echo_no_run_of_eight_key_characters_survives(key_and_echo: tuple[str, str]) -> None:
    key, echo = key_and_echo
    out = Redactor([key]).text(echo)
    assert [f for f in _fragments(key) if f in out] == []
