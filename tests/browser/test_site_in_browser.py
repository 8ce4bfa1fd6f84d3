"""The HTML site (reports/site) in headless Chromium: every page loads cleanly, links resolve,
the index's table, filter and map work, pages fit on phones, laptops and paper, charts and images
have text alternatives, and every page has its own title and one h1.

Run after the site is built: ``make reports`` then ``python -m pytest -m browser tests/browser``
(``make test`` does both). The checks follow the site's contract, not its current markup:

* every page: ``<header class="site-header">`` with a ``<nav>``, one ``<main>``,
  ``<footer class="site-footer">``, ``assets/site.css`` and ``assets/site.js`` linked relatively;
* charts are inline SVG with accessible names; CSV links are ``a.data-link`` to
  ``data/<unit>/<name>.csv``;
* the index has ``table#units.sortable`` (``<button>`` in its ``<th>``, numeric cells carry
  ``data-sort``), ``input#units-filter``, ``svg#tile-map`` with ``.tile`` elements and
  ``select#map-analysis``.

Each page is loaded once (``crawl_page``) and the per-page checks read what was recorded; the
check functions return a list of problems (empty when the page passes), so that
``test_checks_pass_on_a_page_that_meets_the_contract`` and ``test_checks_catch_a_page_that_breaks
it`` can run them on a small site built here.
"""

from __future__ import annotations

import csv
import html
import io
import re
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from analysis import config

pytestmark = pytest.mark.browser

SITE_DIR = config.PROJECT_ROOT / "reports" / "site"

WIDTHS = (390, 1400)           # a phone and a laptop, CSS px
VIEWPORT_HEIGHTS = {390: 844, 1400: 900}
PRINT_WIDTH, PRINT_HEIGHT = 794, 1123   # A4 at 96 dpi
MIN_TILES = 31                  # one tile per province-level unit of mainland China
NOTEBOOK_PLACEHOLDER_ALT = "No description has been provided for this image"
EXTERNAL_LINK_ALLOWLIST: frozenset[str] = frozenset()   # the site links nowhere outside itself
DATA_LINK_PATH = re.compile(r"^data/[^/]+/[^/]+\.csv$")
UI_TIMEOUT_MS = 5_000
MAX_LISTED = 25                 # problems listed per failure message



def site_pages(site_dir: Path = SITE_DIR) -> list[str]:
    """The site's pages (its top-level *.html), index first; none when index.html is missing."""
    if not (site_dir / "index.html").is_file():
        return []
    return sorted((path.name for path in site_dir.glob("*.html")),
                  key=lambda name: (name != "index.html", name))


# ---------------------------------------------------------------------------------------------
# What is recorded of each page


@dataclass
class PageReport:
    name: str
    url: str
    load_problems: list[str] = field(default_factory=list)
    title: str = ""
    h1: list[str] = field(default_factory=list)
    skeleton: dict = field(default_factory=dict)
    ids: set[str] = field(default_factory=set)
    links: list[dict] = field(default_factory=list)
    images: list[dict] = field(default_factory=list)
    charts: list[dict] = field(default_factory=list)
    overflow: dict[int, dict] = field(default_factory=dict)
    print_tables: dict = field(default_factory=dict)


# Shared by the scripts below: a short, recognisable description of an element.
JS_DESCRIBE = r"""
const snippet = (el, n = 50) => (el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, n);
const describe = (el) => {
  if (!el || !el.tagName) return String(el);
  let d = el.tagName.toLowerCase();
  if (el.id) d += '#' + el.id;
  const cls = (el.getAttribute('class') || '').trim().split(/\s+/).filter(Boolean).slice(0, 3);
  if (cls.length) d += '.' + cls.join('.');
  const same = el.parentElement
    ? [...el.parentElement.children].filter(c => c.tagName === el.tagName) : [];
  if (!el.id && same.length > 1) d += `:nth-of-type(${same.indexOf(el) + 1})`;
  return d;
};
const shortUrl = (u) => (u || '').startsWith('data:')
  ? (u.slice(0, 30) + `… (${u.length} characters)`) : (u || '');
const settle = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
"""

JS_FACTS = "async () => {" + JS_DESCRIBE + r"""
  const images = [...document.images];
  images.forEach(img => { if (img.loading === 'lazy') img.loading = 'eager'; });
  await Promise.all(images.map(img => img.complete ? null : new Promise(resolve => {
    img.addEventListener('load', resolve, {once: true});
    img.addEventListener('error', resolve, {once: true});
    setTimeout(resolve, 15000);
  })));
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id)
    .concat([...document.querySelectorAll('a[name]')].map(a => a.getAttribute('name')));
  const links = [...document.querySelectorAll('a[href]')].map(a => {
    const raw = a.getAttribute('href');
    let resolved = null;
    try { resolved = new URL(raw, document.baseURI).href; } catch (e) { resolved = null; }
    return {raw, resolved, text: snippet(a, 40), element: describe(a),
            dataLink: a.classList.contains('data-link')};
  });
  const imgs = images.map(img => ({
    src: shortUrl(img.getAttribute('src')), element: describe(img),
    alt: img.hasAttribute('alt') ? img.getAttribute('alt') : null,
    naturalWidth: img.naturalWidth, complete: img.complete,
  }));
  const charts = [...document.querySelectorAll('figure svg, svg[role="img"]')]
    .filter(svg => !(svg.parentElement && svg.parentElement.closest('svg')))
    .filter(svg => svg.getAttribute('aria-hidden') !== 'true')
    .map(svg => {
      let name = (svg.getAttribute('aria-label') || '').trim();
      const labelledby = (svg.getAttribute('aria-labelledby') || '').trim();
      if (!name && labelledby) {
        name = labelledby.split(/\s+/).map(id => {
          const target = document.getElementById(id);
          return target ? (target.textContent || '').trim() : '';
        }).join(' ').trim();
      }
      if (!name) {
        const title = [...svg.children].find(c => c.tagName.toLowerCase() === 'title');
        name = title ? (title.textContent || '').trim() : '';
      }
      const figure = svg.closest('figure');
      const caption = figure && figure.querySelector('figcaption');
      return {element: describe(svg), name, labelledby,
              caption: caption ? snippet(caption, 60) : ''};
    });
  const header = document.querySelector('header.site-header');
  const skeleton = {
    header: !!header,
    headerNav: !!(header && header.querySelector('nav')),
    mains: document.querySelectorAll('main').length,
    footer: !!document.querySelector('footer.site-footer'),
    stylesheets: [...document.querySelectorAll('link[rel~="stylesheet"][href]')]
      .map(l => ({raw: l.getAttribute('href'), resolved: l.href})),
    scripts: [...document.querySelectorAll('script[src]')]
      .map(s => ({raw: s.getAttribute('src'), resolved: s.src})),
    // A heading's anchor link is hidden by the stylesheet; anything inside one is hidden too
    // (an anchor written as <a ... /> stays open in a browser and swallows what follows).
    filledAnchors: [...document.querySelectorAll('a.anchor-link')]
      .filter(a => a.childNodes.length > 0).map(a => describe(a) + ' holds "' + snippet(a) + '"'),
  };
  return {title: document.title, h1: [...document.querySelectorAll('h1')].map(h => snippet(h, 80)),
          ids, links, images: imgs, charts, skeleton};
}"""

JS_OVERFLOW = "async () => {" + JS_DESCRIBE + r"""
  await settle();
  const limit = window.innerWidth + 1;
  const scrollWidth = document.documentElement.scrollWidth;
  const offenders = [];
  if (scrollWidth > limit) {
    const clipped = (el) => {
      for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== 'visible') return true;
      }
      return false;
    };
    for (const el of document.body.querySelectorAll('*')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.right + window.scrollX <= limit) continue;
      const parent = el.parentElement;
      const parentFits = !parent || parent === document.body
        || parent.getBoundingClientRect().right + window.scrollX <= limit;
      if (parentFits && !clipped(el)) {
        offenders.push(`${describe(el)} "${snippet(el, 30)}" is ${Math.round(r.width)} px wide, `
                       + `right edge at ${Math.round(r.right + window.scrollX)} px`);
        if (offenders.length >= 5) break;
      }
    }
  }
  return {scrollWidth, innerWidth: window.innerWidth, offenders};
}"""

JS_PRINT_TABLES = "async () => {" + JS_DESCRIBE + r"""
  await settle();
  const viewport = window.innerWidth;
  const tables = [];
  document.querySelectorAll('table').forEach((table, i) => {
    const r = table.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return;    // not printed
    let clip = viewport, clipper = 'the page';
    for (let a = table.parentElement; a && a !== document.body; a = a.parentElement) {
      const overflowX = getComputedStyle(a).overflowX;
      if (overflowX === 'visible') continue;
      const ar = a.getBoundingClientRect();
      const right = ar.left + a.clientLeft + a.clientWidth;
      if (right < clip) { clip = right; clipper = `${describe(a)} (overflow-x: ${overflowX})`; }
    }
    const caption = table.caption ? snippet(table.caption, 50)
      : (table.querySelector('th')
         ? 'first header "' + snippet(table.querySelector('th'), 30) + '"' : '');
    tables.push({table: `table ${i + 1} (${describe(table)}${caption ? ', ' + caption : ''})`,
                 left: r.left, right: r.right, width: r.width, clip, clipper});
  });
  return {viewport, tables};
}"""


def crawl_page(tab, url: str, name: str) -> PageReport:
    """Load ``url`` once and record everything the per-page checks need: at 1400 px (facts and
    overflow), at 390 px (overflow) and as printed at A4 width (tables)."""
    report = PageReport(name=name, url=url)
    page = tab.page
    response = tab.visit(url, width=1400, height=VIEWPORT_HEIGHTS[1400])
    if response is not None and response.status >= 400:
        report.load_problems.append(f"the page itself answered HTTP {response.status}")
    facts = page.evaluate(JS_FACTS)
    report.title = facts["title"]
    report.h1 = facts["h1"]
    report.skeleton = facts["skeleton"]
    report.ids = set(facts["ids"])
    report.links = facts["links"]
    report.images = facts["images"]
    report.charts = facts["charts"]
    report.overflow[1400] = page.evaluate(JS_OVERFLOW)
    page.set_viewport_size({"width": 390, "height": VIEWPORT_HEIGHTS[390]})
    report.overflow[390] = page.evaluate(JS_OVERFLOW)
    page.set_viewport_size({"width": PRINT_WIDTH, "height": PRINT_HEIGHT})
    page.emulate_media(media="print")
    report.print_tables = page.evaluate(JS_PRINT_TABLES)
    page.emulate_media(media="screen")
    report.load_problems.extend(tab.problems)
    return report


# ---------------------------------------------------------------------------------------------
# Static facts about the site's files (for links into other pages and titles across pages)


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if value is not None and (key == "id" or (key == "name" and tag == "a")):
                self.ids.add(value)


@lru_cache(maxsize=512)
def static_ids(path: Path) -> frozenset[str]:
    """The ids (and a[name]s) in an HTML file, as written (the link targets of other pages)."""
    parser = _Anchors()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    parser.close()
    return frozenset(parser.ids)


_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=8)
def site_titles(site_root: Path) -> dict[str, str]:
    """Each page's <title>, as written, whitespace normalised."""
    titles = {}
    for name in site_pages(site_root):
        text = (site_root / name).read_text(encoding="utf-8", errors="replace")
        match = _TITLE.search(re.split(r"<body[\s>]", text, maxsplit=1, flags=re.I)[0])
        titles[name] = " ".join(html.unescape(match[1]).split()) if match else ""
    return titles


def local_target(site_root: Path, report: PageReport, resolved: str) -> Path | None:
    """The file a same-origin URL points at, or None when the URL is not on the served site."""
    parts, base = urlsplit(resolved), urlsplit(report.url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        return None
    relative = unquote(parts.path).lstrip("/")
    target = site_root / relative
    if relative == "" or relative.endswith("/") or target.is_dir():
        target = target / "index.html"
    return target


def site_relative(site_root: Path, target: Path) -> str | None:
    try:
        return target.resolve().relative_to(site_root.resolve()).as_posix()
    except ValueError:
        return None


def escapes(site_root: Path, page: str, relative_href: str) -> bool:
    """Whether a relative href, followed on disk from the page, leaves the site's folder."""
    path = unquote(urlsplit(relative_href).path)
    if not path:
        return False
    target = (site_root / page).parent / path
    return site_relative(site_root, target) is None


def csv_header_problem(path: Path) -> str | None:
    """Why the file is not a non-empty CSV that starts with a header line (None when it is)."""
    if path.stat().st_size == 0:
        return "is empty"
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        first = handle.readline().strip("\r\n")
    if not first.strip():
        return "starts with an empty line instead of a header"
    fields = next(csv.reader(io.StringIO(first)))
    if any(not name.strip() for name in fields):
        return f"has a header with an empty column name: {first[:120]!r}"

    def numeric(value: str) -> bool:
        try:
            float(value)
        except ValueError:
            return False
        return True

    if all(numeric(name) for name in fields):
        return f"starts with a data row, not a header: {first[:120]!r}"
    return None


# ---------------------------------------------------------------------------------------------
# The checks: each returns a list of problems, empty when the page passes


def check_loads_cleanly(report: PageReport) -> list[str]:
    return list(report.load_problems)


def check_skeleton(report: PageReport) -> list[str]:
    s, problems = report.skeleton, []
    if not s.get("header"):
        problems.append('no <header class="site-header">')
    elif not s.get("headerNav"):
        problems.append('<header class="site-header"> has no <nav>')
    if s.get("mains") != 1:
        problems.append(f"expected exactly one <main>, found {s.get('mains')}")
    if not s.get("footer"):
        problems.append('no <footer class="site-footer">')
    for anchor in s.get("filledAnchors", []):
        problems.append(f"content inside a hidden heading anchor, so readers never see it: "
                        f"{anchor}")
    base = report.url.rsplit("/", 1)[0] + "/"
    for kind, asset, entries in (("stylesheet", "assets/site.css", s.get("stylesheets", [])),
                                 ("script", "assets/site.js", s.get("scripts", []))):
        matching = [e for e in entries if e["resolved"] == base + asset]
        if not matching:
            problems.append(f"no {kind} {asset} (found: {[e['raw'] for e in entries] or 'none'})")
        for entry in matching:
            if entry["raw"].startswith("/") or "://" in entry["raw"]:
                problems.append(f"{kind} linked as {entry['raw']!r}: link it relatively "
                                f"({asset!r}) so the site works from any folder and from disk")
    return problems


def check_links(report: PageReport, site_root: Path,
                allowlist: frozenset[str] = EXTERNAL_LINK_ALLOWLIST) -> list[str]:
    problems = []
    this_page = (site_root / report.name).resolve()
    for link in report.links:
        raw, resolved = link["raw"], link["resolved"]
        where = f'{link["element"]} "{link["text"]}" href={raw!r}'
        if resolved is None:
            problems.append(f"{where}: not a valid URL")
            continue
        parts = urlsplit(resolved)
        if parts.scheme not in ("http", "https"):
            continue    # mailto:, tel: and the like are not pages
        target = local_target(site_root, report, resolved)
        if target is None:
            if resolved not in allowlist:
                problems.append(f"{where}: external link (the site should link only to itself; "
                                "add it to EXTERNAL_LINK_ALLOWLIST if it is meant)")
            continue
        if raw.strip().startswith("/") and not raw.strip().startswith("//"):
            problems.append(f"{where}: root-absolute link; use a relative link so the site "
                            "works from any folder and from disk")
        elif not urlsplit(raw.strip()).scheme and escapes(site_root, report.name, raw.strip()):
            problems.append(f"{where}: points outside the site's folder, which is all that is "
                            "published")
            continue
        relative = site_relative(site_root, target)
        if relative is None:
            problems.append(f"{where}: points outside the site")
            continue
        if not target.is_file():
            problems.append(f"{where}: {relative} does not exist")
            continue
        fragment = parts.fragment
        if not fragment or fragment.lower() == "top":
            continue
        if target.resolve() == this_page:
            ids, place = report.ids, "this page"
        elif target.suffix.lower() in (".html", ".htm"):
            ids, place = static_ids(target), relative
        else:
            continue
        # As browsers do: the fragment as written, then percent-decoded.
        if fragment not in ids and unquote(fragment) not in ids:
            problems.append(f"{where}: no element with id {unquote(fragment)!r} (or <a name>) "
                            f"in {place}")
    return problems


def check_images_and_data_links(report: PageReport, site_root: Path) -> list[str]:
    problems = []
    for image in report.images:
        if not image["naturalWidth"]:
            problems.append(f"{image['element']} src={image['src']!r} did not load "
                            "(naturalWidth is 0)")
    for link in report.links:
        if not link["dataLink"]:
            continue
        where = f'a.data-link "{link["text"]}" href={link["raw"]!r}'
        target = local_target(site_root, report, link["resolved"] or "")
        relative = site_relative(site_root, target) if target is not None else None
        if relative is None:
            problems.append(f"{where}: not a file of the site")
            continue
        if not DATA_LINK_PATH.match(relative):
            problems.append(f"{where}: expected a CSV at data/<unit>/<name>.csv, got {relative}")
        if not target.is_file():
            problems.append(f"{where}: {relative} does not exist")
            continue
        why = csv_header_problem(target)
        if why:
            problems.append(f"{where}: {relative} {why}")
    return problems


def check_no_horizontal_overflow(report: PageReport) -> list[str]:
    problems = []
    for width in WIDTHS:
        o = report.overflow.get(width)
        if o is None:
            problems.append(f"at {width} px: not measured")
        elif o["scrollWidth"] > o["innerWidth"] + 1:
            culprits = "; ".join(o["offenders"]) or "no single element found"
            problems.append(f"at {width} px the page scrolls sideways: document scrollWidth "
                            f"{o['scrollWidth']} px > window width {o['innerWidth']} px "
                            f"(widest culprits: {culprits})")
    return problems


def check_tables_fit_in_print(report: PageReport) -> list[str]:
    problems = []
    measured = report.print_tables
    for t in measured.get("tables", []):
        if t["right"] > measured["viewport"] + 1:
            problems.append(f"{t['table']}: right edge at {t['right']:.0f} px, beyond the "
                            f"{measured['viewport']} px printed page; its right-hand columns "
                            "would be cut off")
        elif t["right"] > t["clip"] + 1:
            problems.append(f"{t['table']}: right edge at {t['right']:.0f} px, clipped by "
                            f"{t['clipper']} at {t['clip']:.0f} px (a scroll container cannot "
                            "scroll on paper)")
    return problems


def check_text_alternatives(report: PageReport) -> list[str]:
    problems = []
    for chart in report.charts:
        if not chart["name"]:
            hint = f' (its figure caption: "{chart["caption"]}")' if chart["caption"] else ""
            why = (f"aria-labelledby={chart['labelledby']!r} names no text"
                   if chart["labelledby"] else "no aria-label, aria-labelledby or <title>")
            problems.append(f"chart {chart['element']} has no accessible name: {why}{hint}")
    for image in report.images:
        alt = image["alt"]
        if alt is None or not alt.strip():
            problems.append(f"{image['element']} src={image['src']!r} has no alt text")
        elif alt.strip() == NOTEBOOK_PLACEHOLDER_ALT:
            problems.append(f"{image['element']} src={image['src']!r} has the notebook "
                            f"placeholder alt text {NOTEBOOK_PLACEHOLDER_ALT!r}")
    return problems


def check_title_and_h1(report: PageReport, site_root: Path) -> list[str]:
    problems = []
    title = " ".join(report.title.split())
    if not title:
        problems.append("no <title> (or an empty one)")
    elif title.lower() == "notebook":
        problems.append("<title> is nbconvert's placeholder 'Notebook'")
    else:
        others = sorted(name for name, other in site_titles(site_root).items()
                        if other == title and name != report.name)
        if others:
            listed = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5
                                              else "")
            problems.append(f"<title> {title!r} is also the title of {listed}")
    if len(report.h1) != 1:
        problems.append(f"expected exactly one <h1>, found {len(report.h1)}: {report.h1[:5]}")
    return problems


def fail_if(problems: list[str], page: str, what: str) -> None:
    if problems:
        listed = problems[:MAX_LISTED]
        more = len(problems) - len(listed)
        message = (f"{page}: {what}: {len(problems)} problem(s)\n"
                   + "\n".join(f"  - {p}" for p in listed)
                   + (f"\n  ... and {more} more" if more else ""))
        pytest.fail(message, pytrace=False)


# ---------------------------------------------------------------------------------------------
# The index's interactive parts: sortable table, filter, tile map


JS_UNITS_TABLE = r"""(column) => {
  const table = document.querySelector('table#units');
  const head = table.tHead ? table.tHead.rows[table.tHead.rows.length - 1] : table.rows[0];
  const rows = [...table.tBodies].flatMap(b => [...b.rows]);
  const visible = (row) => row.getClientRects().length > 0
    && getComputedStyle(row).visibility !== 'hidden';
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim().toLowerCase();
  const sortValue = (cell) => cell ? cell.getAttribute('data-sort') : null;
  const columns = [...head.cells].map((th, j) => ({
    index: j, header: norm(th.textContent), button: !!th.querySelector('button'),
    values: rows.map(r => sortValue(r.cells[j])),
  }));
  return {
    columns,
    rows: rows.map(r => ({text: norm(r.textContent), visible: visible(r),
                          first: (r.cells[0] ? r.cells[0].textContent : '')
                                   .replace(/\s+/g, ' ').trim(),
                          value: column === null ? null : sortValue(r.cells[column])})),
  };
}"""


def _numbers(values: list[str | None]) -> list[float]:
    out = []
    for value in values:
        try:
            number = float(value) if value is not None and value.strip() != "" else None
        except ValueError:
            number = None
        if number is not None and number == number:   # drop NaN
            out.append(number)
    return out


def _direction(numbers: list[float]) -> str | None:
    if len(set(numbers)) < 2:
        return None
    if all(a <= b for a, b in zip(numbers, numbers[1:])):
        return "ascending"
    if all(a >= b for a, b in zip(numbers, numbers[1:])):
        return "descending"
    return None


def _wait(page, predicate_js: str, arg=None, timeout_ms: int = UI_TIMEOUT_MS) -> bool:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(predicate_js, arg=arg, timeout=timeout_ms, polling=50)
    except PlaywrightTimeout:
        return False
    return True


def _has_units_table(page) -> str | None:
    if page.locator("table#units.sortable").count() != 1:
        found = page.locator("table#units").count()
        return ("index: expected one table#units.sortable"
                + (" (table#units lacks the class sortable)" if found else " (there is none)"))
    return None


JS_ORDER = r"""([column, wanted]) => {
  const table = document.querySelector('table#units');
  const values = [...table.tBodies].flatMap(b => [...b.rows])
    .map(r => r.cells[column] ? r.cells[column].getAttribute('data-sort') : null)
    .filter(v => v !== null && v.trim() !== '' && !Number.isNaN(Number(v))).map(Number);
  if (new Set(values).size < 2) return false;
  const up = values.every((v, i) => i === 0 || values[i - 1] <= v);
  const down = values.every((v, i) => i === 0 || values[i - 1] >= v);
  return wanted === 'ascending' ? up : wanted === 'descending' ? down : (up || down);
}"""


def check_units_table_sorts(tab, url: str, timeout_ms: int = UI_TIMEOUT_MS) -> list[str]:
    tab.visit(url)
    page = tab.page
    missing = _has_units_table(page)
    if missing:
        return [missing]
    state = page.evaluate(JS_UNITS_TABLE, None)
    if len(state["rows"]) < 2:
        return [f"index: table#units has {len(state['rows'])} body row(s); nothing to sort"]
    numeric = [c for c in state["columns"]
               if c["button"] and len(set(_numbers(c["values"]))) >= 2
               and len(_numbers(c["values"])) >= len(state["rows"]) / 2]
    if not numeric:
        return ["index: no column of table#units has a <button> in its header and numeric "
                "data-sort values in its cells (expected e.g. <th><button>Effect</button></th> "
                'and <td data-sort="8.7">)']
    column = numeric[0]
    button = page.locator(f"table#units > thead > tr:last-child > :nth-child({column['index'] + 1})"
                          " button").first
    if button.count() == 0:
        button = page.locator("table#units th").nth(column["index"]).locator("button").first
    label = f"column {column['index'] + 1} ({column['header'][:40]!r})"
    problems = []
    button.click()
    if not _wait(page, JS_ORDER, [column["index"], "either"], timeout_ms=timeout_ms):
        values = page.evaluate(JS_UNITS_TABLE, column["index"])["rows"]
        return [f"index: after one click on the header button of {label}, the rows are not in "
                f"order of data-sort (first values: {[r['value'] for r in values[:8]]})"]
    first = _direction(_numbers([r["value"] for r in
                                 page.evaluate(JS_UNITS_TABLE, column["index"])["rows"]]))
    second_wanted = "descending" if first == "ascending" else "ascending"
    button.click()
    if not _wait(page, JS_ORDER, [column["index"], second_wanted], timeout_ms=timeout_ms):
        values = page.evaluate(JS_UNITS_TABLE, column["index"])["rows"]
        problems.append(f"index: a second click on the header button of {label} should sort "
                        f"the rows {second_wanted} (the first click sorted them {first}); "
                        f"first values: {[r['value'] for r in values[:8]]}")
    return problems


JS_FILTERED = r"""([term, wantAll]) => {
  const table = document.querySelector('table#units');
  const norm = (s) => (s || '').replace(/\s+/g, ' ').trim().toLowerCase();
  const rows = [...table.tBodies].flatMap(b => [...b.rows]);
  const visible = (row) => row.getClientRects().length > 0
    && getComputedStyle(row).visibility !== 'hidden';
  if (wantAll) return rows.every(visible);
  const t = norm(term);
  return rows.every(r => visible(r) === norm(r.textContent).includes(t));
}"""


def check_units_filter(tab, url: str, timeout_ms: int = UI_TIMEOUT_MS) -> list[str]:
    tab.visit(url)
    page = tab.page
    missing = _has_units_table(page)
    if missing:
        return [missing]
    box = page.locator("input#units-filter")
    if box.count() != 1:
        return ["index: expected one input#units-filter (the table's filter box)"]
    rows = page.evaluate(JS_UNITS_TABLE, None)["rows"]
    if len(rows) < 2:
        return [f"index: table#units has {len(rows)} body row(s); nothing to filter"]
    if not all(r["visible"] for r in rows):
        return ["index: before any filtering, some rows of table#units are hidden"]
    # A name from the table itself: the first cell of a row in the middle, as displayed.
    term = next((r["first"] for r in rows[len(rows) // 2:] + rows if r["first"]), "")
    if not term:
        return ["index: the rows of table#units have empty first cells; no name to filter by"]
    matching = sum(term.lower() in r["text"] for r in rows)
    box.click()
    box.press_sequentially(term)
    problems = []
    if not _wait(page, JS_FILTERED, [term, False], timeout_ms):
        after = page.evaluate(JS_UNITS_TABLE, None)["rows"]
        shown = [r["first"] for r in after if r["visible"]]
        problems.append(f"index: after typing {term!r} into input#units-filter, the visible rows "
                        f"should be the {matching} containing it; {len(shown)} of {len(after)} "
                        f"are visible (first: {shown[:5]})")
    box.press("Control+a")
    box.press("Backspace")
    box.fill("")
    if not _wait(page, JS_FILTERED, ["", True], timeout_ms):
        after = page.evaluate(JS_UNITS_TABLE, None)["rows"]
        problems.append(f"index: clearing input#units-filter should show all {len(after)} rows "
                        f"again; {sum(r['visible'] for r in after)} are visible")
    return problems


JS_TILE_FILLS = r"""() => [...document.querySelectorAll('svg#tile-map .tile')].map(tile =>
  [tile, ...tile.querySelectorAll('rect, path, polygon, circle, ellipse')]
    .map(el => getComputedStyle(el).fill).join(' ')).join('|')"""


def check_tile_map(tab, url: str, timeout_ms: int = UI_TIMEOUT_MS) -> list[str]:
    tab.visit(url)
    page = tab.page
    svg = page.locator("svg#tile-map")
    if svg.count() != 1:
        return ["index: expected one svg#tile-map (the tile map of the units)"]
    problems = []
    box = svg.bounding_box()
    if not box or box["width"] < 1 or box["height"] < 1:
        problems.append(f"index: svg#tile-map is not rendered (bounding box {box})")
    tiles = page.locator("svg#tile-map .tile").count()
    if tiles < MIN_TILES:
        problems.append(f"index: svg#tile-map has {tiles} elements with class tile, "
                        f"expected at least {MIN_TILES}")
    select = page.locator("select#map-analysis")
    if select.count() != 1:
        problems.append("index: expected one select#map-analysis (the map's analysis chooser)")
        return problems
    options = select.locator("option")
    if options.count() > 1 and tiles:
        current = select.input_value()
        values = [options.nth(i).get_attribute("value") or options.nth(i).inner_text()
                  for i in range(options.count())]
        other = next((v for v in values if v != current), None)
        before = page.evaluate(JS_TILE_FILLS)
        select.select_option(value=other)
        if not _wait(page, "(before) => (" + JS_TILE_FILLS + ")() !== before", before,
                     timeout_ms):
            problems.append(f"index: choosing {other!r} in select#map-analysis (was {current!r}) "
                            "changed the fill of no tile of svg#tile-map")
    return problems


# ---------------------------------------------------------------------------------------------
# Screenshots


def representative_pages(names: list[str]) -> list[str]:
    """index, national, a province's main page, an analysis page, methods, sources, glossary."""
    present = set(names)
    provinces = sorted(n for n in names if re.fullmatch(r"province-[^-]+\.html", n))
    analyses = sorted(n for n in names if re.fullmatch(r"province-[^-]+-.+\.html", n))
    wanted = ["index.html", "national.html",
              "province-53.html" if "province-53.html" in present else (provinces or [None])[0],
              (analyses or [None])[0], "methods.html", "sources.html", "glossary.html"]
    return [n for n in dict.fromkeys(wanted) if n and n in present]


def screenshot_problems(path: Path, page) -> list[str]:
    """Why the screenshot looks blank (None of these when it shows a page)."""
    try:
        from PIL import Image
    except ImportError:
        problems = []
        if path.stat().st_size < 4_000:
            problems.append(f"{path.name} is only {path.stat().st_size} bytes")
        if not page.evaluate("() => document.body && document.body.innerText.trim().length > 0"):
            problems.append("the page shows no text")
        return problems
    with Image.open(path) as image:
        rgb = image.convert("RGB")
    width, height = rgb.size
    step = max(1, int(((width * height) / 2_000_000) ** 0.5))
    if step > 1:   # nearest-neighbour sampling keeps the colours as they are
        rgb = rgb.resize((max(1, width // step), max(1, height // step)), Image.NEAREST)
    colours = rgb.getcolors(maxcolors=rgb.size[0] * rgb.size[1] + 1)
    dominant = max(count for count, _ in colours) / (rgb.size[0] * rgb.size[1])
    if len(colours) < 2 or dominant > 0.99:
        return [f"{path.name} ({width}×{height}) looks blank: {len(colours)} colour(s), the "
                f"commonest covering {dominant:.1%} of the pixels"]
    return []


# ---------------------------------------------------------------------------------------------
# The tests on the built site


def pytest_generate_tests(metafunc):
    pages = site_pages(SITE_DIR)
    if "page_name" in metafunc.fixturenames:
        # Without a site, one placeholder: the site_dir fixture then skips ("run make reports").
        names = pages or ["index.html"]
        metafunc.parametrize("page_name", names, ids=[n.removesuffix(".html") for n in names])
    if "shot" in metafunc.fixturenames:
        shots = [(n, w) for n in (representative_pages(pages) or ["index.html"]) for w in WIDTHS]
        metafunc.parametrize("shot", shots,
                             ids=[f"{n.removesuffix('.html')}-{w}" for n, w in shots])


@pytest.fixture(scope="session")
def crawl(tab, site):
    """``crawl(name)``: the PageReport of a page of the site, each page loaded once."""
    cache: dict[str, PageReport | BaseException] = {}

    def get(name: str) -> PageReport:
        if name not in cache:
            try:
                cache[name] = crawl_page(tab, site.url(name), name)
            except Exception as error:   # recorded once, reported by every check of the page
                cache[name] = error
        found = cache[name]
        if isinstance(found, BaseException):
            pytest.fail(f"{name}: could not be loaded and measured: {found}", pytrace=False)
        return found

    return get


def test_page_loads_without_errors(crawl, page_name):
    """No console errors, uncaught exceptions, failed requests or HTTP errors."""
    fail_if(check_loads_cleanly(crawl(page_name)), page_name, "errors while loading")


def test_page_has_the_site_skeleton(crawl, page_name):
    """header.site-header with a nav, one main, footer.site-footer, site.css and site.js; nothing
    inside a hidden heading anchor."""
    fail_if(check_skeleton(crawl(page_name)), page_name, "page skeleton")


def test_links_resolve(crawl, site_dir, page_name):
    """Every a[href] to the site names an existing file, every #fragment an element."""
    fail_if(check_links(crawl(page_name), site_dir), page_name, "links")


def test_images_and_data_links_load(crawl, site_dir, page_name):
    """Every <img> loads; every a.data-link is a non-empty CSV with a header line."""
    fail_if(check_images_and_data_links(crawl(page_name), site_dir), page_name,
            "images and CSV links")


def test_no_horizontal_overflow(crawl, page_name):
    """Neither at 390 px nor at 1400 px does the page scroll sideways."""
    fail_if(check_no_horizontal_overflow(crawl(page_name)), page_name, "horizontal overflow")


def test_tables_fit_when_printed(crawl, page_name):
    """Printed at A4 width, no table's right-hand columns are cut off."""
    fail_if(check_tables_fit_in_print(crawl(page_name)), page_name, "tables in print")


def test_charts_and_images_have_text_alternatives(crawl, page_name):
    """Chart SVGs have accessible names; images have real alt text."""
    fail_if(check_text_alternatives(crawl(page_name)), page_name, "text alternatives")


def test_title_is_unique_and_there_is_one_h1(crawl, site_dir, page_name):
    fail_if(check_title_and_h1(crawl(page_name), site_dir), page_name, "title and h1")


def test_units_table_sorts(tab, site):
    fail_if(check_units_table_sorts(tab, site.url("index.html")), "index.html",
            "sorting table#units")


def test_units_filter_filters(tab, site):
    fail_if(check_units_filter(tab, site.url("index.html")), "index.html",
            "filtering table#units")


def test_tile_map(tab, site):
    fail_if(check_tile_map(tab, site.url("index.html")), "index.html", "the tile map")


def test_screenshot(tab, site, screenshot_dir, shot):
    name, width = shot
    tab.visit(site.url(name), width=width, height=VIEWPORT_HEIGHTS[width])
    path = screenshot_dir / f"{name.removesuffix('.html')}-{width}.png"
    tab.page.screenshot(path=str(path), full_page=True)
    fail_if(screenshot_problems(path, tab.page), name, f"screenshot at {width} px")


# ---------------------------------------------------------------------------------------------
# The checks themselves, on a small site built here: one page that meets the contract and one
# that breaks it in every way the checks look for.

PROVINCES = ["北京市", "天津市", "河北省", "山西省", "内蒙古自治区", "辽宁省", "吉林省", "黑龙江省",
             "上海市", "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省",
             "湖南省", "广东省", "广西壮族自治区", "海南省", "重庆市", "四川省", "贵州省", "云南省",
             "西藏自治区", "陕西省", "甘肃省", "青海省", "宁夏回族自治区", "新疆维吾尔自治区"]
TINY_PNG = ("data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
            "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

FAKE_CSS = """
* { box-sizing: border-box; }
body { margin: 0; font-family: sans-serif; }
main { padding: 0 1em; max-width: 1100px; margin: auto; }
.table-scroll { overflow-x: auto; max-width: 100%; }
svg { max-width: 100%; height: auto; }
@media print { .table-scroll { overflow: visible; } table { font-size: 7pt; } }
"""

FAKE_JS = r"""
document.addEventListener('DOMContentLoaded', () => {
  const table = document.querySelector('table#units');
  if (table) {
    const body = table.tBodies[0];
    table.querySelectorAll('thead th button').forEach((button, j) => {
      button.addEventListener('click', () => {
        const up = button.dataset.dir !== 'asc';
        button.dataset.dir = up ? 'asc' : 'desc';
        const rows = [...body.rows];
        const key = r => r.cells[j].dataset.sort;
        rows.sort((a, b) => {
          const x = Number(key(a)), y = Number(key(b));
          const c = Number.isNaN(x) || Number.isNaN(y) ? key(a).localeCompare(key(b)) : x - y;
          return up ? c : -c;
        });
        rows.forEach(r => body.appendChild(r));
      });
    });
    const filter = document.querySelector('input#units-filter');
    filter.addEventListener('input', () => {
      const t = filter.value.trim().toLowerCase();
      [...body.rows].forEach(r => { r.hidden = !r.textContent.toLowerCase().includes(t); });
    });
  }
  const select = document.querySelector('select#map-analysis');
  if (select) select.addEventListener('change', () => {
    document.querySelectorAll('#tile-map .tile').forEach(tile => {
      tile.setAttribute('fill', tile.dataset[select.value === 'b' ? 'fillB' : 'fillA']);
    });
  });
});
"""


def _fake_page(title: str, body: str) -> str:
    return textwrap.dedent(f"""\
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{title}</title>
        <link rel="stylesheet" href="assets/site.css"><script src="assets/site.js" defer></script>
        </head><body>
        <header class="site-header"><nav><a href="index.html">All reports</a>
        <a href="province-53.html">Yunnan</a></nav></header>
        <main id="main">{body}</main>
        <footer class="site-footer">Built by the test suite.</footer>
        </body></html>
        """)


def build_fake_site(root: Path) -> Path:
    (root / "assets").mkdir(parents=True)
    (root / "assets" / "site.css").write_text(FAKE_CSS, encoding="utf-8")
    (root / "assets" / "site.js").write_text(FAKE_JS, encoding="utf-8")
    (root / "data" / "53").mkdir(parents=True)
    (root / "data" / "53" / "effects.csv").write_text("unit,estimate\n53,1.2\n", encoding="utf-8")
    (root / "data" / "53" / "empty.csv").write_text("", encoding="utf-8")
    rows = "\n".join(
        f'<tr><th scope="row">{name}</th><td data-sort="{(i * 7) % 31 - 10}">'
        f'{(i * 7) % 31 - 10} pp</td><td data-sort="{name}">{name}</td></tr>'
        for i, name in enumerate(PROVINCES))
    tiles = "\n".join(
        f'<rect class="tile" x="{(i % 8) * 30}" y="{(i // 8) * 30}" width="28" height="28" '
        f'fill="#cde" data-fill-a="#cde" data-fill-b="#{(i * 37) % 256:02x}4060">'
        f'<title>{name}</title></rect>'
        for i, name in enumerate(PROVINCES))
    index = _fake_page("All reports · Fake site", f"""
        <h1>All reports</h1>
        <p><a href="#units">The table</a>,
        <a href="province-53.html#effects">Yunnan's effects</a>.</p>
        <label for="units-filter">Filter</label> <input id="units-filter" type="search">
        <div class="table-scroll"><table id="units" class="sortable">
        <thead><tr><th><button type="button">Unit</button></th>
        <th><button type="button">Effect</button></th>
        <th><button type="button">Name</button></th></tr></thead>
        <tbody>{rows}</tbody></table></div>
        <figure><svg id="tile-map" role="img" aria-labelledby="map-title" viewBox="0 0 240 120"
          width="480" height="240"><title id="map-title">Tile map of the effects by province</title>
          {tiles}</svg>
          <figcaption>Effects by province.</figcaption></figure>
        <label for="map-analysis">Analysis</label>
        <select id="map-analysis"><option value="a">Training</option>
        <option value="b">Workshop jobs</option></select>
        """)
    province = _fake_page("Yunnan · Fake site", f"""
        <h1>Yunnan 云南省</h1>
        <h2 id="effects">Effects</h2>
        <h3 id="Yunnan-(%E4%BA%91)">As nbconvert writes ids</h3><a href="#Yunnan-(%E4%BA%91)">¶</a>
        <h3 id="云南-2">Written in Chinese</h3><a href="#云南-2">¶</a>
        <figure><svg role="img" aria-label="Effect on stable employment by year" width="300"
          height="100"><rect x="10" y="10" width="80" height="80" fill="#446"/></svg></figure>
        <img src="{TINY_PNG}" alt="A one-pixel chart" width="20" height="20">
        <p><a class="data-link" href="data/53/effects.csv">effects.csv</a>
        <a href="#effects">Back to the effects</a> <a href="index.html#units">All units</a></p>
        <div class="table-scroll"><table><tr><th>a</th><td>1</td></tr></table></div>
        """)
    broken = _fake_page("Notebook", f"""
        <h1>One</h1><h1>Two</h1>
        <h2 id="swallowed">Swallowed<a class="anchor-link" href="#swallowed" /></h2>
        <p>This paragraph ends up inside the open anchor.</p>
        <p><a href="missing.html">gone</a> <a href="index.html#nowhere">no anchor</a>
        <a href="#nope">no anchor here</a> <a href="https://example.org/">elsewhere</a>
        <a href="/index.html">root-absolute</a> <a href="../notebooks/x.ipynb">outside</a>
        <a class="data-link" href="data/53/empty.csv">empty</a>
        <a class="data-link" href="data/53/none.csv">absent</a></p>
        <img src="missing.png" alt="{NOTEBOOK_PLACEHOLDER_ALT}">
        <img src="{TINY_PNG}">
        <figure><svg width="100" height="50"><rect width="50" height="50"/></svg></figure>
        <div style="width: 1800px">too wide</div>
        <div class="table-scroll" style="overflow-x: auto; max-width: 100%">
        <table style="width: 1500px"><tr><th>wide</th><td>table</td></tr></table></div>
        <script>console.error('deliberate console error'); missingFunction();</script>
        """)
    (root / "index.html").write_text(index, encoding="utf-8")
    (root / "province-53.html").write_text(province, encoding="utf-8")
    broken = (broken.replace('href="assets/site.css"', 'href="/assets/site.css"')
              .replace('<footer class="site-footer">', "<footer>"))
    (root / "broken.html").write_text(broken, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def fake_site(tmp_path_factory, serve):
    return serve(build_fake_site(tmp_path_factory.mktemp("fake-site") / "site"))


def _all_page_checks(report: PageReport, root: Path) -> dict[str, list[str]]:
    return {
        "loads": check_loads_cleanly(report),
        "skeleton": check_skeleton(report),
        "links": check_links(report, root),
        "images": check_images_and_data_links(report, root),
        "overflow": check_no_horizontal_overflow(report),
        "print": check_tables_fit_in_print(report),
        "alt": check_text_alternatives(report),
        "title": check_title_and_h1(report, root),
    }


def test_checks_pass_on_a_page_that_meets_the_contract(tab, fake_site):
    root = fake_site.directory
    for name in ("index.html", "province-53.html"):
        report = crawl_page(tab, fake_site.url(name), name)
        problems = {check: found for check, found in _all_page_checks(report, root).items()
                    if found}
        assert not problems, f"{name} of the fake site should pass every check: {problems}"
    assert check_units_table_sorts(tab, fake_site.url("index.html")) == []
    assert check_units_filter(tab, fake_site.url("index.html")) == []
    assert check_tile_map(tab, fake_site.url("index.html")) == []


def test_checks_catch_a_page_that_breaks_it(tab, fake_site, tmp_path, serve):
    root = fake_site.directory
    found = _all_page_checks(crawl_page(tab, fake_site.url("broken.html"), "broken.html"), root)
    text = {check: "\n".join(problems) for check, problems in found.items()}
    expectations = {
        "loads": ["deliberate console error", "missingFunction", "HTTP 404", "missing.png"],
        "skeleton": ["site-footer", "'/assets/site.css'", "content inside a hidden heading anchor"],
        "links": ["missing.html does not exist", "'nowhere'", "'nope'", "external link",
                  "root-absolute", "outside the site's folder"],
        "images": ["missing.png", "empty.csv is empty", "none.csv does not exist"],
        "overflow": ["at 390 px", "at 1400 px", "div"],
        "print": ["beyond the 794 px printed page"],
        "alt": ["no accessible name", "placeholder alt", "has no alt text"],
        "title": ["'Notebook'", "exactly one <h1>, found 2"],
    }
    for check, phrases in expectations.items():
        for phrase in phrases:
            assert phrase in text[check], (
                f"check {check!r} should report {phrase!r} on broken.html; it reported:\n"
                f"{text[check] or '(nothing)'}")
    twins = build_fake_site(tmp_path / "twins")
    province = (twins / "province-53.html").read_text(encoding="utf-8")
    (twins / "copy.html").write_text(province.replace("<h1>Yunnan 云南省</h1>", "<h1>Copy</h1>"),
                                     encoding="utf-8")
    copy = check_title_and_h1(crawl_page(tab, serve(twins).url("copy.html"), "copy.html"), twins)
    assert any("also the title of province-53.html" in p for p in copy), copy


def test_interaction_checks_catch_a_lifeless_index(tab, fake_site, tmp_path, serve):
    """Without site.js the table neither sorts nor filters and the map does not recolour."""
    root = tmp_path / "lifeless"
    build_fake_site(root)
    (root / "assets" / "site.js").write_text("", encoding="utf-8")
    server = serve(root)
    sorting = check_units_table_sorts(tab, server.url("index.html"), timeout_ms=1_000)
    assert sorting and "not in order" in sorting[0], sorting
    filtering = check_units_filter(tab, server.url("index.html"), timeout_ms=1_000)
    assert filtering and "after typing" in filtering[0], filtering
    tiles = check_tile_map(tab, server.url("index.html"), timeout_ms=1_000)
    assert tiles and "changed the fill of no tile" in tiles[0], tiles
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "index.html").write_text(_fake_page("Plain", "<h1>Plain</h1>"), encoding="utf-8")
    server = serve(plain)
    assert "table#units.sortable" in check_units_table_sorts(tab, server.url("index.html"))[0]
    assert "svg#tile-map" in check_tile_map(tab, server.url("index.html"))[0]


def test_representative_pages_and_blank_screenshots(tab, tmp_path):
    names = ["index.html", "national.html", "province-11.html", "province-53.html",
             "province-11-training_wage_income.html", "methods.html", "sources.html"]
    assert representative_pages(names) == [
        "index.html", "national.html", "province-53.html",
        "province-11-training_wage_income.html", "methods.html", "sources.html"]
    tab.page.set_content("<html><body style='margin:0;background:#fff'></body></html>")
    blank = tmp_path / "blank.png"
    tab.page.screenshot(path=str(blank), full_page=True)
    assert screenshot_problems(blank, tab.page), "an empty white page should count as blank"
    tab.page.set_content("<h1 style='font-size:60px'>Employment 河北省</h1><p>"
                         + "Some text. " * 200 + "</p>")
    shown = tmp_path / "shown.png"
    tab.page.screenshot(path=str(shown), full_page=True)
    assert screenshot_problems(shown, tab.page) == []


def test_csv_header_detection(tmp_path):
    cases = {"unit,estimate\n53,1\n": None, "53,1.2\n": "data row", "": "empty",
             "\nunit\n": "empty line", "unit,,x\n": "empty column name"}
    for text, expected in cases.items():
        path = tmp_path / "f.csv"
        path.write_text(text, encoding="utf-8")
        found = csv_header_problem(path)
        assert (found is None) if expected is None else (expected in (found or "")), (text, found)
