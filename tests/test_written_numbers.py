import math

import pytest

from analysis.data.written_numbers import UnreadableNumberError, parse_written_number


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("32.43 million", 32_430_000),
        ("15.27 million", 15_270_000),
        ("440,000", 440_000),
        ("437 thousand", 437_000),
        ("9,986", 9_986),
        ("93.8%", 93.8),
        ("3.66%", 3.66),
        ("108.9%", 108.9),
        ("2/3", 2 / 3),
        ("two-thirds", 2 / 3),
        ("Five", 5),
        ("half", 0.5),
        ("13", 13),
        ("1,000", 1_000),
    ],
)
def test_reads_numbers_as_the_sources_write_them(written, expected):
    assert math.isclose(parse_written_number(written), expected, rel_tol=1e-12)


@pytest.mark.parametrize("written", ["", "%", "about 10", "1,00", "ten million and a half"])
def test_refuses_what_it_cannot_read(written):
    with pytest.raises(UnreadableNumberError, match="cannot read"):
        parse_written_number(written)
