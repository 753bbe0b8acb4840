"""Date expressions in customer messages: which spans are dates, and their ISO value.

`find_dates` takes candidate spans (spaCy's DATE entities), adds the forms spaCy does not tag ("on
03/12/2026"), and keeps those `normalise` reads. `normalise` turns a span into a point date ("YYYY-MM-DD")
or an ISO 8601 duration ("P3W"), relative to a reference day (UTC), or says it is not a date (None). It
accepts a short grammar, matched on the whole span:

- relative days: "today", "yesterday", "tomorrow", "the day before yesterday";
- weekdays: "friday", "on friday", "last friday" (the one before today), "next friday" (the one after
  today), "this friday" (in this Monday-to-Sunday week);
- "3 days ago", "a week ago", "two months ago" (number words up to ninety-nine, "a couple of");
- calendar days: "march 3rd", "3 march", "the 3rd of march", "3/12", "03/12/26", "03.12.2026" (day before
  month, as in the UK), "2026-12-03", "the 3rd", "christmas eve", "boxing day", "new year's day";
- periods: "last week", "this week", "next week" are the week's Monday; "last/this/next month" its 1st,
  "last/this/next year" its 1 January (the value's `grain` says which);
- durations: "3 weeks", "two days", "a month", "10 days", "a fortnight", "the last 3 days", "30-day".

A day that does not say which one it is ("friday", "march 3rd", "3/12", "the 3rd", "christmas eve") is
the most recent one, today included: customers mostly tell us when they ordered, paid or expected a
parcel. After "by", "before", "until", "till" or "for" it is the coming one, today included ("arrive by
friday", "before christmas"); `find_dates` reads that word, `normalise` takes it as `ahead`.

Not dates: bare numbers ("48213"), colours, a unit alone ("weeks"), a month alone ("in march", too vague
for a day), vague amounts ("a few days"), clock times, and named days we do not turn into a date
(`NOT_DATES`): Black Friday and Cyber Monday name sales, and Easter moves every year.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from dateutil.relativedelta import relativedelta

ONES = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
DIGITS = {word: value for word, value in ONES.items() if value < 10}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70}
TENS |= {"eighty": 80, "ninety": 90}
WEEKDAYS = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}
MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
HOLIDAYS = {
    "christmas eve": (12, 24), "christmas": (12, 25), "christmas day": (12, 25), "boxing day": (12, 26),
    "new year's eve": (12, 31), "new years eve": (12, 31), "new year's day": (1, 1), "new years day": (1, 1),
}  # fmt: skip
RELATIVE_DAYS = {
    "today": 0, "tomorrow": 1, "yesterday": -1, "the day before yesterday": -2, "day before yesterday": -2,
    "the day after tomorrow": 2, "day after tomorrow": 2,
}  # fmt: skip
# Unit word -> (how many of the ISO unit, ISO 8601 designator).
UNITS = {"day": (1, "D"), "week": (1, "W"), "fortnight": (2, "W"), "month": (1, "M"), "year": (1, "Y")}
GRAINS = {"D": "day", "W": "week", "M": "month", "Y": "year"}
# Named days that end in a weekday spaCy tags on its own ("black [friday]"): not a date.
NOT_DATES = ("black friday", "cyber monday", "good friday", "easter monday")
# The word before an undated day that makes it the coming one rather than the last one.
AHEAD_CUES = ("by", "before", "until", "till", "for")
# Words before a day and month alone ("on 3/12") that make them a date.
DATE_CUES = ("on", "since", "from", "by", "until", "till", "before", "after")


def _alternatives(words: Iterable[str]) -> str:
    """A regex alternation, longest first (the regexes run on lower-cased text)."""
    return "|".join(sorted((re.escape(w) for w in words), key=len, reverse=True))


TENS_AND_DIGIT = rf"(?:{_alternatives(TENS)})(?:[- ](?:{_alternatives(DIGITS)}))?"
NUMBER = rf"\d{{1,3}}|a couple of|an?|{TENS_AND_DIGIT}|{_alternatives(ONES)}"
UNIT = rf"(?:{_alternatives(UNITS)})s?"
MONTH = _alternatives(MONTHS)
DAY_OF = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
YEAR = r"(?:,? (?P<year>\d{4}))?"
YEAR_NUMBER = r"(?P<year>\d{4}|\d{2})"


@dataclass(frozen=True)
class DateValue:
    """A normalised date expression: an ISO date ("2026-03-03") or an ISO 8601 duration ("P3W")."""

    value: str
    kind: Literal["date", "duration"]
    grain: str  # a date's precision ("day", or "week" for "last week") or a duration's unit


@dataclass(frozen=True)
class FoundDate:
    """A date expression found in a text, with its character offsets."""

    start: int
    end: int
    text: str
    date: DateValue


def number_value(words: str) -> int | None:
    """The number in "3", "a", "a couple of", "twelve" or "twenty-one"; None for anything else."""
    words = " ".join(words.lower().replace("-", " ").split())
    if words.isdigit():
        return int(words)
    if words in ("a", "an"):
        return 1
    if words == "a couple of":
        return 2
    if words in ONES or words in TENS:
        return ONES.get(words) or TENS[words]
    tens, _, digit = words.partition(" ")
    if tens in TENS and digit in DIGITS:
        return TENS[tens] + DIGITS[digit]
    return None


def reference_day(reference: dt.date) -> dt.date:
    """The UTC day of a reference datetime (a naive one is taken as UTC), or the date itself."""
    if isinstance(reference, dt.datetime):
        if reference.tzinfo is not None:
            reference = reference.astimezone(dt.timezone.utc)
        return reference.date()
    return reference


def normalise(text: str, reference: dt.date, *, ahead: bool = False) -> DateValue | None:
    """The ISO value of a date expression relative to `reference` (a datetime is read in UTC).

    `ahead`: an undated day ("friday", "3/12") is the coming one instead of the most recent one.
    """
    phrase = " ".join(text.lower().replace("\u2019", "'").split()).strip(".,!?")
    phrase = phrase.removeprefix("on ")
    today = reference_day(reference)
    for pattern, read in GRAMMAR:
        match = pattern.fullmatch(phrase)
        if match:
            try:
                return read(match, today, ahead)
            except (ValueError, OverflowError):  # a day that does not exist ("31/02"), or out of range
                return None
    return None


def find_dates(text: str, spans: Iterable[tuple[int, int]], reference: dt.date) -> list[FoundDate]:
    """The date expressions among candidate spans (spaCy's DATE entities) and the forms spaCy misses.

    Overlapping finds are all returned, in order of position; the caller keeps the longest.
    """
    missed = {(m.start("date"), m.end("date")) for regex in MISSED_BY_NER for m in regex.finditer(text)}
    found = []
    for start, end in sorted({*spans, *missed}):
        if _ends_named_day(text, start, end):
            continue
        word_before = re.search(r"(\w+)\W*$", text[:start])
        ahead = word_before is not None and word_before.group(1).lower() in AHEAD_CUES
        date = normalise(text[start:end], reference, ahead=ahead)
        if date is not None:
            found.append(FoundDate(start, end, text[start:end], date))
    return found


def _ends_named_day(text: str, start: int, end: int) -> bool:
    """Whether the span ends a name in `NOT_DATES` ("friday" in "black friday sale")."""
    name = NAMED_DAY.search(text[:end])
    return name is not None and name.start() <= start


def _date(day: dt.date, grain: str = "day") -> DateValue:
    return DateValue(day.isoformat(), "date", grain)


def _delta(match: re.Match[str]) -> tuple[int, str]:
    """(number of ISO units, ISO 8601 designator) of "two fortnights": (4, "W")."""
    count = number_value(match["number"])
    if count is None:
        raise ValueError(f"not a number: {match['number']}")
    size, designator = UNITS[match["unit"].removesuffix("s")]
    return count * size, designator


def _undated(
    build: Callable[[dt.date], dt.date], today: dt.date, ahead: bool, step: relativedelta
) -> dt.date:
    """The most recent day `build` makes in today's period or an earlier one (the coming one, `ahead`).

    `build` makes the day in the month or year of the date it is given, and raises ValueError where there
    is none (the 31st in April, 29 February 2027). Nine periods reach a leap year from any year.
    """
    for count in range(9):
        try:
            day = build(today + step * count if ahead else today - step * count)
        except ValueError:
            continue
        if (day >= today) if ahead else (day <= today):
            return day
    raise ValueError("no such day")


def _day_of_year(month: int, day: int, year: str | None, today: dt.date, ahead: bool) -> DateValue:
    if year:
        return _date(dt.date(int(year), month, day))

    def in_year_of(anchor: dt.date) -> dt.date:
        return dt.date(anchor.year, month, day)

    return _date(_undated(in_year_of, today, ahead, relativedelta(years=1)))


def _relative_day(match: re.Match[str], today: dt.date, ahead: bool) -> DateValue:
    return _date(today + dt.timedelta(days=RELATIVE_DAYS[match[0]]))


def _weekday(match: re.Match[str], today: dt.date, ahead: bool) -> DateValue:
    weekday, which = WEEKDAYS[match["weekday"]], match["which"]
    if which == "this":
        return _date(today + dt.timedelta(days=weekday - today.weekday()))
    not_today = 7 if which else 0  # "last friday" on a Friday is a week ago, "friday" is today
    if which == "next" or (which is None and ahead):
        return _date(today + dt.timedelta(days=(weekday - today.weekday()) % 7 or not_today))
    return _date(today - dt.timedelta(days=(today.weekday() - weekday) % 7 or not_today))


def _ago(match: re.Match[str], today: dt.date, ahead: bool) -> DateValue:
    count, designator = _delta(match)
    return _date(today - relativedelta(**{GRAINS[designator] + "s": count}))


def _duration(match: re.Match[str], today: dt.date, ahead: bool) -> DateValue:
    count, designator = _delta(match)
    return DateValue(f"P{count}{designator}", "duration", GRAINS[designator])


def _period_start(match: re.Match[str], today: dt.date, ahead: bool) -> DateValue:
    offset = {"last": -1, "this": 0, "next": 1}[match["which"]]
    if match["period"] == "week":
        return _date(today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=offset), "week")
    if match["period"] == "month":
        return _date(today.replace(day=1) + relativedelta(months=offset), "month")
    return _date(dt.date(today.year + offset, 1, 1), "year")


def _calendar_day(match: re.Match[str], today: dt.date, ahead: bool) -> DateValue:
    month = int(match["month"]) if match["month"].isdigit() else MONTHS[match["month"]]
    year = match.groupdict().get("year")
    if year and len(year) == 2:
        year = f"20{year}"
    return _day_of_year(month, int(match["day"]), year, today, ahead)


def _day_of_month(match: re.Match[str], today: dt.date, ahead: bool) -> DateValue:
    day = int(match["day"])

    def in_month_of(anchor: dt.date) -> dt.date:
        return anchor.replace(day=day)

    return _date(_undated(in_month_of, today, ahead, relativedelta(months=1)))


def _holiday(match: re.Match[str], today: dt.date, ahead: bool) -> DateValue:
    month, day = HOLIDAYS[match["holiday"]]
    return _day_of_year(month, day, match["year"], today, ahead)


# Tried in order on the whole lower-cased span; the first that matches decides.
GRAMMAR: list[tuple[re.Pattern[str], Callable[[re.Match[str], dt.date, bool], DateValue]]] = [
    (re.compile(_alternatives(RELATIVE_DAYS)), _relative_day),
    (re.compile(rf"(?:(?P<which>last|next|this) )?(?P<weekday>{_alternatives(WEEKDAYS)})"), _weekday),
    (re.compile(rf"(?P<number>{NUMBER})[ -](?P<unit>{UNIT}) ago"), _ago),
    (re.compile(rf"(?:(?:the )?(?:last|past) )?(?P<number>{NUMBER})[ -](?P<unit>{UNIT})"), _duration),
    (re.compile(r"(?P<which>last|this|next) (?P<period>week|month|year)"), _period_start),
    (re.compile(rf"(?:the )?{DAY_OF} (?:of )?(?P<month>{MONTH}){YEAR}"), _calendar_day),
    (re.compile(rf"(?P<month>{MONTH}) (?:the )?{DAY_OF}{YEAR}"), _calendar_day),
    (
        re.compile(rf"(?P<day>\d{{1,2}})(?P<sep>[/.-])(?P<month>\d{{1,2}})(?P=sep){YEAR_NUMBER}"),
        _calendar_day,
    ),
    (re.compile(r"(?P<day>\d{1,2})/(?P<month>\d{1,2})"), _calendar_day),
    (re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"), _calendar_day),
    (re.compile(r"the (?P<day>\d{1,2})(?:st|nd|rd|th)"), _day_of_month),
    (re.compile(rf"(?P<holiday>{_alternatives(HOLIDAYS)}){YEAR}"), _holiday),
]

# Forms spaCy's small English model does not tag DATE ("03/12/2026" is nothing to it, "3/12" a CARDINAL,
# "the 3rd of march" an ORDINAL); the `date` group is the span. A day and month alone only after a word
# that makes them a date ("on 3/12", "since 3/12"): "10/10 would recommend" is not one. "The 3rd" alone is
# left to spaCy, which tags "on the 12th" DATE: after "on" it can as well be "the 2nd one".
MISSED_BY_NER = [
    re.compile(
        r"(?<![\w/.-])(?P<date>\d{1,2}([/.-])\d{1,2}\2(?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2})(?![\w/.-])"
    ),
    re.compile(rf"\b(?:{_alternatives(DATE_CUES)})\s+(?P<date>\d{{1,2}}/\d{{1,2}})(?![\w/])", re.I),
    re.compile(rf"\b(?P<date>(?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+of\s+(?:{MONTH}))\b", re.I),
    re.compile(rf"\b(?P<date>(?:{NUMBER})[\s-]{UNIT}\s+ago)\b", re.I),
]
NAMED_DAY = re.compile(rf"\b(?:{_alternatives(NOT_DATES)})$", re.I)
