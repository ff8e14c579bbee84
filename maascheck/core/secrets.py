"""API keys come from the environment only, and are redacted from everything maascheck writes.

Servers echo keys back, whole or in part ("Incorrect API key provided: sk-abc...wxyz", a masked
middle, the key JSON-escaped or URL-encoded, split over lines). `Redactor` therefore replaces not only
each known secret but every run of 8 or more of its consecutive characters, in each of the forms a
server may write it in, and anything shaped like a bearer token or an `sk-` key. A partial run made
only of lowercase words is kept: it is ordinary text (a test key "sk-maascheck-..." would otherwise
hide the tool's own name everywhere) or a public prefix such as `sk-proj-`.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from maascheck.core.errors import ConfigError

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
REDACTED = "[REDACTED]"
FRAGMENT = 8  # the shortest run of a secret's characters that is redacted on its own
_MIN_SECRET = 4  # shorter values are not treated as secrets (they would redact ordinary text)
_SHORT_TEXT = 512  # up to this length, one regex search of every block decides whether to scan
_BLOCK = 4  # anchor length: every FRAGMENT-long window of a form holds one whole aligned block

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Bearer tokens and common key shapes, for text where the exact key is unknown (e.g. a captured request).
_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_KEY_SHAPES = re.compile(r"sk-[A-Za-z0-9_\-]{8,}")  # a literal prefix: searched for, not tried everywhere
_WORD = re.compile(r"\w")
# A partial echo made only of lowercase words ("maascheck", "sk-proj-", "loopback") is prose or a public
# key prefix, not key material: random keys almost never hold such a run of 8 (base64url: (28/64)^8, 0.1 %).
_WORDS = re.compile(r"[-_]?[a-z]+(?:[-_][a-z]+)*[-_]?")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
_CREDENTIAL_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization", "cookie"})


def read_api_key(env_name: str = DEFAULT_KEY_ENV, *, required: bool = False) -> str | None:
    """Return the API key held in environment variable `env_name` (None when unset and not required)."""
    if not _ENV_NAME.match(env_name):
        raise ConfigError(
            f"--api-key-env must name an environment variable, got {env_name!r}; "
            "valid: letters, digits and underscores, e.g. --api-key-env MY_PROVIDER_KEY"
        )
    value = os.environ.get(env_name)
    if not value and required:
        raise ConfigError(
            f"no API key: environment variable {env_name} is unset or empty; "
            f"set it (export {env_name}=...) or name another variable with --api-key-env"
        )
    return value or None


def echo_forms(secret: str) -> set[str]:
    """The forms a server may echo `secret` in: as is, JSON-escaped, `\\/`-escaped, URL-encoded, HTML-escaped."""
    forms = {secret, html.escape(secret, quote=True), secret.replace("/", "\\/")}
    for ensure_ascii in (True, False):
        forms.add(json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1])
    for encoded in (quote(secret, safe=""), quote_plus(secret, safe="")):
        forms.add(encoded)
        forms.add(_PERCENT.sub(lambda m: m.group(0).lower(), encoded))
    return forms


class _Form:
    """One form of a secret, indexed by its aligned `_BLOCK`-long blocks."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.blocks = [(j, text[j : j + _BLOCK]) for j in range(0, len(text) - _BLOCK + 1, _BLOCK)]

    def spans(self, value: str) -> list[tuple[int, int]]:
        """Spans of `value` that are runs of >= FRAGMENT consecutive characters of this form.

        Linear in len(value): one `str.find` scan per block (len(form)/4 scans), then each run of
        blocks found on one alignment ("diagonal": position in value minus offset in the form) is
        widened by at most the few characters before its first and after its last block.
        """
        form, n = self.text, len(value)
        runs: list[tuple[int, int, int]] = []  # (diagonal, first block offset, last block offset)
        open_runs: dict[int, int] = {}  # diagonal -> first block offset, for runs reaching the previous block
        for j, block in self.blocks:
            current: dict[int, int] = {}
            p = value.find(block)
            while p != -1:
                d = p - j
                current[d] = open_runs.pop(d, j)
                p = value.find(block, p + 1)
            runs.extend((d, first, j - _BLOCK) for d, first in open_runs.items())
            open_runs = current
        last = self.blocks[-1][0] if self.blocks else 0
        runs.extend((d, first, last) for d, first in open_runs.items())
        out = []
        for d, first, last_block in runs:
            start, end = d + first, d + last_block + _BLOCK  # in value; the form offset is position - d
            while start > 0 and start - d > 0 and value[start - 1] == form[start - d - 1]:
                start -= 1
            while end < n and end - d < len(form) and value[end] == form[end - d]:
                end += 1
            if end - start >= FRAGMENT and not _WORDS.fullmatch(value, start, end):
                out.append((start, end))
        return out


class Redactor:
    """Replaces known secrets, every 8+ character run of them, and bearer tokens or keys, with [REDACTED]."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._known: set[str] = set()
        self._whole: list[str] = []  # forms of secrets shorter than FRAGMENT: replaced only whole
        self._forms: list[_Form] = []
        self._anchors: re.Pattern[str] | None = None  # any block of any form: a one-call test for short text
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register one more secret to redact."""
        if not secret or len(secret) < _MIN_SECRET or secret in self._known:
            return
        self._known.add(secret)
        for form in echo_forms(secret):
            if len(form) >= FRAGMENT:
                self._forms.append(_Form(form))
            else:
                self._whole.append(form)
        self._whole.sort(key=len, reverse=True)
        blocks = sorted({block for form in self._forms for _, block in form.blocks})
        self._anchors = re.compile("|".join(map(re.escape, blocks))) if blocks else None

    def __bool__(self) -> bool:
        return bool(self._known)

    def text(self, value: str) -> str:
        """Return `value` with every secret, fragment of one, and bearer token replaced."""
        for form in self._forms:  # whole echoes first, at C speed; fragments are what the scan must find
            if form.text in value:
                value = value.replace(form.text, REDACTED)
        # Short text (most strings of a record) is tested for any block at once; long text is scanned.
        anchors = self._anchors
        if anchors is not None and len(value) >= FRAGMENT and (len(value) > _SHORT_TEXT or anchors.search(value)):
            spans = [span for form in self._forms for span in form.spans(value)]
            if spans:
                value = _replace_spans(value, spans)
        for secret in self._whole:
            value = value.replace(secret, REDACTED)
        if "bearer" in value.lower():  # a case-insensitive pattern cannot skip ahead by its prefix
            value = _BEARER.sub(lambda m: m.group(1) + REDACTED, value)
        return _KEY_SHAPES.sub(_key_shape, value) if "sk-" in value else value

    def headers(self, headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """Return headers with credential-bearing values redacted."""
        out = []
        for name, value in headers:
            if name.lower() in _CREDENTIAL_HEADERS:
                scheme = value.split(" ", 1)[0] + " " if " " in value else ""
                out.append((name, scheme + REDACTED))
            else:
                out.append((name, self.text(value)))
        return out


def _key_shape(match: re.Match[str]) -> str:
    """REDACTED for an `sk-` key shape that starts a word (what `\\bsk-` means), else the match unchanged."""
    start = match.start()
    if start and _WORD.match(match.string, start - 1):
        return match.group(0)
    return REDACTED


def _replace_spans(value: str, spans: list[tuple[int, int]]) -> str:
    """`value` with each union of overlapping or touching spans replaced by one REDACTED."""
    spans.sort()
    parts, pos = [], 0
    cur_start, cur_end = spans[0]
    for start, end in spans[1:]:
        if start <= cur_end:
            cur_end = max(cur_end, end)
            continue
        parts += [value[pos:cur_start], REDACTED]
        pos, (cur_start, cur_end) = cur_end, (start, end)
    parts += [value[pos:cur_start], REDACTED, value[cur_end:]]
    return "".join(parts)
