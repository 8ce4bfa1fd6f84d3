"""Read a number the way a press release writes it ("32.43 million", "93.8%", "2/3", "Five").

The ledger stores both the number as written in the quote and its value in base units; this
module is the single rule that links the two, so a typo in either is caught by validation.
"""

from __future__ import annotations

import re

SCALE_WORDS = {"thousand": 1e3, "million": 1e6, "billion": 1e9}

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "half": 0.5, "one-third": 1 / 3, "two-thirds": 2 / 3,
}

_NUMERAL = re.compile(
    r"^(?P<number>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<decimals>\d+))?"
    r"(?:\s+(?P<scale>thousand|million|billion))?\s*(?P<percent>%)?$"
)
_FRACTION = re.compile(r"^(?P<numerator>\d+)\s*/\s*(?P<denominator>\d+)$")


class UnreadableNumberError(ValueError):
    """Raised when a written number follows none of the forms this module reads."""


def parse_written_number(text: str) -> float:
    """Return the value in base units of a number written as in the sources.

    Examples: ``"32.43 million"`` -> 32_430_000, ``"440,000"`` -> 440_000, ``"93.8%"`` -> 93.8,
    ``"2/3"`` -> 0.666..., ``"Five"`` -> 5, ``"two-thirds"`` -> 0.666...
    """
    stripped = text.strip()
    if stripped.lower() in NUMBER_WORDS:
        return float(NUMBER_WORDS[stripped.lower()])
    fraction = _FRACTION.match(stripped)
    if fraction:
        return int(fraction["numerator"]) / int(fraction["denominator"])
    numeral = _NUMERAL.match(stripped)
    if not numeral:
        raise UnreadableNumberError(
            f"cannot read {text!r} as a number: expected digits with optional thousands commas, "
            "decimals, a scale word (thousand/million/billion) or '%', a fraction like '2/3', "
            f"or one of the words {sorted(NUMBER_WORDS)}"
        )
    whole = numeral["number"].replace(",", "")
    value = float(f"{whole}.{numeral['decimals'] or 0}")
    return value * SCALE_WORDS.get(numeral["scale"] or "", 1.0)
