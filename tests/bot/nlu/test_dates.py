"""Date expressions: what is a date, and its ISO value relative to a fixed reference time."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.nlu.dates import DateValue, find_dates, normalise, number_value

# Thursday 12 March 2026, mid-afternoon in UTC.
REFERENCE = dt.datetime(2026, 3, 12, 15, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yesterday", "2026-03-11"),
        ("today", "2026-03-12"),
        ("Tomorrow", "2026-03-13"),
        ("the day before yesterday", "2026-03-10"),
        # Weekdays: "last" and "next" skip today; a bare one is the most recent, today included.
        ("last friday", "2026-03-06"),
        ("Last Friday", "2026-03-06"),
        ("last thursday", "2026-03-05"),
        ("on monday", "2026-03-09"),
        ("monday", "2026-03-09"),
        ("thursday", "2026-03-12"),
        ("next tuesday", "2026-03-17"),
        ("next thursday", "2026-03-19"),
        ("this friday", "2026-03-13"),
        ("3 days ago", "2026-03-09"),
        ("a week ago", "2026-03-05"),
        ("2 weeks ago", "2026-02-26"),
        ("two weeks ago", "2026-02-26"),
        ("a couple of days ago", "2026-03-10"),
        ("twelve days ago", "2026-02-28"),
        ("a month ago", "2026-02-12"),
        ("a year ago", "2025-03-12"),
        # Day and month without a year: the most recent, today included.
        ("march 3rd", "2026-03-03"),
        ("March 3", "2026-03-03"),
        ("3 march", "2026-03-03"),
        ("3rd of March", "2026-03-03"),
        ("the 3rd of march", "2026-03-03"),
        ("march the 3rd", "2026-03-03"),
        ("march 20th", "2025-03-20"),
        ("3 mar 2025", "2025-03-03"),
        ("march 3rd, 2027", "2027-03-03"),
        ("the 3rd", "2026-03-03"),
        ("the 12th", "2026-03-12"),
        ("the 20th", "2026-02-20"),
        ("the 31st", "2026-01-31"),
        # Numbers: day before month, as in the UK.
        ("3/12", "2025-12-03"),
        ("12/3", "2026-03-12"),
        ("03/12/2026", "2026-12-03"),
        ("03/12/26", "2026-12-03"),
        ("3.12.2026", "2026-12-03"),
        ("2026-12-03", "2026-12-03"),
        ("christmas eve", "2025-12-24"),
        ("Christmas", "2025-12-25"),
        ("boxing day", "2025-12-26"),
        ("new year\u2019s eve", "2025-12-31"),
        ("new year's day", "2026-01-01"),
        ("christmas eve 2026", "2026-12-24"),
    ],
)
def test_point_dates(text, expected):
    assert normalise(text, REFERENCE) == DateValue(expected, "date", "day")


@pytest.mark.parametrize(
    ("text", "expected", "grain"),
    [
        ("last week", "2026-03-02", "week"),
        ("this week", "2026-03-09", "week"),
        ("next week", "2026-03-16", "week"),
        ("last month", "2026-02-01", "month"),
        ("this month", "2026-03-01", "month"),
        ("next year", "2027-01-01", "year"),
    ],
)
def test_periods_are_their_first_day(text, expected, grain):
    assert normalise(text, REFERENCE) == DateValue(expected, "date", grain)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("friday", "2026-03-13"),
        ("thursday", "2026-03-12"),
        ("3/12", "2026-12-03"),
        ("march 3rd", "2027-03-03"),
        ("the 3rd", "2026-04-03"),
        ("christmas eve", "2026-12-24"),
        # Expressions that say which day they mean do not change.
        ("last friday", "2026-03-06"),
        ("yesterday", "2026-03-11"),
        ("03/12/2025", "2025-12-03"),
    ],
)
def test_ahead_takes_the_coming_day(text, expected):
    assert normalise(text, REFERENCE, ahead=True) == DateValue(expected, "date", "day")


@pytest.mark.parametrize(
    ("text", "expected", "grain"),
    [
        ("3 weeks", "P3W", "week"),
        ("two days", "P2D", "day"),
        ("a month", "P1M", "month"),
        ("10 days", "P10D", "day"),
        ("a fortnight", "P2W", "week"),
        ("one week", "P1W", "week"),
        ("nineteen days", "P19D", "day"),
        ("twenty days", "P20D", "day"),
        ("twenty-one days", "P21D", "day"),
        ("the last 3 days", "P3D", "day"),
        ("30-day", "P30D", "day"),
        ("a year", "P1Y", "year"),
    ],
)
def test_durations(text, expected, grain):
    assert normalise(text, REFERENCE) == DateValue(expected, "duration", grain)


@pytest.mark.parametrize(
    "text",
    [
        "48213",
        "black",
        "weeks",
        "order 48213",
        "size 10",
        "£40",
        "black friday",
        "cyber monday",
        "march",  # a month alone is too vague for a day
        "in march",
        "mondays",
        "a few days",
        "5 mins ago",
        "31/02",
        "3/45",
        "13/13/2026",
        "29 february 2027",
        "the 32nd",
        "",
    ],
)
def test_not_dates(text):
    assert normalise(text, REFERENCE) is None


def test_reference_is_read_in_utc():
    new_york_evening = dt.datetime(2026, 3, 12, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    assert normalise("today", new_york_evening).value == "2026-03-13"
    assert normalise("today", dt.datetime(2026, 3, 12, 23, 30)).value == "2026-03-12"  # naive: UTC
    assert normalise("today", dt.date(2026, 3, 12)).value == "2026-03-12"


def test_a_leap_day_without_a_year_is_the_last_one():
    assert normalise("29 february", REFERENCE).value == "2024-02-29"
    assert normalise("29/2", REFERENCE, ahead=True).value == "2028-02-29"


SMALL_NUMBERS = [
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip


@pytest.mark.parametrize(
    ("words", "value"),
    [
        *zip(SMALL_NUMBERS, range(1, 20), strict=True),
        ("twenty", 20),
        ("twenty-one", 21),
        ("ninety nine", 99),
        ("a", 1),
        ("an", 1),
        ("a couple of", 2),
        ("48", 48),
        ("few", None),
        ("twenty twenty", None),
        ("hundred", None),
    ],
)
def test_number_words(words, value):
    assert number_value(words) == value


def spans_found(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, str]]:
    return [(found.text, found.date.value) for found in find_dates(text, spans, REFERENCE)]


def test_find_dates_drops_weekdays_of_named_days():
    assert spans_found("is the black friday sale on", [(13, 19)]) == []
    assert spans_found("Cyber Monday deals", [(6, 12)]) == []
    assert spans_found("ordered on friday", [(11, 17)]) == [("friday", "2026-03-06")]


def test_find_dates_reads_the_word_before_an_undated_day():
    assert spans_found("could it arrive by friday", [(19, 25)]) == [("friday", "2026-03-13")]
    assert spans_found("ordered it since friday", [(17, 23)]) == [("friday", "2026-03-06")]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("delivered on 03/12/2026 apparently", [("03/12/2026", "2026-12-03")]),
        ("my order from 12/03 hasn't arrived", [("12/03", "2026-03-12")]),
        ("the 3rd of march", [("the 3rd of march", "2026-03-03")]),
        ("sent it back 2 weeks ago", [("2 weeks ago", "2026-02-26")]),
        ("10/10 would recommend", []),
        ("1/2 price?", []),
        ("I clicked on the 2nd one", []),
        ("order 48213", []),
    ],
)
def test_find_dates_adds_forms_spacy_misses(text, expected):
    assert spans_found(text, []) == expected


def test_find_dates_skips_candidates_that_are_not_dates():
    assert spans_found("where is order 48213", [(15, 20)]) == []
