"""The glossary: every term is used somewhere, defined in words, and linked at its first use on a
page, never inside headings, links, code, charts or table headers."""

import re
from functools import lru_cache

import pytest

from analysis import config
from analysis.reports import glossary


@lru_cache(maxsize=1)
def _corpus() -> str:
    """What pages can show: the package's sentences (its code, outside the glossary), the
    notebooks, and the ledger the figure tables quote. Built pages are not read: the test must
    give the same answer on a fresh clone."""
    paths = [path for path in (config.PROJECT_ROOT / "analysis").rglob("*.py")
             if path.name != "glossary.py"]
    paths += sorted(config.NOTEBOOKS_DIR.glob("*.py"))
    paths += [config.LEDGER_CSV]
    return "\n".join(path.read_text(encoding="utf-8") for path in paths)


def test_terms_have_unique_slugs_definitions_and_forms():
    slugs = [term.slug for term in glossary.TERMS]
    assert len(slugs) == len(set(slugs))
    assert len(glossary.TERMS) >= 30
    for term in glossary.TERMS:
        assert re.fullmatch(r"[a-z0-9-]+", term.slug), term.slug
        assert term.name.strip() and term.forms, term.slug
        assert len(term.definition.split()) >= 8, f"{term.slug}: define it in a sentence"
        assert term.definition.rstrip().endswith((".", ")")), term.slug


def test_the_required_terms_are_defined():
    names = " ".join(f"{term.name} {' '.join(term.forms)}" for term in glossary.TERMS)
    for required in ("ATT", "ATE", "AIPW", "IPW", "TWFE", "event study", "Callaway-Sant'Anna",
                     "difference-in-differences", "parallel trends", "pre-trend test",
                     "SMD", "propensity score", "overlap", "covariate balance",
                     "planted effect", "simulated data", "confidence interval",
                     "simultaneous band", "p-value", "standard error",
                     "clustered standard errors", "wild cluster bootstrap", "score bootstrap",
                     "clusters", "empirical Bayes", "Holm", "Benjamini-Hochberg",
                     "Rambachan", "breakdown value", "robustness value", "percentage points",
                     "person-year", "registered poor household", "poor laborers",
                     "working away from home", "public-welfare post",
                     "poverty-alleviation workshop", "organized labor export",
                     "vocational skills training", "stable employment"):
        assert required.lower() in names.lower(), required


@pytest.mark.parametrize("term", glossary.TERMS, ids=lambda term: term.slug)
def test_every_term_is_used(term):
    """A term earns its entry when a page can use it: at least one of its forms (singular,
    plural, acronym) is written by the package or quoted from the ledger."""
    corpus = _corpus()
    used = [form for form in term.forms
            if re.search(r"(?<![\w-])" + re.escape(form).replace("'", "(?:'|&#x27;)")
                         + r"(?![\w-])", corpus, 0 if term.case_sensitive else re.I)]
    assert used, f"{term.slug}: none of {term.forms} is used by any page"


def test_only_the_first_use_is_linked():
    body = ("<p>The ATT is an average. Another ATT here.</p>"
            "<p>Standard errors are clustered by county; the standard error is small.</p>")
    linked = glossary.link_first_uses(body)
    assert linked.count("glossary.html#att") == 1
    assert linked.index("glossary.html#att") < linked.index("is an average")
    assert linked.count("glossary.html#standard-error") == 1
    assert "glossary.html#clustered-standard-errors" in linked


def test_headings_links_code_charts_and_table_headers_are_never_linked():
    body = ("<h2>The ATT</h2><a href='x'>ATT</a><code>ATT</code>"
            "<svg><title>ATT</title><text>ATT</text></svg><details><summary>ATT</summary>"
            "</details><table><thead><tr><th>ATT</th></tr></thead><tbody><tr><td>x</td></tr>"
            "</tbody></table><p>Here the ATT.</p>")
    linked = glossary.link_first_uses(body)
    assert linked.count("glossary.html#att") == 1
    assert linked.endswith("<p>Here the <a class='term' href='glossary.html#att'>ATT</a>.</p>")


def test_acronyms_are_case_sensitive_and_phrases_whole():
    linked = glossary.link_first_uses("<p>Those who did not; the att; R did; tattoo; DiD.</p>")
    assert linked.count("glossary.html#difference-in-differences") == 1
    assert ">DiD</a>" in linked and "glossary.html#att" not in linked


def test_the_longest_phrase_wins_at_one_position_and_entities_match():
    linked = glossary.link_first_uses(
        "<p>Covariate balance and covariates; Callaway-Sant&#x27;Anna.</p>")
    assert ">Covariate balance</a>" in linked and ">covariates</a>" in linked
    assert ">Callaway-Sant&#x27;Anna</a>" in linked


def test_the_glossary_page_has_one_entry_per_term_with_its_anchor():
    body = glossary.glossary_body()
    for term in glossary.TERMS:
        assert body.count(f"id='{term.slug}'") == 1
    assert "<script" not in body
