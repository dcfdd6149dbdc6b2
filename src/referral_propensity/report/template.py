"""HTML of the report: the page, its style, tables, figures and notes.

Every text that comes from a run (names, values, config) is escaped here, so
the callers pass plain strings.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

import pandas as pd

STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body {
  margin: 0; padding: 0 1.5rem 3rem; color: #1d2733; background: #fbfbfc;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
    Arial, sans-serif;
}
header, main, nav { max-width: 1120px; margin: 0 auto; }
header { padding: 1.6rem 0 0.6rem; border-bottom: 2px solid #d5dbe3; }
h1 { font-size: 1.55rem; margin: 0 0 0.6rem; }
h2 { font-size: 1.2rem; margin: 0 0 0.8rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 0.5rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem;
  margin: 0; font-size: 0.92rem; }
dl.facts dt { color: #5a6878; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
nav { padding: 0.7rem 0; font-size: 0.9rem; }
nav a { margin-right: 1rem; color: #245c9e; text-decoration: none; }
section { background: #fff; border: 1px solid #e1e6ec; border-radius: 6px;
  padding: 1.1rem 1.3rem; margin: 1.1rem 0; }
table { border-collapse: collapse; font-size: 0.88rem; margin: 0.4rem 0 0.8rem; }
caption { text-align: left; color: #5a6878; padding-bottom: 0.3rem; }
th, td { padding: 0.28rem 0.65rem; border-bottom: 1px solid #e7ebf0; }
th { background: #f1f4f7; text-align: left; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 0.6rem 0 1rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #eef1f4; }
figcaption { color: #5a6878; font-size: 0.85rem; }
p.note, p.missing { padding: 0.55rem 0.8rem; border-radius: 4px; margin: 0.5rem 0; }
p.note { background: #eef4fb; border-left: 4px solid #5b8fd1; }
p.missing { background: #fdf3e7; border-left: 4px solid #e29a3b; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
footer { max-width: 1120px; margin: 1rem auto 0; color: #7b8794; font-size: 0.8rem; }
@media print { section { break-inside: avoid; } nav { display: none; } }
"""


@dataclass
class Section:
    """One section of the page: an anchor id, a heading and its HTML body."""

    id: str
    title: str
    body: str


def render_page(
    *,
    title: str,
    facts: Sequence[tuple[str, str]],
    sections: Sequence[Section],
    footer: str,
) -> str:
    """The whole HTML document; ``sections`` bodies are HTML, the rest text."""
    fact_rows = "".join(
        f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in facts
    )
    links = "".join(
        f'<a href="#{escape(s.id)}">{escape(s.title)}</a>' for s in sections
    )
    body = "\n".join(
        f'<section id="{escape(s.id)}">\n<h2>{escape(s.title)}</h2>\n{s.body}\n'
        "</section>"
        for s in sections
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<header>\n<h1>{escape(title)}</h1>\n<dl class="facts">{fact_rows}</dl>\n'
        f"</header>\n<nav>{links}</nav>\n<main>\n{body}\n</main>\n"
        f"<footer>{escape(footer)}</footer>\n</body>\n</html>\n"
    )


def render_table(
    frame: pd.DataFrame,
    *,
    table_id: str | None = None,
    caption: str | None = None,
    headers: dict[str, str] | None = None,
    formats: dict[str, Callable[[object], str]] | None = None,
) -> str:
    """A data frame as an HTML table, numbers right-aligned and formatted.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to show, in order; the index is not shown.
    table_id : str or None, default=None
        The table's ``id`` attribute.
    caption : str or None, default=None
    headers : dict of str to str or None, default=None
        Column -> heading; other columns are headed by their name.
    formats : dict of str to callable or None, default=None
        Column -> function from a cell value to its text; other columns use
        :func:`format_value`.
    """
    headers = headers or {}
    formats = formats or {}
    id_attr = f' id="{escape(table_id)}"' if table_id else ""
    head = "".join(f"<th>{escape(headers.get(c, str(c)))}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False, name=None):
        cells = []
        for column, value in zip(frame.columns, values, strict=True):
            text = formats.get(column, lambda v, c=column: format_value(v, c))(value)
            numeric = _is_number(value)
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    caption_html = f"<caption>{escape(caption)}</caption>" if caption else ""
    return (
        f"<table{id_attr}>{caption_html}<thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def render_figure(data_uri: str, *, alt: str, caption: str | None = None) -> str:
    """An image embedded as a data URI, with alt text and an optional caption."""
    if not data_uri.startswith("data:image/png;base64,"):
        raise ValueError("the report embeds figures only as PNG data URIs")
    caption_html = f"<figcaption>{escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure><img src="{escape(data_uri)}" alt="{escape(alt)}">'
        f"{caption_html}</figure>"
    )


def render_note(text: str) -> str:
    """A remark about the section (why something is left out)."""
    return f'<p class="note">{escape(text)}</p>'


def render_missing(text: str) -> str:
    """What this section would show and which artifact it lacks."""
    return f'<p class="missing">{escape(text)}</p>'


def render_paragraph(text: str) -> str:
    """A paragraph of plain text."""
    return f"<p>{escape(text)}</p>"


def render_details(summary: str, text: str) -> str:
    """Preformatted text folded under a summary line (such as the config)."""
    return (
        f"<details><summary>{escape(summary)}</summary><pre>{escape(text)}</pre>"
        "</details>"
    )


def format_value(value: object, column: str = "") -> str:
    """A cell value as text: rates and shares in percent, counts with commas.

    Columns whose name contains ``rate`` or ``share`` are shown in percent;
    whole numbers get thousands separators; other numbers four significant
    digits; missing values ``n/a``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if not _is_number(value):
        return str(value)
    number = float(value)
    if "rate" in column or "share" in column:
        return f"{number:.1%}"
    if number.is_integer() and abs(number) < 1e15:
        return f"{int(number):,}"
    if abs(number) >= 1000:
        return f"{number:,.1f}"
    return f"{number:.4g}"


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)
