"""The sources page: the source documents verbatim, each ledger figure's quote marked where it
occurs, so every figure on a report page links to the sentence it was read from.

Every figure gets exactly one anchor (``id`` = its figure id):

* a ``<mark>`` around its quote, where the quote does not overlap a quote already marked;
* a zero-width ``<span class="anchor">`` at the start of its quote, where it does (two figures
  read from one sentence, or overlapping sentences): the link still lands on the passage;
* an entry in the list "quoted passages not found verbatim" at the end of the document's
  section, where the quote is not in the text even after evening out whitespace, typographic
  quotes and HTML escaping.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pandas as pd

# Characters that differ between a quote and the text without changing it, mapped one to one
# so positions in the normalized text are positions in the original.
_SAME_CHARACTER = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"',
                                 "\u00a0": " ", "\u2013": "-", "\u2014": "-", "\uff0c": ","})


def _flat(text: str) -> str:
    """Whitespace collapsed to single spaces, entities decoded, ends stripped."""
    return re.sub(r"\s+", " ", html.unescape(str(text))).strip()


def _normalized(text: str) -> str:
    """Length-preserving normalization for finding a quote: typographic quotes and dashes,
    case."""
    flat = text.translate(_SAME_CHARACTER)
    lowered = flat.lower()
    return lowered if len(lowered) == len(flat) else flat


def _find(paragraph: str, quote: str) -> int:
    """Where ``quote`` starts in ``paragraph`` (both flat), or -1."""
    position = paragraph.find(quote)
    if position >= 0:
        return position
    return _normalized(paragraph).find(_normalized(quote))


def _render(paragraph: str, marks: list[tuple[int, int, str]],
            anchors: list[tuple[int, str]]) -> str:
    """The paragraph escaped, with ``marks`` (start, end, id) wrapped in ``<mark>`` and
    zero-width ``anchors`` (position, id) inserted; marks never overlap."""
    inserts: dict[int, list[str]] = {}
    for position, figure_id in anchors:
        attribute = html.escape(figure_id, quote=True)
        inserts.setdefault(position, []).append(
            f'<span class="anchor" id="{attribute}" title="{attribute}"></span>')
    for start, end, figure_id in marks:
        attribute = html.escape(figure_id, quote=True)
        inserts.setdefault(start, []).append(f'<mark id="{attribute}" title="{attribute}">')
        inserts.setdefault(end, []).insert(0, "</mark>")
    out, previous = [], 0
    for position in sorted(inserts):
        out.append(html.escape(paragraph[previous:position]))
        # At one position: closing tags first, then anchors, then the opening mark.
        pieces = inserts[position]
        out.extend(sorted(pieces, key=lambda piece: (not piece.startswith("</"),
                                                     piece.startswith("<mark"))))
        previous = position
    out.append(html.escape(paragraph[previous:]))
    return "".join(out)


def highlight_quotes(text: str, quotes: list[tuple[str, str]]) -> str:
    """Escape a source document and mark each (figure_id, quote) where it occurs.

    Each figure id is placed once: as a ``<mark>`` around its quote, or as a zero-width
    ``<span class="anchor">`` where its quote overlaps one already marked. Quotes not found in
    the text are left out here (:func:`missing_quotes` lists them)."""
    paragraphs = [_flat(block) for block in re.split(r"\n\s*\n", text)]
    placed: set[str] = set()
    rendered = []
    for paragraph in filter(None, paragraphs):
        found = []
        for order, (figure_id, quote) in enumerate(quotes):
            flat_quote = _flat(quote)
            if figure_id in placed or not flat_quote:
                continue
            start = _find(paragraph, flat_quote)
            if start >= 0:
                found.append((start, -len(flat_quote), order, figure_id,
                              start + len(flat_quote)))
        marks, anchors = [], []
        for start, _, _, figure_id, end in sorted(found):
            if any(start < mark_end and mark_start < end for mark_start, mark_end, _ in marks):
                anchors.append((start, figure_id))
            else:
                marks.append((start, end, figure_id))
            placed.add(figure_id)
        rendered.append(f"<p>{_render(paragraph, marks, anchors)}</p>")
    return "".join(rendered)


def missing_quotes(text: str, quotes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The (figure_id, quote) pairs whose quote is in no paragraph of ``text``."""
    paragraphs = [_flat(block) for block in re.split(r"\n\s*\n", text)]
    return [(figure_id, quote) for figure_id, quote in quotes
            if not any(_find(paragraph, _flat(quote)) >= 0 for paragraph in paragraphs if
                       paragraph)]


def _missing_html(missing: list[tuple[str, str]]) -> str:
    if not missing:
        return ""
    items = "".join(
        f"<li id='{html.escape(figure_id, quote=True)}'><strong>{html.escape(figure_id)}"
        f"</strong>: \u201c{html.escape(_flat(quote))}\u201d</li>" for figure_id, quote in missing)
    return ("<h3>Quoted passages not found verbatim in the text</h3><p>The ledger quotes these "
            "passages from this document, but they do not appear in it word for word (the "
            "quote may have been shortened or re-translated):</p>"
            f"<ul class='missing-quotes'>{items}</ul>")


def _date_words(timestamp) -> str:
    stamp = pd.Timestamp(timestamp)
    return f"{stamp.day} {stamp:%B %Y}"


_NUMBER_WORDS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven",
                 8: "eight", 9: "nine", 10: "ten"}


def sources_body(sources, figures, sources_dir: Path) -> str:
    sections = []
    for source in sources.itertuples():
        own = figures[figures["source_id"] == source.source_id]
        quotes = list(zip(own["figure_id"], own["quote"]))
        text = (sources_dir / source.file).read_text(encoding="utf-8")
        date = _date_words(source.published)
        inferred = (f" The date is inferred: {html.escape(source.date_basis)}"
                    if source.published_inferred else
                    f" {html.escape(source.date_basis)}")
        count = len(own)
        sections.append(
            f"<section id='{html.escape(source.source_id, quote=True)}'>"
            f"<h2>{html.escape(source.title)}</h2>"
            f"<p class='source-meta'>Published by <strong>{html.escape(source.publisher)}"
            f"</strong> on {date}.{inferred} {count} ledger figure"
            f"{'' if count == 1 else 's'}, each highlighted below where its quote occurs.</p>"
            f"<div class='source-text'>{highlight_quotes(text, quotes)}</div>"
            f"{_missing_html(missing_quotes(text, quotes))}</section>")
    number = _NUMBER_WORDS.get(len(sources), str(len(sources)))
    documents = "The source document" if len(sources) == 1 else \
        f"The {number} source documents"
    return (f"<p>{documents}, verbatim (machine translations of Chinese press releases, errors "
            "included). Each highlighted passage is the quote of a ledger figure; figure tables "
            "on the report pages link here.</p>" + "".join(sections))
