"""The program x outcome matrices: cells from the units' records, injected idempotently."""

from analysis.estimators.spec import AnalysisSpec
from analysis.reports import matrix


def _result(unit_id, program, outcome, estimate, low, high, unit="percentage points",
            status="ok"):
    spec = AnalysisSpec(program=program, outcome=outcome).to_dict()
    headline = {"estimate": estimate / 100, "unit": unit,
                "shown": {"estimate": estimate, "ci_low": low, "ci_high": high}}
    return matrix.UnitResult(unit_id, "53", spec["name"], status, f"province-{unit_id}.html",
                             headline, spec)


def test_cells_show_the_recorded_estimate_in_reader_units():
    cell = matrix.cell_text(_result("53", "training", "stable_employment", 8.24, 2.04, 14.4))
    assert cell == "+8.2 pp [2.0 to 14.4]"
    wage = _result("53-x", "workshop_job", "wage_income", -154.4, -6808, 6500, unit="yuan")
    assert matrix.cell_text(wage) == "-154 yuan [-6,808 to 6,500]"
    failed = _result("53-y", "training", "months_worked", 0, 0, 0, status="failed")
    assert matrix.cell_text(failed) == "failed"


def test_scope_matrix_puts_each_analysis_in_its_program_row_and_outcome_column():
    results = [_result("53", "training", "stable_employment", 8.2, 2.0, 14.4),
               _result("53-a", "public_welfare_post", "wage_income", -3000, -4000, -2000,
                       unit="yuan")]
    html = matrix.scope_matrix_html(results)
    assert html.index("Vocational skills training") < html.index("Public-welfare post")
    assert "province-53-a.html" in html and "-3,000 yuan" in html
    assert html.count("<tr>") == 3  # header + two programs


def test_injection_replaces_the_placeholder_and_can_be_repeated(tmp_path):
    page = tmp_path / "province-53.html"
    page.write_text(f"<p>before</p>{matrix.MATRIX_START}<p>placeholder</p>{matrix.MATRIX_END}")
    assert matrix.inject_matrix(page, "<table>one</table>")
    assert matrix.inject_matrix(page, "<table>two</table>")
    text = page.read_text()
    assert "placeholder" not in text and "one" not in text and text.count("two") == 1
    assert not matrix.inject_matrix(tmp_path / "missing.html", "x")


def test_scope_cells_say_no_clear_effect_when_the_interval_includes_zero():
    clear = _result("53", "training", "stable_employment", 8.24, 2.04, 14.4)
    assert matrix.scope_cell_text(clear) == "+8.2 pp [2.0 to 14.4]"
    unclear = _result("53-x", "workshop_job", "wage_income", -154.4, -6808, 6500, unit="yuan")
    assert matrix.scope_cell_text(unclear) == "no clear effect: -154 yuan [-6,808 to 6,500]"
    html = matrix.scope_matrix_html([clear, unclear])
    assert "no clear effect: -154 yuan" in html and "no clear effect: +8.2" not in html
