"""inert: server text shown on a console or in a report never carries a raw control character or markup."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maascheck.core.inert import csv_cell, html_text, inert, json_text, md_block, md_inline, one_line

FAKE_PASS = "\x1b[2J\x1b[H\x1b[1;32mmaascheck conformance: PASS\x1b[0m"
HOSTILE = (
    f"{FAKE_PASS}\x00\x07\x1b]0;owned\x07\x9b2J\r\u202etxt.exe\ud800"
    "<script>alert(1)</script><img src=x onerror=alert(1)> | `x` [a](javascript:b) *b* ```"
)
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@pytest.mark.parametrize("render", [inert, one_line, html_text, md_inline, md_block, csv_cell])
def test_no_control_character_survives(render: object) -> None:
    out = render(HOSTILE)  # type: ignore[operator]
    assert not RAW_CONTROL.search(out)
    out.encode("utf-8")  # lone surrogates are escaped, so the text can be written


def test_escapes_are_visible_and_line_breaks_kept_where_asked() -> None:
    assert inert("a\x1b[2Jb\x00\x07\n\tc\r") == "a\\x1b[2Jb\\x00\\x07\n\tc\\r"
    assert inert("\u202e\ud800\x9b") == "\\u202e\\ud800\\x9b"
    assert one_line("a\nb\tc") == "a\\nb\\tc"


def test_html_and_markdown_carry_no_raw_markup() -> None:
    for out in (html_text(HOSTILE), md_inline(HOSTILE), md_block(HOSTILE)):
        assert "<script" not in out and "<img" not in out
    assert "&lt;script&gt;" in html_text(HOSTILE)


def test_markdown_inline_text_cannot_open_markup() -> None:
    out = md_inline("a | b `c` [d](e) *f* ~g~ _h_ snake_case")
    assert out == "a \\| b \\`c\\` \\[d\\](e) \\*f\\* \\~g\\~ \\_h\\_ snake_case"
    assert md_inline("# title") == "\\# title" and md_inline("1. item") == "1\\. item"
    assert md_inline("- item") == "\\- item" and md_inline("136.5 ms") == "136.5 ms"
    assert md_inline("key=[REDACTED]") == "key=[REDACTED]"


def test_markdown_block_cannot_be_closed_by_its_text() -> None:
    out = md_block("x\n</pre>\n```\n<b>y</b>")
    assert out.count("</pre>") == 1 and out.endswith("</pre>") and "&lt;/pre&gt;" in out


def test_csv_cells_are_not_formulas() -> None:
    assert csv_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and csv_cell("ok\nnext") == "ok\\nnext"


def test_json_text_is_the_same_data_without_raw_controls() -> None:
    doc = {"m": HOSTILE, "zh": "默认值为 true"}
    text = json_text(json.dumps(doc, ensure_ascii=False))
    assert json.loads(text) == doc and "默认值" in text
    assert not RAW_CONTROL.search(text)


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)


@settings(max_examples=300, deadline=None)
@given(ANY_TEXT)
def test_any_text_renders_with_no_raw_control_and_encodes(text: str) -> None:
    for out in (inert(text), one_line(text), html_text(text), md_inline(text), md_block(text), csv_cell(text)):
        assert not RAW_CONTROL.search(out)
        out.encode("utf-8")
    assert "\n" not in one_line(text) and "\n" not in md_inline(text)
    for out in (html_text(text), md_inline(text)):
        assert "<" not in out and ">" not in out.replace("&gt;", "")
    assert md_block(text).count("</pre>") == 1
    assert json.loads(json_text(json.dumps(text, ensure_ascii=False))) == text
