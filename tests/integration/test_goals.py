"""Goals and action items through the app: the session panel, htmx and no-JS forms,
permissions (strangers 404 and nothing written; admins read only), bad input (messages next
to the fields, what was typed kept), stale forms (409 with the fresh state), "from last
time", the progress snapshot, and query counts."""

from __future__ import annotations

import datetime as dt
import html as html_lib

import pytest
from sqlalchemy import func, select

from app.models import AuditEvent, BookingStatus, Notification
from app.models.follow_through import GoalKind, PairGoal
from tests.integration.conftest import count_queries

HX = {"HX-Request": "true"}
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def sessions_(people, factories, db_session):
    """A past session of the pair (completed) and their next one (confirmed)."""
    past = factories.booking(
        people.mentor,
        people.mentee,
        starts_at=NOW - dt.timedelta(days=7),
        status=BookingStatus.COMPLETED,
    )
    upcoming = factories.booking(people.mentor, people.mentee, starts_at=NOW + dt.timedelta(days=2))
    db_session.commit()
    return past, upcoming


def text(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def add(client, booking, *, htmx=True, **form):
    data = {"kind": "action_item", "title": "Read chapter 3", "due_on": ""} | form
    return client.post(
        f"/mentor-hub/sessions/{booking.id}/goals", data=data, headers=HX if htmx else {}
    )


def goals_count(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(PairGoal))


def test_the_panel_is_on_the_session_page_for_both_and_read_only_for_admins(
    client_for, no_csrf, sessions_
):
    past, _ = sessions_
    for role in ("mentor", "mentee"):
        html = text(client_for(role).get(f"/mentor-hub/sessions/{past.id}"))
        assert 'id="goals-panel"' in html and 'aria-label="Add a goal or action item"' in html
    html = text(client_for("admin").get(f"/mentor-hub/sessions/{past.id}"))
    assert 'id="goals-panel"' in html and "Add a goal or action item" not in html
    assert "only the mentor and the mentee change them" in html


def test_the_mentor_adds_an_item_with_htmx_and_gets_the_panel_back(
    client_for, no_csrf, sessions_, db_session, people
):
    past, _ = sessions_
    response = add(client_for("mentor"), past, title="<b>Read</b> chapter 3", due_on="2026-11-25")
    assert response.status_code == 200
    html = text(response)
    assert html.lstrip().startswith('<section class="mh-panel mh-goals" id="goals-panel"')
    assert "Action item added. Mia can see it too." in html
    # Inert text: escaped in the page.
    assert "&lt;b&gt;Read&lt;/b&gt; chapter 3" in response.get_data(as_text=True)
    assert "Wed 25 Nov 2026" in html
    goal = db_session.scalars(select(PairGoal)).one()
    assert (goal.mentor_id, goal.mentee_id, goal.booking_id) == (
        people.mentor.id,
        people.mentee.id,
        past.id,
    )
    told = db_session.scalars(select(Notification).where(Notification.kind == "goal_added")).one()
    assert told.user_id == people.mentee.id


def test_without_javascript_an_add_redirects_back_with_a_flash(client_for, no_csrf, sessions_):
    past, _ = sessions_
    client = client_for("mentee")
    response = add(client, past, htmx=False, next=f"/mentor-hub/sessions/{past.id}")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/mentor-hub/sessions/{past.id}")
    page = text(client.get(response.headers["Location"]))
    assert "Action item added." in page and "Read chapter 3" in page


def test_an_offsite_next_is_ignored(client_for, no_csrf, sessions_):
    past, _ = sessions_
    response = add(client_for("mentee"), past, htmx=False, next="//evil.example/x")
    assert response.status_code == 303
    assert "evil" not in response.headers["Location"]


@pytest.mark.parametrize("role", ["other_mentee", "other_mentor"])
def test_a_third_party_gets_404_and_nothing_is_written(
    client_for, no_csrf, sessions_, db_session, people, role
):
    past, _ = sessions_
    goal = PairGoal(
        mentor_id=people.mentor.id,
        mentee_id=people.mentee.id,
        booking_id=past.id,
        kind=GoalKind.GOAL,
        title="Theirs",
        version=1,
    )
    db_session.add(goal)
    db_session.commit()
    client = client_for(role)
    assert add(client, past).status_code == 404
    check = client.post(
        f"/mentor-hub/sessions/{past.id}/goals/check",
        data={"goal_id": goal.id, "version": 1, "done": "1"},
        headers=HX,
    )
    assert check.status_code == 404
    remove = client.post(
        f"/mentor-hub/sessions/{past.id}/goals/delete",
        data={"goal_id": goal.id, "version": 1},
    )
    assert remove.status_code == 404
    db_session.expire_all()
    assert goals_count(db_session) == 1
    assert db_session.get(PairGoal, goal.id).done_at is None
    assert db_session.scalar(select(func.count()).select_from(Notification)) == 0


def test_an_admin_reads_but_cannot_change(client_for, no_csrf, sessions_, db_session):
    past, _ = sessions_
    response = add(client_for("admin"), past)
    assert response.status_code == 403
    assert response.headers["X-MentorHub-Swap"] == "true"
    assert "Not allowed" in text(response)
    assert goals_count(db_session) == 0


def test_bad_input_shows_messages_next_to_the_fields_and_keeps_what_was_typed(
    client_for, no_csrf, sessions_, db_session
):
    past, _ = sessions_
    response = add(client_for("mentor"), past, title="   ", due_on="2026-11-01")
    assert response.status_code == 422
    html = text(response)
    assert 'id="goal-new-' in html and "Write what the goal or action item is." in html
    assert "Pick today or a later date." in html
    assert 'value="2026-11-01"' in html
    response = add(client_for("mentor"), past, title="x" * 250)
    assert response.status_code == 422
    assert "Keep it to 200 characters (this is 250)." in text(response)
    assert 'value="' + "x" * 250 + '"' in text(response)
    assert goals_count(db_session) == 0


def test_bad_input_without_javascript_draws_the_session_page_with_the_messages(
    client_for, no_csrf, sessions_, db_session
):
    past, _ = sessions_
    response = add(client_for("mentor"), past, htmx=False, title="", kind="nonsense")
    assert response.status_code == 422
    html = text(response)
    assert "<html" in html and "Write what the goal or action item is." in html
    assert "Choose a goal or an action item." in html
    assert goals_count(db_session) == 0


def test_the_mentee_checks_off_and_a_stale_form_gets_409_with_the_fresh_state(
    client_for, no_csrf, sessions_, db_session
):
    past, upcoming = sessions_
    add(client_for("mentor"), past)
    goal = db_session.scalars(select(PairGoal)).one()
    # Checked off from the next session's page: any session of the pair will do.
    response = client_for("mentee").post(
        f"/mentor-hub/sessions/{upcoming.id}/goals/check",
        data={"goal_id": goal.id, "version": goal.version, "done": "1"},
        headers=HX,
    )
    assert response.status_code == 200
    assert "“Read chapter 3” is done." in text(response)
    assert 'aria-pressed="true"' in text(response)
    db_session.expire_all()
    assert db_session.get(PairGoal, goal.id).done_at == NOW
    # The mentor's page still holds version 1.
    stale = client_for("mentor").post(
        f"/mentor-hub/sessions/{past.id}/goals/check",
        data={"goal_id": goal.id, "version": 1, "done": "1"},
        headers=HX,
    )
    assert stale.status_code == 409
    assert stale.headers["X-MentorHub-Swap"] == "true"
    html = text(stale)
    assert "This item changed while you were looking" in html
    assert 'name="version" value="2"' in html  # the fresh state
    actions = db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "pair_goal")
    ).all()
    assert actions == ["goal.created", "goal.checked"]


def test_uncheck_and_delete_without_javascript(client_for, no_csrf, sessions_, db_session):
    past, _ = sessions_
    client = client_for("mentee")
    add(client, past)
    goal = db_session.scalars(select(PairGoal)).one()
    base = f"/mentor-hub/sessions/{past.id}/goals"
    done = client.post(f"{base}/check", data={"goal_id": goal.id, "version": 1, "done": "1"})
    assert done.status_code == 303
    undone = client.post(f"{base}/check", data={"goal_id": goal.id, "version": 2, "done": "0"})
    assert undone.status_code == 303
    db_session.expire_all()
    assert db_session.get(PairGoal, goal.id).done_at is None
    gone = client.post(f"{base}/delete", data={"goal_id": goal.id, "version": 3})
    assert gone.status_code == 303
    assert goals_count(db_session) == 0
    # A form for an item that is gone: 409 and why, never a 500.
    again = client.post(f"{base}/delete", data={"goal_id": goal.id, "version": 3}, headers=HX)
    assert again.status_code == 409 and "That item is gone" in text(again)
    junk = client.post(f"{base}/check", data={"goal_id": "x", "version": "y"}, headers=HX)
    assert junk.status_code == 409


def test_from_last_time_on_the_next_session_and_overdue_marked(
    client_for, no_csrf, sessions_, db_session, clock
):
    past, upcoming = sessions_
    add(client_for("mentor"), past, title="Finish the CV", due_on="2026-11-19")
    add(client_for("mentor"), upcoming, title="Prepare questions")
    clock.advance(days=2)  # the 20th: the CV is overdue
    html = text(client_for("mentee").get(f"/mentor-hub/sessions/{upcoming.id}"))
    earlier = html.index("From last time")
    assert earlier < html.index("Finish the CV") < html.index("This session")
    assert html.index("This session") < html.index("Prepare questions")
    assert "mh-goal--overdue" in html and "Overdue" in html


def test_the_progress_snapshot_lists_the_pairs_items_with_status(
    client_for, no_csrf, sessions_, db_session, people
):
    past, _ = sessions_
    add(client_for("mentor"), past, title="Open item")
    add(client_for("mentor"), past, title="Done item")
    done = db_session.scalars(select(PairGoal).where(PairGoal.title == "Done item")).one()
    client_for("mentee").post(
        f"/mentor-hub/sessions/{past.id}/goals/check",
        data={"goal_id": done.id, "version": 1, "done": "1"},
    )
    for role, url in (
        ("mentee", "/mentor-hub/progress"),
        ("mentor", f"/mentor-hub/progress/{people.mentee.id}"),
        ("admin", f"/mentor-hub/progress/{people.mentee.id}"),
    ):
        html = text(client_for(role).get(url))
        assert "Goals and action items" in html
        assert html.index('data-goal-status="open"') < html.index('data-goal-status="done"')
        assert "Open item" in html and "Done item" in html


def test_the_session_page_runs_a_fixed_number_of_queries_whatever_the_items(
    client_for, no_csrf, sessions_, db_session, engine, people
):
    past, upcoming = sessions_
    client = client_for("mentee")
    url = f"/mentor-hub/sessions/{upcoming.id}"
    small = count_queries(client, url, engine)
    for i in range(15):
        for booking in (past, upcoming):
            db_session.add(
                PairGoal(
                    mentor_id=people.mentor.id,
                    mentee_id=people.mentee.id,
                    booking_id=booking.id,
                    kind=GoalKind.ACTION_ITEM,
                    title=f"Item {i}",
                    done_by_id=people.mentor.id if i % 3 == 0 else None,
                    done_at=NOW if i % 3 == 0 else None,
                    version=1,
                )
            )
    db_session.commit()
    assert count_queries(client, url, engine) == small


def test_edit_with_htmx_and_a_refusal_keeps_the_edit_form_open_with_its_messages(
    client_for, no_csrf, sessions_, db_session
):
    past, _ = sessions_
    add(client_for("mentor"), past)
    goal = db_session.scalars(select(PairGoal)).one()
    url = f"/mentor-hub/sessions/{past.id}/goals/edit"
    data = {"goal_id": goal.id, "version": 1, "kind": "goal", "title": "Read it all", "due_on": ""}
    response = client_for("mentee").post(url, data=data, headers=HX)
    assert response.status_code == 200 and "“Read it all” saved." in text(response)
    bad = client_for("mentee").post(url, data=data | {"version": 2, "title": ""}, headers=HX)
    assert bad.status_code == 422
    html = text(bad)
    assert '<details class="mh-goal__edit" open>' in html
    assert f'id="goal-{goal.id}-edit-title-error"' in html
    stale = client_for("mentor").post(url, data=data | {"title": "Mine"}, headers=HX)
    assert stale.status_code == 409 and "This item changed while you were looking" in text(stale)
    assert client_for("other_mentee").post(url, data=data, headers=HX).status_code == 404
    db_session.expire_all()
    assert db_session.get(PairGoal, goal.id).title == "Read it all"


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("mentee", "/mentor-hub/progress"),
        ("mentor", "/mentor-hub/progress/{mentee}"),
        ("admin", "/mentor-hub/progress/{mentee}"),
    ],
)
def test_the_snapshot_runs_a_fixed_number_of_queries_whatever_the_items(
    client_for, sessions_, db_session, engine, people, factories, role, url
):
    past, _ = sessions_
    url = url.format(mentee=people.mentee.id)
    client = client_for(role)
    small = count_queries(client, url, engine)
    other = factories.booking(
        people.other_mentor,
        people.mentee,
        starts_at=NOW - dt.timedelta(days=3),
        status=BookingStatus.COMPLETED,
    )
    for i in range(12):
        for booking in (past, other):
            db_session.add(
                PairGoal(
                    mentor_id=booking.mentor_id,
                    mentee_id=booking.mentee_id,
                    booking_id=booking.id,
                    kind=GoalKind.GOAL,
                    title=f"Goal {i}",
                    due_on=dt.date(2026, 11, 1) if i % 2 else None,
                    done_at=NOW if i % 3 == 0 else None,
                    version=1,
                )
            )
    db_session.commit()
    assert count_queries(client, url, engine) == small
    html = text(client.get(url))
    assert 'data-goal-status="overdue"' in html and 'data-goal-status="done"' in html
