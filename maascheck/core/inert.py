"""One escaping policy for text that came from the target, wherever maascheck shows it.

Server text is untrusted: an error message can carry ANSI sequences (`ESC[2J ESC[H` clears a terminal
and lets a fake "PASS" be drawn), OSC title changes, NUL, BEL, a carriage return that overwrites a
line, bidirectional overrides that reorder what is read (CVE-2021-42574, "Trojan Source"), lone
surrogates that cannot be encoded, and HTML or Markdown that a viewer would render. Every human
rendering (console, Markdown, HTML, JUnit XML, CSV) passes such text through this module, so none of
those characters reaches an output raw: each is shown as a visible escape (`\\x1b`, `\\u202e`,
`\\ud800`). JSON outputs (results.json, requests.jsonl) stay faithful data: JSON escapes control
characters itself (RFC 8259 §7).
"""

from __future__ import annotations

import html
import re

from maascheck.core.secrets import REDACTED

# C0 controls except TAB and LF, DEL, C1 controls (U+0080-U+009F: 0x9B is a one-byte CSI on some
# terminals), bidirectional marks, embeddings, overrides and isolates, and lone surrogates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Characters with an inline meaning in CommonMark (backslash escapes, §2.4), plus `|` (GFM tables) and
# `~` (GFM strikethrough); `<`, `>` and `&` become character references instead.
# `_` only where it can open or close emphasis: intraword `_` never does (CommonMark §6.2), so metric
# names such as ttft_ms stay readable in the Markdown source.
_MD_PUNCT = re.compile(r"([\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")
# What would open a block when the text starts a line: ATX heading, bullet, setext underline or thematic
# break (CommonMark §4.1-4.3, §5.2), and ordered list item (§5.2); quotes (`>`) are already `&gt;`.
_MD_MARKER = re.compile(r"^(\s*)([#+\-=*_])(?=[\s#+\-=*_]|$)")
_MD_ORDERED = re.compile(r"^(\s*[0-9]{1,9})([.)])(?=\s|$)")


def _visible(match: re.Match[str]) -> str:
    ch = match.group(0)
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def inert(text: object) -> str:
    """`text` with every control, bidi and surrogate character shown as an escape; TAB and LF kept."""
    return _UNSAFE.sub(_visible, "" if text is None else str(text))


def one_line(text: object) -> str:
    """`inert(text)` on one line: TAB, LF, CR and line separators shown as escapes too."""
    return _UNSAFE_LINE.sub(_visible, "" if text is None else str(text))


def html_text(text: object) -> str:
    """Text for HTML content or a quoted attribute value: inert, then `& < > " '` as character references."""
    return html.escape(inert(text), quote=True)


def md_inline(text: object) -> str:
    """Text for one Markdown line or table cell: renders as the literal text, never as markup or HTML.

    One line (line breaks shown as `\\n`), `& < >` as character references (so no raw HTML reaches a
    renderer, CommonMark §6.6), and Markdown punctuation backslash-escaped (CommonMark §2.4).
    """
    parts = (_MD_PUNCT.sub(r"\\\1", html.escape(part, quote=False)) for part in one_line(text).split(REDACTED))
    escaped = REDACTED.join(parts)  # the marker stays as written: no link definition exists for it to match
    return _MD_ORDERED.sub(r"\1\\\2", _MD_MARKER.sub(r"\1\\\2", escaped))


def md_block(text: object) -> str:
    """A block of literal text for Markdown: `<pre>` with the text HTML-escaped, so it renders as written.

    A `<pre>` HTML block ends only at a line holding `</pre>` (CommonMark §4.6, type 1), which escaped
    text cannot contain; a code fence instead could be closed by backticks in the text.
    """
    return "<pre>\n" + html.escape(inert(text), quote=False) + "\n</pre>"


def csv_cell(text: object) -> str:
    """A CSV text cell: inert, on one line, and never read as a formula by a spreadsheet (OWASP CSV injection)."""
    value = one_line(text)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


# What JSON (RFC 8259 §7) may leave unescaped but a terminal or a viewer acts on, or UTF-8 cannot encode.
_JSON_RAW = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def json_text(text: str) -> str:
    """JSON text (as `json.dumps(..., ensure_ascii=False)` makes it) with DEL, C1, bidi controls, line
    separators and lone surrogates as `\\uXXXX` escapes: the same data, no raw control, encodable as UTF-8.

    Valid on JSON text only: outside strings JSON holds none of these characters.
    """
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


# The same characters as UTF-8 bytes (lone surrogates cannot be in valid UTF-8 and are left out).
_JSON_RAW_BYTES = re.compile(rb"\x7f|\xc2[\x80-\x9f]|\xd8\x9c|\xe2\x80[\x8e\x8f\xa8-\xae]|\xe2\x81[\xa6-\xa9]")


def json_bytes(data: bytes) -> bytes:
    """`json_text` for UTF-8 encoded JSON (e.g. an orjson line): the same data with those characters as escapes."""
    if not _JSON_RAW_BYTES.search(data):
        return data
    return _JSON_RAW_BYTES.sub(lambda m: b"\\u%04x" % ord(m.group(0).decode("utf-8")), data)
