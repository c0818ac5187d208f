"""English text normalisation before synthesis: what a reader says for what is written. Voices read letters,
not symbols: "Dr. Smith paid $12.50 on 2026-11-28 at 10:30, 3rd time, 25%" becomes "Doctor Smith paid twelve
dollars and fifty cents on November twenty-eighth, twenty twenty-six at ten thirty, third time, twenty-five
percent". Numbers are spelled by num2words (cardinals, ordinals, years); the patterns here only find them.
"""

from __future__ import annotations

import re

from num2words import num2words

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
# abbreviations read as words; "St." is read "Saint" before a capitalised name and "Street" otherwise
ABBREVIATIONS = {
    "Dr.": "Doctor",
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Prof.": "Professor",
    "Jr.": "Junior",
    "Sr.": "Senior",
    "vs.": "versus",
    "etc.": "et cetera",
    "e.g.": "for example",
    "i.e.": "that is",
    "approx.": "approximately",
    "No.": "number",
    "Mt.": "Mount",
    "Ave.": "Avenue",
}
UNITS = {
    "%": "percent",
    "km": "kilometres",
    "kg": "kilograms",
    "cm": "centimetres",
    "mm": "millimetres",
    "kHz": "kilohertz",
    "Hz": "hertz",
    "MB": "megabytes",
    "GB": "gigabytes",
    "ms": "milliseconds",
    "min": "minutes",
    "h": "hours",
    "s": "seconds",
    "m": "metres",
    "g": "grams",
}
CURRENCIES = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny")}

_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_SLASH_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b")  # month/day/year, US order
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})(?:\s*([ap])\.?m\.?)?(?=\W|$)", re.IGNORECASE)
_MONEY = re.compile(r"([$€£])\s?(\d[\d,]*)(?:\.(\d{2}))?\b")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_UNIT = re.compile(
    r"\b(\d+(?:\.\d+)?)\s?(" + "|".join(sorted(map(re.escape, UNITS), key=len, reverse=True)) + r")(?=\W|$)"
)
_YEAR = re.compile(r"\b(1[1-9]\d{2}|20\d{2})\b(?!\s*(?:" + "|".join(map(re.escape, UNITS)) + r")\b)")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?![\w])")
_SAINT = re.compile(r"\bSt\.(?=\s+[A-Z])")


def _cardinal(digits: str) -> str:
    value = digits.replace(",", "")
    return num2words(float(value) if "." in value else int(value))


def _plural(count: int, word: str) -> str:
    if count == 1:
        return word
    return "pence" if word == "penny" else f"{word}s"


def _money(match: re.Match) -> str:
    major_name, minor_name = CURRENCIES[match.group(1)]
    major = int(match.group(2).replace(",", ""))
    minor = int(match.group(3) or 0)
    words = f"{num2words(major)} {_plural(major, major_name)}"
    return f"{words} and {num2words(minor)} {_plural(minor, minor_name)}" if minor else words


def _date(year: int, month: int, day: int, original: str) -> str:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return original
    return f"{MONTHS[month - 1]} {num2words(day, to='ordinal')}, {num2words(year, to='year')}"


def _time(match: re.Match) -> str:
    hours, minutes, half = int(match.group(1)), int(match.group(2)), match.group(3)
    if hours > 24 or minutes > 59:
        return match.group(0)
    spoken = num2words(hours) + (
        ""
        if minutes == 0 and half
        else " o'clock"
        if minutes == 0
        else f" oh {num2words(minutes)}"
        if minutes < 10
        else f" {num2words(minutes)}"
    )
    return f"{spoken} {half.lower()} m" if half else spoken


def _unit(match: re.Match) -> str:
    number, unit = match.group(1), match.group(2)
    word = UNITS[unit]
    if number in ("1", "1.0") and word.endswith("s") and word != "percent":
        word = word[:-1]
    return f"{_cardinal(number)} {word}"


def normalise(text: str) -> str:
    text = _SAINT.sub("Saint", text)
    for abbreviation, spoken in ABBREVIATIONS.items():
        text = re.sub(rf"(?<!\w){re.escape(abbreviation)}", spoken, text)
    text = re.sub(r"\bSt\.(\s*)$", r"Street.\1", text).replace("St.", "Street").replace("&", " and ")
    text = _ISO_DATE.sub(lambda m: _date(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(0)), text)
    text = _SLASH_DATE.sub(lambda m: _date(int(m.group(3)), int(m.group(1)), int(m.group(2)), m.group(0)), text)
    text = _TIME.sub(_time, text)
    text = _MONEY.sub(_money, text)
    text = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), to="ordinal"), text)
    text = _UNIT.sub(_unit, text)
    text = _YEAR.sub(lambda m: num2words(int(m.group(1)), to="year"), text)
    text = _NUMBER.sub(lambda m: _cardinal(m.group(0)), text)
    return " ".join(text.split())
