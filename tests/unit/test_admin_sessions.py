"""Pure pieces of the admin sessions and audit pages: filter parsing, CSV cells, changes."""

from __future__ import annotations

import datetime as dt

from app.services import admin_sessions, audit_log


def test_parse_filters_keeps_what_it_can_and_reports_the_rest():
    filters, errors = admin_sessions.parse_filters(
        statuses=["confirmed", "bogus", "requested"],
        date_from="2026-02-30",
        date_to="2026-03-01",
        mentor="12",
        mentee="-3",
        query="  ada   lovelace ",
        sort="nonsense",
        direction="sideways",
        page="0",
    )
    assert filters.statuses == ("requested", "confirmed")  # the table's order, unknowns dropped
    assert filters.date_from is None and filters.date_to == dt.date(2026, 3, 1)
    assert set(errors) == {"from"}
    assert (filters.mentor_id, filters.mentee_id) == (12, None)
    assert filters.query == "ada lovelace"
    assert (filters.sort, filters.direction, filters.page) == ("start", "desc", 1)
    # The typed date goes back into the URL and the field, bad or not.
    assert filters.args()["from"] == "2026-02-30"


def test_an_end_before_the_start_is_reported():
    filters, errors = admin_sessions.parse_filters(date_from="2026-03-02", date_to="2026-03-01")
    assert "to" in errors and filters.date_to is None


def test_filter_args_leave_defaults_out():
    filters, _ = admin_sessions.parse_filters()
    assert filters.args() == {}
    assert filters.args(page=2, sort="mentor", direction="asc") == {
        "page": 2,
        "sort": "mentor",
        "dir": "asc",
    }


def test_changes_show_only_what_changed_and_times_in_the_zone():
    rows = audit_log.changes(
        {"status": "requested", "version": 1, "same": "x"},
        {
            "status": "confirmed",
            "version": 2,
            "same": "x",
            "starts_at": "2026-06-01T09:00:00+00:00",
            "late": True,
        },
        "Europe/Berlin",
    )
    assert [(c.name, c.before, c.after) for c in rows] == [
        ("status", "requested", "confirmed"),
        ("version", "1", "2"),
        ("starts at", None, "01 Jun 2026 11:00 CEST"),
        ("late", None, "yes"),
    ]


def test_action_words_fall_back_to_the_name():
    assert audit_log.action_words("booking.cancelled") == "Session cancelled"
    assert audit_log.action_words("widget.frobbed_twice") == "Widget: frobbed twice"


def test_audit_filters_reject_a_non_numeric_entity_id():
    filters, errors = audit_log.parse_filters(entity_id="12a", actor=" Ada ")
    assert "entity_id" in errors and filters.entity_id is None
    assert filters.actor == "Ada" and filters.args() == {"actor": "Ada", "entity_id": "12a"}
