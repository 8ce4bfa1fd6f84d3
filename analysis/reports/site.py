"""HTML rendering: the page shell shared by every page, unit pages from executed notebooks,
provenance, and the site's shared assets and data downloads.

Every page is one shell (``templates/page.html.j2``): the navigation, the simulated-data banner,
the title, the body, and a footer with the build date, version, licence and a link to how to
cite. Pages link one stylesheet and one script in ``assets/`` instead of carrying copies, charts
are inline SVG, and nothing is fetched from the network. Text that comes from data (names,
quotes, summaries) is escaped.
"""

from __future__ import annotations

import datetime
import html
import json
import os
import re
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import jinja2
import pandas as pd

from analysis import config
from analysis.files import write_text_atomically

TEMPLATES_DIR = Path(__file__).parent / "templates"
# The shared stylesheet is these files concatenated, in this order.
STYLESHEETS = ("site.css", "index.css")
SCRIPTS = ("site.js",)
ASSETS = "assets"
SITE_NAME = "Employment-based poverty alleviation reports"
PACKAGE = "employment-poverty-analysis"
PROVENANCE_PACKAGES = ("papermill", "nbconvert", "pandas", "pandera", "statsmodels", "seaborn",
                       "matplotlib", "numpy", PACKAGE)
SIMULATED_BANNER = ("Effect estimates on this page use the simulated demonstration panel, not "
                    "official microdata. Published figures are from the cited sources.")
LICENCE_TEXT = ("Code under the MIT licence. Published figures are quoted from public press "
                "releases, each linked to its source; simulated data are not official statistics.")

_environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)


NAMED_PAGES = {config.NATIONAL_UNIT: "national.html", "validation": "validation.html",
               "methods": "methods.html"}
NAVIGATION = (("index.html", "All reports"), ("national.html", "National"),
              ("sources.html", "Sources"), ("methods.html", "Methods"),
              ("validation.html", "Validation"), ("glossary.html", "Glossary"),
              ("replication.html", "Replication"))


def page_name(unit: str) -> str:
    """``national.html``, ``national-<analysis>.html``, ``province-53.html``,
    ``province-53-<analysis>.html``."""
    if unit in NAMED_PAGES:
        return NAMED_PAGES[unit]
    if unit.startswith(f"{config.NATIONAL_UNIT}-"):
        return f"{unit}.html"
    return f"province-{unit}.html"


def navigation_html(current: str = "") -> str:
    links = "".join(
        f"<a href='{href}'{CURRENT_MARK if href == current else ''}>{html.escape(text)}</a>"
        for href, text in NAVIGATION)
    return (f"<header class='site-header'><a class='site-name' href='index.html'>"
            f"{html.escape(SITE_NAME)}</a><nav class='site-nav' aria-label='Site'>{links}</nav>"
            "</header>")


CURRENT_MARK = " aria-current='page'"


def banner_html(simulated: bool = False, failed_notebook: str | None = None) -> str:
    parts = []
    if failed_notebook:
        # The executed notebook is not published with the site: name it for the analysts.
        parts.append(f"<div class='banner failed'>This report failed to build, so its estimates "
                     f"are missing. The analysts' executed notebook, "
                     f"<code>{html.escape(failed_notebook)}</code>, shows what went wrong; the "
                     "details are folded below.</div>")
    if simulated:
        parts.append(f"<div class='banner simulated'>{html.escape(SIMULATED_BANNER)}</div>")
    return "".join(parts)


def build_date(root: Path = config.PROJECT_ROOT) -> str:
    """The date a page states it was built: ``SOURCE_DATE_EPOCH`` when set (the reproducible-
    builds convention), else the date of the checkout's commit, so two builds of the same
    commit give the same pages."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).date().isoformat()
    return _commit_date(Path(root))


@lru_cache(maxsize=4)
def _commit_date(root: Path) -> str:
    # Once per process: a build's workers render many pages of one checkout.
    try:
        return subprocess.run(["git", "log", "-1", "--format=%cs"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip() or "unknown date"
    except (OSError, subprocess.CalledProcessError):
        return "unknown date"


def package_version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def footer_html(provenance: str = "") -> str:
    """Every page's footer: build date, version, licence, how to cite, then the provenance."""
    commit = git_commit()
    return (
        "<footer class='site-footer'><p>"
        f"{html.escape(SITE_NAME)}, version {html.escape(package_version())}, built "
        f"{html.escape(build_date())} from commit <code>{html.escape(commit[:12])}</code>. "
        f"{html.escape(LICENCE_TEXT)} <a href='index.html#cite'>How to cite</a> · "
        "<a href='glossary.html'>Glossary</a> · <a href='replication.html'>Replication</a></p>"
        f"{provenance}</footer>")


def page_html(title: str, body: str, *, current: str = "", simulated: bool = False,
              failed_notebook: str | None = None, provenance: str = "") -> str:
    """One page in the site's shell."""
    return _environment.get_template("page.html.j2").render(
        title=title, site_name=SITE_NAME, assets=ASSETS,
        header=navigation_html(current) + banner_html(simulated, failed_notebook),
        body=body, footer=footer_html(provenance))


def git_commit(root: Path = config.PROJECT_ROOT) -> str:
    """The checkout's commit, marked ``+changes`` when the work tree differs from it (looked up
    once per process: a build's workers render many pages of one checkout)."""
    return _git_commit(Path(root))


@lru_cache(maxsize=4)
def _git_commit(root: Path) -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" +changes" if dirty.strip() else "")


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    versions = {}
    for name in PROVENANCE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance_html(commit: str, input_hashes: dict[str, str], parameters: dict) -> str:
    """Folded details naming the commit, input hashes, package versions and parameters."""
    hashes = "".join(f"<li><code>{html.escape(path)}</code> sha256 "
                     f"<code>{html.escape(digest[:16])}</code></li>"
                     for path, digest in sorted(input_hashes.items()))
    versions = ", ".join(f"{html.escape(name)} {html.escape(version)}"
                         for name, version in package_versions().items())
    params = ", ".join(f"<code>{html.escape(str(key))}={html.escape(repr(value))}</code>"
                       for key, value in sorted(parameters.items())) or "none"
    return (
        "<details class='provenance'><summary>Provenance, for replication</summary>"
        f"<p>Commit <code>{html.escape(commit)}</code>. Parameters: {params}. "
        f"Packages: {versions}.</p><p>Input files ({len(input_hashes)}):</p>"
        f"<ul>{hashes}</ul></details>"
    )


@lru_cache(maxsize=1)
def _page_exporter():
    """One exporter per process: building one compiles its templates (about 0.15 s a page)."""
    # Imported here: nbconvert costs seconds to import, and a build with nothing to run renders
    # no notebook.
    from nbconvert import HTMLExporter

    class PageExporter(HTMLExporter):
        """nbconvert's HTML exporter without its final pass through BeautifulSoup, which took
        half of a page's rendering time (nbconvert 7.17: ``HTMLExporter.from_notebook_node``).

        That pass adds ``alt`` text to images that lack it, makes the cells of JupyterLab
        templates focusable, and writes the whole page out again, which closes the empty anchor
        links of headings: ElementTree writes them as ``<a ... />``, which a browser leaves
        open, hiding the rest of the section. Here the first and the last are done on the
        markup itself (:func:`close_empty_elements`); the "basic" template below is not a
        JupyterLab one. ``tests/test_site.py`` compares the two, and the build's tests and
        browser checks look for open anchors.
        """

        def from_notebook_node(self, nb, resources=None, **kw):
            from nbconvert.exporters.templateexporter import TemplateExporter
            from nbconvert.filters.highlight import Highlight2HTML
            from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

            # What HTMLExporter.from_notebook_node does before its BeautifulSoup pass.
            language = nb.metadata.get("language_info", {})
            lexer = language.get("pygments_lexer", language.get("name", None))
            self.register_filter("highlight_code", self.filters.get(
                "highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self)))
            resources = self._init_resources(resources)
            self.register_filter("filter_data_type", WidgetsDataTypeFilter(
                notebook_metadata=self._nb_metadata, parent=self, resources=resources))
            markup, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
            return close_empty_elements(markup), resources

    # "basic" renders the cells only: no JupyterLab stylesheet (257 KB a page) and no scripts;
    # the page shell around it links the site's own stylesheet.
    # The notebook is validated once, after its preprocessors, not after each of the twelve.
    return PageExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                        exclude_output_prompt=True, anchor_link_text="",
                        optimistic_validation=True)


# Elements a browser reads as complete when written <x ... /> (outside SVG and MathML, where
# the slash always closes the element).
VOID_ELEMENTS = frozenset(("area", "base", "br", "col", "embed", "hr", "img", "input", "link",
                           "meta", "source", "track", "wbr"))
# Comments, CDATA and declarations pass through; a tag's parts: closing slash, name,
# attributes (quoted values may hold ">"), the space before a final slash, the slash.
_MARKUP = re.compile(r"""<!--.*?-->|<!\[CDATA\[.*?\]\]>|<[!?][^>]*>"""
                     r"""|<(/?)([A-Za-z][\w:.-]*)((?:[^<>"']|"[^"]*"|'[^']*')*?)(\s*)(/?)>""",
                     re.S)
# In <a href=x/> the slash ends the unquoted value "x/"; it does not close the element.
_UNQUOTED_VALUE_AT_END = re.compile(r"""=\s*[^\s"'=<>`]+$""")
_QUOTED_VALUE = re.compile(r""""[^"]*"|'[^']*'""")
_ALT = re.compile(r"(?:^|\s)alt(?=[\s=/>]|$)", re.I)
_RAW_TEXT_END = {"script": re.compile(r"</script\s*>", re.I),
                 "style": re.compile(r"</style\s*>", re.I)}
MISSING_ALT = "No description has been provided for this image"


def close_empty_elements(markup: str) -> str:
    """HTML as a browser should read it: ``<x ... />`` becomes ``<x ...></x>`` for every
    element that is not void, outside SVG and MathML; an ``<img>`` without ``alt`` gets
    nbconvert's placeholder text (:data:`MISSING_ALT`). Comments, scripts and styles are left
    alone."""
    pieces, position, foreign = [], 0, 0
    while match := _MARKUP.search(markup, position):
        pieces.append(markup[position:match.start()])
        position = match.end()
        if match.group(2) is None:  # a comment, CDATA or declaration
            pieces.append(match.group(0))
            continue
        closing, name, attributes, space, slash = match.groups()
        if slash and not space and _UNQUOTED_VALUE_AT_END.search(attributes):
            attributes, slash = attributes + slash, ""
        tag, element = match.group(0), name.lower()
        if element in ("svg", "math"):
            foreign = max(foreign - 1, 0) if closing else foreign + (not slash)
        elif not closing and not foreign:
            if element == "img" and not _ALT.search(_QUOTED_VALUE.sub('""', attributes)):
                tag = f'<{name}{attributes} alt="{MISSING_ALT}"{space}{slash}>'
            if slash and element not in VOID_ELEMENTS:
                tag = f"<{name}{attributes}></{name}>"
        pieces.append(tag)
        if element in _RAW_TEXT_END and not closing and not slash:
            end = _RAW_TEXT_END[element].search(markup, position)
            stop = end.start() if end else len(markup)
            pieces.append(markup[position:stop])
            position = stop
    pieces.append(markup[position:])
    return "".join(pieces)


_FIRST_H1 = re.compile(r"<h1[^>]*>.*?</h1>", re.S)


def notebook_body(notebook_path: Path) -> str:
    """An executed notebook's outputs and narrative as HTML, without code cells and without
    the notebook's own first heading (the page shell's title replaces it)."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    body, _ = _page_exporter().from_notebook_node(notebook)
    return fold_tracebacks(without_first_heading(body))


def without_first_heading(body: str) -> str:
    """The body without its first ``<h1>``: the page shell's title replaces it."""
    return _FIRST_H1.sub("", body, count=1)


_ERROR_OUTPUT = re.compile(r'(<div class="output_subarea output_text output_error">)')


def fold_tracebacks(body: str) -> str:
    """A failed cell's traceback, folded under a sentence: readers see that the report failed
    (the banner says so), analysts open the details."""
    from bs4 import BeautifulSoup

    if not _ERROR_OUTPUT.search(body):
        return body
    soup = BeautifulSoup(body, "html.parser")
    for output in soup.select("div.output_error"):
        folded = soup.new_tag("details", attrs={"class": "technical"})
        summary = soup.new_tag("summary")
        summary.string = "What went wrong, for the analysts who maintain this report"
        output.wrap(folded)
        folded.insert(0, summary)
    return str(soup)


def render_notebook(notebook_path: Path, html_path: Path, title: str, *, simulated: bool = False,
                    failed_notebook: str | None = None, provenance: str = "") -> None:
    """Render an executed notebook as a site page without code cells."""
    from analysis.reports import glossary

    body = glossary.link_first_uses(notebook_body(notebook_path))
    write_text_atomically(html_path, page_html(
        title, body, current=html_path.name, simulated=simulated,
        failed_notebook=failed_notebook, provenance=provenance))


def render_page(path: Path, title: str, body: str, *, simulated: bool = False,
                provenance: str = "") -> None:
    """A site page that is not a notebook (index, sources, glossary, replication)."""
    write_text_atomically(path, page_html(title, body, current=path.name, simulated=simulated,
                                          provenance=provenance))


def write_assets(site_dir: Path) -> None:
    """The one stylesheet and script every page links (``assets/site.css``, ``site.js``)."""
    folder = Path(site_dir) / ASSETS
    css = "\n".join((TEMPLATES_DIR / name).read_text(encoding="utf-8")
                     for name in STYLESHEETS if (TEMPLATES_DIR / name).exists())
    write_text_atomically(folder / "site.css", css)
    js = "\n".join((TEMPLATES_DIR / name).read_text(encoding="utf-8")
                    for name in SCRIPTS if (TEMPLATES_DIR / name).exists())
    write_text_atomically(folder / "site.js", js)


def data_href(unit_id: str, name: str) -> str:
    """Where a page links the CSV of its table or chart ``name`` (relative to the site)."""
    return f"data/{unit_id}/{name}.csv"


def write_table_csvs(tables: dict[str, list[dict]], folder: Path) -> list[Path]:
    """One CSV per recorded table, from the results JSON the page was rendered from, so a
    download and the page cannot disagree."""
    written = []
    for name, records in tables.items():
        columns = list(dict.fromkeys(key for record in records for key in record))
        # object dtype: integers stay integers where a column also holds missing values
        frame = pd.DataFrame(records, columns=columns, dtype=object)
        written.append(write_csv(frame, Path(folder) / f"{name}.csv"))
    return written


def write_csv(table: pd.DataFrame, path: Path) -> Path:
    """A table as a site download: cells holding package markup (links) keep their text only,
    lists and mappings are written as JSON, missing values as empty cells."""
    plain = table.map(lambda cell: _plain_cell(cell) if isinstance(cell, (str, list, dict))
                      else cell)
    write_text_atomically(Path(path), plain.to_csv(index=False, lineterminator="\n"))
    return Path(path)


def write_unit_data(results_path: Path, site_dir: Path, unit_id: str) -> list[Path]:
    """The CSVs of one unit's tables and charts, from its results JSON."""
    if not Path(results_path).exists():
        return []
    recorded = json.loads(Path(results_path).read_text(encoding="utf-8"))
    folder = (Path(site_dir) / data_href(unit_id, "-")).parent
    return write_table_csvs(recorded.get("tables", {}), folder)


_TAG = re.compile(r"<[^>]+>")


def _plain_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    text = str(value)
    return html.unescape(_TAG.sub("", text)) if "<" in text else text


