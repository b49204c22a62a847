"""Goals and action items (app/services/goals.py): who may change them, validation,
compare-and-swap, audit and notification, "from last time" and overdue.

Real database, rolled back per test; the suite's frozen now (Wed 2026-11-18 15:00 UTC).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from app.models import AuditEvent, BookingStatus, Notification, NotificationChannel
from app.models.follow_through import GoalKind, PairGoal
from app.services import goals
from app.services.errors import NotAllowed, NotFound, StaleVersion, ValidationFailed

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


def days(n: float) -> dt.datetime:
    return NOW + dt.timedelta(days=n)


@pytest.fixture
def pair(factories, db_session):
    mentor = factories.mentor(name="Maya Mentor")
    mentee = factories.user(name="Mia Mentee")
    return mentor, mentee


def add(db_session, actor, booking, title="Read chapter 3", kind="action_item", due="", tz="UTC"):
    return goals.create(
        db_session,
        actor,
        booking,
        goals.GoalInput(kind=kind, title=title, due_on=due),
        now=NOW,
        tz=tz,
    )


def test_either_participant_adds_an_item_and_the_other_is_told_in_the_app(
    factories, db_session, pair
):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee, starts_at=days(-1), status=BookingStatus.COMPLETED)
    goal = add(db_session, mentor, booking, title="  Read   chapter 3 ", due="2026-11-25")
    assert (goal.mentor_id, goal.mentee_id, goal.booking_id) == (mentor.id, mentee.id, booking.id)
    assert goal.title == "Read chapter 3"
    assert goal.due_on == dt.date(2026, 11, 25)
    assert goal.kind is GoalKind.ACTION_ITEM
    assert goal.created_by_id == mentor.id
    rows = db_session.scalars(select(Notification)).all()
    assert [(n.user_id, n.channel, n.kind) for n in rows] == [
        (mentee.id, NotificationChannel.IN_APP, "goal_added")
    ]
    payload = rows[0].payload
    assert payload["path"] == f"/mentor-hub/sessions/{booking.id}"
    assert payload["booking_id"] == booking.id
    assert "Maya Mentor added an action item: “Read chapter 3”" in payload["message"]
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "goal.created")).one()
    assert event.entity_id == goal.id and event.actor_id == mentor.id

    add(db_session, mentee, booking, title="Ship the demo", kind="goal")
    told = db_session.scalars(
        select(Notification.user_id).where(Notification.kind == "goal_added")
    ).all()
    assert sorted(told) == sorted([mentee.id, mentor.id])


def test_a_third_party_or_an_admin_cannot_add_change_or_delete(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    goal = add(db_session, mentee, booking)
    for stranger in (factories.user(), factories.admin(), factories.mentor()):
        with pytest.raises(NotAllowed):
            add(db_session, stranger, booking)
        with pytest.raises(NotAllowed):
            goals.set_done(
                db_session, stranger, booking, goal.id, done=True, version=goal.version, now=NOW
            )
        with pytest.raises(NotAllowed):
            goals.remove(db_session, stranger, booking, goal.id, version=goal.version, now=NOW)
    assert db_session.scalar(select(func.count()).select_from(PairGoal)) == 1
    db_session.refresh(goal)
    assert goal.done_at is None


def test_an_item_of_another_pair_is_not_found_through_this_session(factories, db_session, pair):
    mentor, mentee = pair
    mine = factories.booking(mentor, mentee)
    other_booking = factories.booking(factories.mentor(), mentee, starts_at=days(3))
    theirs = add(db_session, mentee, other_booking)
    with pytest.raises(NotFound):
        goals.set_done(db_session, mentee, mine, theirs.id, done=True, version=1, now=NOW)
    with pytest.raises(NotFound):
        goals.remove(db_session, mentor, mine, theirs.id, version=1, now=NOW)


@pytest.mark.parametrize(
    ("title", "due", "kind", "field"),
    [
        ("", "", "action_item", "title"),
        ("   ", "", "goal", "title"),
        ("x" * 201, "", "goal", "title"),
        ("Fine", "31/12/2026", "goal", "due_on"),
        ("Fine", "2026-11-17", "goal", "due_on"),  # yesterday
        ("Fine", "2031-01-01", "goal", "due_on"),  # too far
        ("Fine", "", "wish", "kind"),
    ],
)
def test_bad_input_is_refused_with_a_message_on_the_field(
    factories, db_session, pair, title, due, kind, field
):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    with pytest.raises(ValidationFailed) as refused:
        add(db_session, mentor, booking, title=title, due=due, kind=kind)
    assert field in refused.value.field_errors
    assert db_session.scalar(select(func.count()).select_from(PairGoal)) == 0
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 0


def test_the_due_date_is_checked_against_today_in_the_viewers_zone(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    # 15:00 UTC on the 18th is already the 19th in Auckland: the 18th is in the past there.
    with pytest.raises(ValidationFailed):
        add(db_session, mentor, booking, due="2026-11-18", tz="Pacific/Auckland")
    assert add(db_session, mentor, booking, due="2026-11-18", tz="UTC").due_on == dt.date(
        2026, 11, 18
    )


def test_a_title_of_exactly_200_characters_is_kept(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    assert len(add(db_session, mentor, booking, title="y" * 200).title) == 200


def test_a_declined_request_has_no_goals(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee, status=BookingStatus.DECLINED)
    with pytest.raises(NotAllowed):
        add(db_session, mentee, booking)


def test_check_and_uncheck_by_either_participant_with_compare_and_swap(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    goal = add(db_session, mentor, booking)
    done = goals.set_done(db_session, mentee, booking, goal.id, done=True, version=1, now=NOW)
    assert done.done_at == NOW and done.done_by_id == mentee.id and done.version == 2
    # A second tab still holding version 1 is stale, and changes nothing.
    with pytest.raises(StaleVersion):
        goals.set_done(db_session, mentor, booking, goal.id, done=False, version=1, now=NOW)
    db_session.refresh(goal)
    assert goal.done_at is not None and goal.version == 2
    undone = goals.set_done(db_session, mentor, booking, goal.id, done=False, version=2, now=NOW)
    assert undone.done_at is None and undone.done_by_id is None and undone.version == 3
    actions = db_session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.entity_type == "pair_goal")
        .order_by(AuditEvent.id)
    ).all()
    assert actions == ["goal.created", "goal.checked", "goal.unchecked"]


def test_delete_by_either_participant_with_compare_and_swap(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    goal = add(db_session, mentor, booking)
    goal_id = goal.id
    goals.set_done(db_session, mentor, booking, goal_id, done=True, version=1, now=NOW)
    with pytest.raises(StaleVersion):
        goals.remove(db_session, mentee, booking, goal_id, version=1, now=NOW)
    assert db_session.get(PairGoal, goal_id) is not None
    goals.remove(db_session, mentee, booking, goal_id, version=2, now=NOW)
    assert db_session.scalar(select(func.count()).select_from(PairGoal)) == 0
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "goal.deleted")).one()
    assert event.entity_id == goal_id and event.before["title"] == "Read chapter 3"


def _goal(db_session, mentor, mentee, booking, title, *, created, done_at=None, due=None):
    goal = PairGoal(
        mentor_id=mentor.id,
        mentee_id=mentee.id,
        booking_id=booking.id if booking is not None else None,
        kind=GoalKind.ACTION_ITEM,
        title=title,
        due_on=due,
        done_at=done_at,
        created_at=created,
        updated_at=created,
        version=1,
    )
    db_session.add(goal)
    db_session.flush()
    return goal


def test_from_last_time_shows_earlier_open_items_and_those_done_since_the_last_session(
    factories, db_session, pair
):
    mentor, mentee = pair
    first = factories.booking(mentor, mentee, starts_at=days(-20), status=BookingStatus.COMPLETED)
    last = factories.booking(mentor, mentee, starts_at=days(-7), status=BookingStatus.COMPLETED)
    factories.booking(mentor, mentee, starts_at=days(-3), status=BookingStatus.CANCELLED)
    this = factories.booking(mentor, mentee, starts_at=days(2))
    later = factories.booking(mentor, mentee, starts_at=days(9))
    last_end = last.ends_at
    open_old = _goal(db_session, mentor, mentee, first, "open from first", created=days(-20))
    _goal(db_session, mentor, mentee, first, "done long ago", created=days(-20), done_at=days(-10))
    done_since = _goal(
        db_session, mentor, mentee, last, "done since", created=days(-7), done_at=days(-1)
    )
    orphan = _goal(db_session, mentor, mentee, None, "session gone", created=days(-30))
    mine = _goal(db_session, mentor, mentee, this, "this session", created=days(-1))
    _goal(db_session, mentor, mentee, later, "next time", created=days(-1))
    # Another pair's item never shows.
    _goal(db_session, factories.mentor(), mentee, None, "other pair", created=days(-30))

    panel = goals.panel(db_session, this, now=NOW, tz="UTC")
    assert panel.previous_end == last_end
    # Open ones first (oldest first), then the ones done since last time.
    assert [g.title for g in panel.earlier] == [orphan.title, open_old.title, done_since.title]
    assert [g.id for g in panel.current] == [mine.id]


def test_from_last_time_lists_open_items_soonest_due_first(factories, db_session, pair):
    mentor, mentee = pair
    first = factories.booking(mentor, mentee, starts_at=days(-20), status=BookingStatus.COMPLETED)
    this = factories.booking(mentor, mentee, starts_at=days(2))
    _goal(db_session, mentor, mentee, first, "no date", created=days(-20))
    _goal(db_session, mentor, mentee, first, "later", created=days(-20), due=dt.date(2026, 12, 9))
    _goal(db_session, mentor, mentee, first, "sooner", created=days(-20), due=dt.date(2026, 11, 9))
    panel = goals.panel(db_session, this, now=NOW, tz="UTC")
    assert [g.title for g in panel.earlier] == ["sooner", "later", "no date"]


def test_the_panel_runs_two_queries(factories, db_session, pair, engine):
    from tests.integration.conftest import counted

    mentor, mentee = pair
    first = factories.booking(mentor, mentee, starts_at=days(-20), status=BookingStatus.COMPLETED)
    this = factories.booking(mentor, mentee, starts_at=days(2))
    for i in range(30):
        _goal(db_session, mentor, mentee, first if i % 2 else this, f"item {i}", created=days(-9))
    db_session.flush()
    with counted(engine) as statements:
        panel = goals.panel(db_session, this, now=NOW, tz="UTC")
    assert len(panel.earlier) == 15 and len(panel.current) == 15
    assert len(statements) == 2


def test_overdue_means_open_and_due_before_today_in_the_viewers_zone(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    goal = _goal(
        db_session, mentor, mentee, booking, "x", created=days(-9), due=dt.date(2026, 11, 18)
    )
    assert goals.status_of(goal, goals.today_in(NOW, "UTC")) == "open"
    assert goals.status_of(goal, goals.today_in(NOW, "Pacific/Auckland")) == "overdue"
    goal.done_at = NOW
    assert goals.status_of(goal, goals.today_in(NOW, "Pacific/Auckland")) == "done"
    goal.done_at = None
    goal.due_on = None
    assert goals.status_of(goal, dt.date(2099, 1, 1)) == "open"


def test_for_mentee_groups_items_per_mentor_open_first(factories, db_session, pair):
    mentor, mentee = pair
    other = factories.mentor()
    b1 = factories.booking(mentor, mentee)
    b2 = factories.booking(other, mentee, starts_at=days(3))
    _goal(db_session, mentor, mentee, b1, "done", created=days(-3), done_at=days(-1))
    _goal(db_session, mentor, mentee, b1, "open", created=days(-2))
    _goal(db_session, other, mentee, b2, "other", created=days(-2))
    grouped = goals.for_mentee(db_session, mentee.id)
    assert [g.title for g in grouped[mentor.id]] == ["open", "done"]
    assert [g.title for g in grouped[other.id]] == ["other"]
    assert set(goals.for_mentee(db_session, mentee.id, mentor_id=other.id)) == {other.id}


def test_edit_changes_kind_title_and_date_with_compare_and_swap(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    goal = add(db_session, mentor, booking, due="2026-11-20")
    edited = goals.edit(
        db_session,
        mentee,
        booking,
        goal.id,
        goals.GoalInput(kind="goal", title="Read chapters 3 and 4", due_on=""),
        version=1,
        now=NOW,
        tz="UTC",
    )
    assert (edited.kind, edited.title, edited.due_on, edited.version) == (
        GoalKind.GOAL,
        "Read chapters 3 and 4",
        None,
        2,
    )
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "goal.updated")).one()
    assert event.before == {
        "kind": "action_item",
        "title": "Read chapter 3",
        "due_on": "2026-11-20",
        "version": 1,
    }
    with pytest.raises(StaleVersion):
        goals.edit(
            db_session,
            mentor,
            booking,
            goal.id,
            goals.GoalInput(title="x"),
            version=1,
            now=NOW,
            tz="UTC",
        )
    with pytest.raises(NotAllowed):
        goals.edit(
            db_session,
            factories.user(),
            booking,
            goal.id,
            goals.GoalInput(title="x"),
            version=2,
            now=NOW,
            tz="UTC",
        )
    with pytest.raises(ValidationFailed):
        goals.edit(
            db_session,
            mentor,
            booking,
            goal.id,
            goals.GoalInput(title=""),
            version=2,
            now=NOW,
            tz="UTC",
        )
    db_session.refresh(goal)
    assert goal.title == "Read chapters 3 and 4" and goal.version == 2


def test_an_overdue_item_keeps_its_date_when_edited_but_cannot_get_another_past_one(
    factories, db_session, pair
):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    goal = _goal(
        db_session, mentor, mentee, booking, "Old", created=days(-9), due=dt.date(2026, 11, 10)
    )
    kept = goals.edit(
        db_session,
        mentor,
        booking,
        goal.id,
        goals.GoalInput(kind="action_item", title="Old, renamed", due_on="2026-11-10"),
        version=1,
        now=NOW,
        tz="UTC",
    )
    assert kept.due_on == dt.date(2026, 11, 10)
    with pytest.raises(ValidationFailed) as refused:
        goals.edit(
            db_session,
            mentor,
            booking,
            goal.id,
            goals.GoalInput(kind="action_item", title="Old", due_on="2026-11-09"),
            version=2,
            now=NOW,
            tz="UTC",
        )
    assert "due_on" in refused.value.field_errors


def test_an_edit_that_changes_nothing_writes_nothing(factories, db_session, pair):
    mentor, mentee = pair
    booking = factories.booking(mentor, mentee)
    goal = add(db_session, mentor, booking)
    same = goals.edit(
        db_session,
        mentor,
        booking,
        goal.id,
        goals.GoalInput(kind="action_item", title=" Read chapter 3 ", due_on=""),
        version=1,
        now=NOW,
        tz="UTC",
    )
    assert same.version == 1
    assert (
        db_session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "goal.updated")
        )
        == 0
    )
