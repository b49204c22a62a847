"""The small helpers several services share: CSV cells, LIKE patterns, a day's start in a zone."""

from __future__ import annotations

import datetime as dt

from app.services.csv_export import csv_line, safe_cell
from app.services.text_match import contains_pattern
from app.services.timezones import local_midnight


def test_csv_cells_that_look_like_formulas_are_quoted():
    assert safe_cell("=1+2") == "'=1+2"
    for start in "+-@\t\r":
        assert safe_cell(f"{start}x").startswith("'")
    assert safe_cell("plain") == "plain"
    assert safe_cell(None) == ""
    assert safe_cell(3) == "3"


def test_a_csv_line_is_quoted_safe_and_ends_its_line():
    assert csv_line(["=SUM(A1)", 'say "hi"', None, 2]) == '\'=SUM(A1),"say ""hi""",,2\r\n'


def test_like_wildcards_in_what_people_type_match_only_themselves():
    assert contains_pattern("Ana") == "%ana%"
    assert contains_pattern("50%_off\\") == "%50\\%\\_off\\\\%"


def test_a_days_start_is_local_midnight_across_daylight_saving():
    # Berlin: CET (+1) before 29 March 2026, CEST (+2) from then on.
    assert local_midnight(dt.date(2026, 3, 28), "Europe/Berlin") == dt.datetime(
        2026, 3, 27, 23, 0, tzinfo=dt.UTC
    )
    assert local_midnight(dt.date(2026, 3, 30), "Europe/Berlin") == dt.datetime(
        2026, 3, 29, 22, 0, tzinfo=dt.UTC
    )
    assert local_midnight(dt.date(2026, 11, 22), "UTC") == dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
