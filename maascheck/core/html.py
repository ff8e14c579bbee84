"""A minimal, escaping HTML builder for self-contained reports (no external assets, no scripts).

Every function that takes text escapes it (`maascheck.core.inert.html_text`: control characters as
visible escapes, then `html.escape(quote=True)`), so strings that come from the target (model names,
error bodies) can never inject markup or carry a raw control character. Callers pass raw text, never
pre-escaped HTML, except through `Html` values built by this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from maascheck.core.inert import html_text


@dataclass(frozen=True)
class Html:
    """A fragment of markup produced by this module (already safe to emit)."""

    markup: str

    def __str__(self) -> str:
        return self.markup


Cell = str | int | float | None | Html


def esc(text: object) -> str:
    """Escape any value for HTML text or a quoted attribute value."""
    return html_text(text)


def raw_join(parts: Iterable[Html]) -> Html:
    """Concatenate fragments."""
    return Html("".join(p.markup for p in parts))


def tag(name: str, content: str | Html | Iterable[Html] = "", *, cls: str | None = None) -> Html:
    """`<name class=cls>content</name>`; plain-string content is escaped."""
    if isinstance(content, Html):
        inner = content.markup
    elif isinstance(content, str):
        inner = esc(content)
    else:
        inner = raw_join(content).markup
    attr = f' class="{esc(cls)}"' if cls else ""
    return Html(f"<{name}{attr}>{inner}</{name}>")


def _cell(value: Cell) -> str:
    if isinstance(value, Html):
        return value.markup
    return esc("—" if value is None else value)


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    cls: str | None = None,
    row_classes: Sequence[str | None] | None = None,
) -> Html:
    """A table with a header row; cell text is escaped, `Html` cells are emitted as they are."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        rc = row_classes[i] if row_classes and i < len(row_classes) else None
        attr = f' class="{esc(rc)}"' if rc else ""
        body.append(f"<tr{attr}>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>")
    attr = f' class="{esc(cls)}"' if cls else ""
    return Html(f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def png(data_b64: str, alt: str) -> Html:
    """An inline PNG image (`data:` URI); `data_b64` must be base64 text from `plots`."""
    if not data_b64.replace("+", "").replace("/", "").replace("=", "").isalnum():
        raise ValueError("png() expects base64 data")
    return Html(f'<img src="data:image/png;base64,{data_b64}" alt="{esc(alt)}">')


def figure(data_b64: str, caption: str) -> Html:
    """An inline PNG with a caption."""
    return Html(f"<figure>{png(data_b64, caption).markup}<figcaption>{esc(caption)}</figcaption></figure>")


def section(title: str, *content: Html, anchor: str | None = None) -> Html:
    """`<section>` with an `<h2>` title."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    inner = "".join(c.markup for c in content)
    return Html(f"<section{ident}><h2>{esc(title)}</h2>{inner}</section>")


def ulist(items: Iterable[str | Html], *, cls: str | None = None) -> Html:
    """A bulleted list; string items are escaped."""
    return tag("ul", [tag("li", item) for item in items], cls=cls)


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem auto;max-width:72rem;
color:#1a1a1a;line-height:1.4;padding:0 1rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;border-bottom:1px solid #ccc;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f2f2f2}td{font-variant-numeric:tabular-nums}
pre{background:#f6f6f6;padding:.5rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.pass{background:#e6f4e6}.fail{background:#fbe3e3}
.verdict{font-size:1.2rem;font-weight:bold;padding:.6rem 1rem;border-radius:4px;margin:1rem 0}
.verdict.pass{border:2px solid #2e7d32}.verdict.fail{border:2px solid #c62828}
.warn{background:#fff4d6;border:2px solid #e0a800;padding:.5rem 1rem;border-radius:4px;margin:1rem 0}
.muted{color:#666;font-size:.85rem}
figure{margin:1rem 0}figure img{max-width:100%;border:1px solid #ddd}
figcaption{font-size:.85rem;color:#555}
"""


def page(title: str, body: Iterable[Html]) -> str:
    """A complete HTML5 document with inline CSS, no scripts and no external references."""
    content = raw_join(body).markup
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{esc(title)}</h1>{content}</body></html>\n"
    )
