"""HTML rendering: unit pages from executed notebooks, the index, the sources page, provenance.

Pages are self-contained: CSS is inlined, figures are embedded as data URIs, and the nbconvert
template used here (``templates/offline``) drops the scripts the stock template loads from public
CDNs. Text that comes from data (names, quotes, summaries) is escaped.
"""

from __future__ import annotations

import html
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import jinja2

from analysis import config
from analysis.files import write_text_atomically

TEMPLATES_DIR = Path(__file__).parent / "templates"
SITE_CSS = (TEMPLATES_DIR / "site.css").read_text(encoding="utf-8")
PROVENANCE_PACKAGES = ("papermill", "nbconvert", "pandas", "pandera", "statsmodels", "seaborn",
                       "matplotlib", "numpy", "employment-poverty-analysis")
SIMULATED_BANNER = ("Effect estimates on this page use the simulated demonstration panel, not "
                    "official microdata. Published figures are from the cited sources.")

_environment = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True)


@dataclass(frozen=True)
class UnitPage:
    """What the index needs to know about one unit's page."""

    unit: str
    title: str
    status: str  # "ok" or "failed"
    summary: str
    page: str  # file name inside the site folder
    notebook: str  # path of the executed notebook, relative to the site folder
    seconds: float | None = None
    cached: bool = False


NAMED_PAGES = {config.NATIONAL_UNIT: "national.html", "validation": "validation.html",
               "methods": "methods.html"}


def page_name(unit: str) -> str:
    """``national.html``, ``national-<analysis>.html``, ``province-53.html``,
    ``province-53-<analysis>.html``."""
    if unit in NAMED_PAGES:
        return NAMED_PAGES[unit]
    if unit.startswith(f"{config.NATIONAL_UNIT}-"):
        return f"{unit}.html"
    return f"province-{unit}.html"


def navigation_html() -> str:
    links = [("index.html", "All reports"), ("national.html", "National"),
             ("sources.html", "Sources"), ("methods.html", "Methods"),
             ("validation.html", "Validation"), ("replication.html", "Replication")]
    return ("<nav class='site-nav'>" +
            "".join(f"<a href='{href}'>{html.escape(text)}</a>" for href, text in links) +
            "</nav>")


def banner_html(simulated: bool = False, failed_notebook: str | None = None) -> str:
    parts = []
    if failed_notebook:
        link = html.escape(failed_notebook, quote=True)
        parts.append(f"<div class='banner failed'>This report failed to build. The error is shown "
                     f"below where it occurred; the executed notebook is "
                     f"<a href='{link}'>{html.escape(failed_notebook)}</a>.</div>")
    if simulated:
        parts.append(f"<div class='banner simulated'>{html.escape(SIMULATED_BANNER)}</div>")
    return "".join(parts)


def git_commit(root: Path = config.PROJECT_ROOT) -> str:
    """The checkout's commit, marked ``+changes`` when the work tree differs from it."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + (" +changes" if dirty.strip() else "")


def package_versions() -> dict[str, str]:
    versions = {}
    for name in PROVENANCE_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def provenance_html(commit: str, input_hashes: dict[str, str], parameters: dict) -> str:
    """Footer naming the commit, input hashes, package versions and parameters of a page."""
    hashes = "".join(f"<li><code>{html.escape(path)}</code> sha256 "
                     f"<code>{html.escape(digest[:16])}</code></li>"
                     for path, digest in sorted(input_hashes.items()))
    versions = ", ".join(f"{html.escape(name)} {html.escape(version)}"
                         for name, version in package_versions().items())
    params = ", ".join(f"{html.escape(str(key))}={html.escape(repr(value))}"
                       for key, value in sorted(parameters.items())) or "none"
    return (
        "<footer class='provenance'><strong>Provenance.</strong> "
        f"Commit <code>{html.escape(commit)}</code>. Parameters: {params}. "
        f"Packages: {versions}.<details><summary>Input files ({len(input_hashes)})</summary>"
        f"<ul>{hashes}</ul></details></footer>"
    )


@lru_cache(maxsize=1)
def _page_exporter():
    """One exporter per process: building one compiles its templates (about 0.15 s a page)."""
    # Imported here: nbconvert costs seconds to import, and a build with nothing to run renders
    # no notebook.
    from nbconvert import HTMLExporter

    return HTMLExporter(template_name="offline", extra_template_basedirs=[str(TEMPLATES_DIR)],
                        exclude_input=True, exclude_input_prompt=True,
                        exclude_output_prompt=True)


def render_notebook(notebook_path: Path, html_path: Path, header: str, footer: str) -> None:
    """Render an executed notebook to a self-contained page without code cells."""
    import nbformat

    notebook = nbformat.read(notebook_path, as_version=4)
    body, _ = _page_exporter().from_notebook_node(notebook, resources={
        "site_css": SITE_CSS, "site_header": header, "site_footer": footer})
    write_text_atomically(html_path, body)


def render_page(path: Path, title: str, body: str, header: str, footer: str) -> None:
    """A site page that is not a notebook (index, sources)."""
    page = _environment.get_template("page.html.j2").render(
        title=title, body=body, header=header, footer=footer, css=SITE_CSS)
    write_text_atomically(path, page)


def index_body(pages: list[UnitPage], simulated: bool, matrix_html: str = "") -> str:
    rows = []
    for page in pages:
        status_class = "status-failed" if page.status == "failed" else "status-ok"
        status = html.escape(page.status)
        if page.status == "failed":
            status += f" (<a href='{html.escape(page.notebook, quote=True)}'>notebook</a>)"
        rows.append(
            f"<tr><td><a href='{html.escape(page.page, quote=True)}'>{html.escape(page.title)}"
            f"</a></td><td class='{status_class}'>{status}</td>"
            f"<td>{html.escape(page.summary)}</td></tr>")
    intro = ("<p>Reproducible reports on China's employment-based poverty alleviation: the "
             "officially published figures, each traced to the sentence it was read from, "
             "for the nation and for each province.</p>")
    if simulated:
        intro += f"<p class='banner simulated'>{html.escape(SIMULATED_BANNER)}</p>"
    table = ("<table class='site-table'><thead><tr><th>Report</th><th>Status</th>"
             "<th>Summary</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return (intro + matrix_html + "<h2>Pages</h2>" + table
            + "<p>See also: <a href='sources.html'>the source documents</a>.</p>")


def highlight_quotes(text: str, quotes: list[tuple[str, str]]) -> str:
    """Escape a source document and mark each (figure_id, quote) where it occurs."""
    paragraphs = [re.sub(r"\s+", " ", block).strip() for block in re.split(r"\n\s*\n", text)]
    rendered = []
    for paragraph in filter(None, paragraphs):
        marked = html.escape(paragraph)
        for figure_id, quote in quotes:
            escaped_quote = html.escape(re.sub(r"\s+", " ", quote).strip())
            if escaped_quote and escaped_quote in marked and f'id="{figure_id}"' not in marked:
                marked = marked.replace(
                    escaped_quote,
                    f'<mark id="{html.escape(figure_id, quote=True)}" '
                    f'title="{html.escape(figure_id, quote=True)}">{escaped_quote}</mark>', 1)
        rendered.append(f"<p>{marked}</p>")
    return "".join(rendered)


def sources_body(sources, figures, sources_dir: Path) -> str:
    sections = []
    for source in sources.itertuples():
        own = figures[figures["source_id"] == source.source_id]
        quotes = list(zip(own["figure_id"], own["quote"]))
        text = (sources_dir / source.file).read_text(encoding="utf-8")
        date = source.published.date().isoformat()
        inferred = " (year inferred from the text)" if source.published_inferred else ""
        sections.append(
            f"<section id='{html.escape(source.source_id, quote=True)}'>"
            f"<h2>{html.escape(source.title)}</h2><p><strong>{html.escape(source.publisher)}"
            f"</strong>, {date}{inferred}. {html.escape(source.date_basis)} "
            f"{len(own)} ledger figures; highlighted below.</p>"
            f"<div class='source-text'>{highlight_quotes(text, quotes)}</div></section>")
    return ("<p>The five source documents, verbatim (machine translations of Chinese press "
            "releases, errors included). Each highlighted passage is the quote of a ledger "
            "figure; figure tables on the report pages link here.</p>" + "".join(sections))
