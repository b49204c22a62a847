"""Chat over HTTP: opening a conversation from a session (POST only), reading and posting
(participants only: a stranger gets 404 and writes nothing), the poll, the header's unread
count, reports and the admins' page, inert user text, and fixed query counts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import bindparam, func, select, text

from app import schema
from app.db import UTCDateTime
from app.models import (
    AuditEvent,
    BookingStatus,
    ChatMessage,
    ChatReport,
    ChatThread,
    Notification,
)
from app.services import chat
from tests.integration.conftest import count_queries, csrf_token

HX = {"HX-Request": "true"}
XSS = "<img src=x onerror=window.__pwned=1><script>window.__pwned=1</script>"


@pytest.fixture
def booking(factories, people, db_session, now):
    b = factories.booking(
        people.mentor,
        people.mentee,
        starts_at=now + dt.timedelta(days=3),
        status=BookingStatus.CONFIRMED,
    )
    db_session.commit()
    return b


@pytest.fixture
def thread_id(db_session, people, booking, now) -> int:
    tid = chat.open_for_booking(db_session, people.mentee, booking, now=now)
    db_session.commit()
    return tid


def post(db_session, user, thread_id: int, text: str, at: dt.datetime) -> ChatMessage:
    view = chat.view_thread(db_session, user, thread_id)
    message = chat.post_message(db_session, view, text, now=at)
    db_session.commit()
    return message


def count(db_session, model) -> int:
    db_session.expire_all()
    return int(db_session.scalar(select(func.count()).select_from(model)) or 0)


def read_marks(db_session, thread_id: int) -> tuple[int, int]:
    db_session.expire_all()
    t = db_session.get(ChatThread, thread_id)
    return t.mentor_read_upto, t.mentee_read_upto


# -- opening ------------------------------------------------------------------------------------


def test_open_chat_is_a_post_that_makes_one_thread_and_redirects_to_it(
    client_for, booking, db_session, no_csrf
):
    url = f"/mentor-hub/sessions/{booking.id}/chat"
    assert client_for("mentee").get(url).status_code == 405  # GET never creates
    assert count(db_session, ChatThread) == 0
    first = client_for("mentee").post(url)
    assert first.status_code == 303
    match = re.fullmatch(r"/mentor-hub/messages/(\d+)", first.headers["Location"])
    assert match
    again = client_for("mentor").post(url)
    assert again.headers["Location"] == first.headers["Location"]
    assert count(db_session, ChatThread) == 1


@pytest.mark.parametrize("role", ["other_mentee", "other_mentor", "admin"])
def test_nobody_else_can_open_the_pairs_chat(client_for, booking, db_session, no_csrf, role):
    response = client_for(role).post(f"/mentor-hub/sessions/{booking.id}/chat")
    assert response.status_code == 404
    assert count(db_session, ChatThread) == 0


def test_open_chat_needs_the_csrf_token(client_for, booking, db_session):
    client = client_for("mentee")
    assert client.post(f"/mentor-hub/sessions/{booking.id}/chat").status_code == 400
    token = csrf_token(client, "/mentor-hub/bookings")
    response = client.post(f"/mentor-hub/sessions/{booking.id}/chat", data={"csrf_token": token})
    assert response.status_code == 303


def test_the_session_detail_and_both_session_lists_offer_open_chat(
    client_for, booking, thread_id, people, db_session, now
):
    post(db_session, people.mentee, thread_id, "hi", now)
    action = f'action="/mentor-hub/sessions/{booking.id}/chat"'
    mentor_detail = client_for("mentor").get(f"/mentor-hub/sessions/{booking.id}")
    html = mentor_detail.get_data(as_text=True)
    assert action in html and "1 unread" in html
    assert action in client_for("mentee").get(f"/mentor-hub/sessions/{booking.id}").get_data(
        as_text=True
    )
    assert action not in client_for("admin").get(f"/mentor-hub/sessions/{booking.id}").get_data(
        as_text=True
    )
    assert action in client_for("mentor").get("/mentor-hub/sessions").get_data(as_text=True)
    assert action in client_for("mentee").get("/mentor-hub/bookings").get_data(as_text=True)


# -- reading ------------------------------------------------------------------------------------


def test_participants_read_the_thread_oldest_first_and_reading_marks_it_read(
    client_for, thread_id, people, db_session, now
):
    first = post(db_session, people.mentee, thread_id, "first question", now)
    second = post(
        db_session, people.mentee, thread_id, "second thought", now + dt.timedelta(minutes=1)
    )
    assert read_marks(db_session, thread_id) == (0, second.id)
    html = client_for("mentor").get(f"/mentor-hub/messages/{thread_id}").get_data(as_text=True)
    assert html.index("first question") < html.index("second thought")
    assert "Conversation with Mia Mentee" in html
    assert 'name="body"' in html
    assert read_marks(db_session, thread_id) == (second.id, second.id)
    del first


@pytest.mark.parametrize("role", ["other_mentee", "other_mentor", "admin"])
def test_a_third_party_can_neither_read_nor_poll_nor_post(
    client_for, thread_id, people, db_session, now, no_csrf, role
):
    post(db_session, people.mentee, thread_id, "private", now)
    client = client_for(role)
    assert client.get(f"/mentor-hub/messages/{thread_id}").status_code == 404
    assert client.get(f"/mentor-hub/messages/{thread_id}/new?after=0").status_code == 404
    assert (
        client.post(f"/mentor-hub/messages/{thread_id}", data={"body": "let me in"}).status_code
        == 404
    )
    assert (
        client.post(f"/mentor-hub/messages/{thread_id}", data={"body": "x"}, headers=HX).status_code
        == 404
    )
    assert count(db_session, ChatMessage) == 1
    assert "private" not in client.get("/mentor-hub/messages").get_data(as_text=True)


def test_user_text_is_inert_and_links_are_safe(client_for, thread_id, people, db_session, now):
    post(db_session, people.mentee, thread_id, XSS + "\nsee https://example.org/x?a=1&b=2", now)
    html = client_for("mentor").get(f"/mentor-hub/messages/{thread_id}").get_data(as_text=True)
    assert "<script>window.__pwned" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;" in html
    assert (
        '<a href="https://example.org/x?a=1&amp;b=2" rel="nofollow noopener noreferrer" '
        'target="_blank">' in html
    )
    listing = client_for("mentor").get("/mentor-hub/messages").get_data(as_text=True)
    assert "<script>window.__pwned" not in listing and "&lt;img src=x" in listing


def test_the_poll_returns_only_newer_messages_and_204_when_there_are_none(
    client_for, thread_id, people, db_session, now
):
    old = post(db_session, people.mentee, thread_id, "old one", now)
    client = client_for("mentor")
    assert (
        client.get(f"/mentor-hub/messages/{thread_id}/new?after={old.id}", headers=HX).status_code
        == 204
    )
    new = post(db_session, people.mentee, thread_id, "new one", now + dt.timedelta(minutes=1))
    response = client.get(f"/mentor-hub/messages/{thread_id}/new?after={old.id}", headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "new one" in html and "old one" not in html
    assert f'id="chat-after" name="after" value="{new.id}" hx-swap-oob="true"' in html
    assert read_marks(db_session, thread_id)[0] == new.id


def test_the_poll_costs_the_same_whatever_the_number_of_messages(
    client_for, thread_id, people, db_session, now, connection
):
    client = client_for("mentor")
    post(db_session, people.mentee, thread_id, "one", now)
    few = count_queries(client, f"/mentor-hub/messages/{thread_id}/new?after=0", connection.engine)
    for i in range(15):
        post(db_session, people.mentee, thread_id, f"more {i}", now)
    many = count_queries(client, f"/mentor-hub/messages/{thread_id}/new?after=0", connection.engine)
    assert few == many
    assert few <= 5  # user, thread with both people, messages, marker update (+ commit)


def test_the_thread_page_and_the_list_cost_a_fixed_number_of_queries(
    client_for, factories, people, thread_id, db_session, now, connection
):
    client = client_for("mentor")
    post(db_session, people.mentee, thread_id, "one", now)
    page_few = count_queries(client, f"/mentor-hub/messages/{thread_id}", connection.engine)
    list_few = count_queries(client, "/mentor-hub/messages", connection.engine)
    for i in range(6):
        mentee = factories.user(name=f"Mentee {i}")
        b = factories.booking(people.mentor, mentee, starts_at=now + dt.timedelta(days=5 + i))
        tid = chat.open_for_booking(db_session, mentee, b, now=now)
        db_session.commit()
        post(db_session, mentee, tid, f"hello {i}", now)
        post(db_session, people.mentee, thread_id, f"more {i}", now)
    page_many = count_queries(client, f"/mentor-hub/messages/{thread_id}", connection.engine)
    list_many = count_queries(client, "/mentor-hub/messages", connection.engine)
    assert page_few == page_many
    assert list_few == list_many


def test_the_list_shows_each_conversation_with_its_unread_count_and_an_empty_state(
    client_for, thread_id, people, db_session, now
):
    empty = client_for("other_mentee").get("/mentor-hub/messages").get_data(as_text=True)
    assert "No conversations yet" in empty
    post(db_session, people.mentee, thread_id, "are you there?", now)
    html = client_for("mentor").get("/mentor-hub/messages").get_data(as_text=True)
    assert "Mia Mentee" in html and "are you there?" in html and "1 unread" in html
    mine = client_for("mentee").get("/mentor-hub/messages").get_data(as_text=True)
    assert "You: are you there?" in mine and "unread" not in mine.split("mh-chat-list", 1)[1]


# -- the header --------------------------------------------------------------------------------


def header_label(html: str) -> str:
    match = re.search(r'<a id="mh-messages"[^>]*aria-label="([^"]+)"', html)
    assert match, "the header has the Messages link"
    return match.group(1)


def test_the_header_counts_unread_messages_on_every_page(
    client_for, thread_id, people, db_session, now
):
    client = client_for("mentor")
    assert header_label(client.get("/mentor-hub/sessions").get_data(as_text=True)) == (
        "Messages: no unread messages"
    )
    post(db_session, people.mentee, thread_id, "one", now)
    post(db_session, people.mentee, thread_id, "two", now)
    html = client.get("/mentor-hub/sessions").get_data(as_text=True)
    assert header_label(html) == "Messages: 2 unread messages"
    # The badge's poll: unchanged is 204, changed redraws it.
    assert client.get("/mentor-hub/messages/badge?shown=2").status_code == 204
    redrawn = client.get("/mentor-hub/messages/badge?shown=1")
    assert redrawn.status_code == 200
    assert header_label(redrawn.get_data(as_text=True)) == "Messages: 2 unread messages"
    # Reading the thread clears it (the page's own header already says so).
    thread_html = client.get(f"/mentor-hub/messages/{thread_id}").get_data(as_text=True)
    assert header_label(thread_html) == "Messages: no unread messages"


def test_the_badge_stops_polling_when_signed_out(client_for):
    assert client_for("anonymous").get("/mentor-hub/messages/badge").status_code == 286


# -- posting ------------------------------------------------------------------------------------


def test_sending_with_htmx_appends_the_new_messages_and_empties_the_box(
    client_for, thread_id, people, db_session, now, no_csrf
):
    theirs = post(db_session, people.mentor, thread_id, "from the mentor", now)
    response = client_for("mentee").post(
        f"/mentor-hub/messages/{thread_id}",
        data={"body": "thanks!", "after": "0"},
        headers=HX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "from the mentor" in html and "thanks!" in html  # nothing missed in between
    assert 'id="chat-compose"' in html and 'hx-swap-oob="true"' in html
    assert re.search(r'<textarea[^>]*name="body"[^>]*>\s*</textarea>', html)
    mine = db_session.scalars(select(ChatMessage).where(ChatMessage.body == "thanks!")).one()
    assert mine.sender_id == people.mentee.id
    assert f'value="{mine.id}" hx-swap-oob="true"' in html
    del theirs


def test_sending_without_javascript_redirects_to_the_thread(
    client_for, thread_id, db_session, no_csrf
):
    response = client_for("mentor").post(f"/mentor-hub/messages/{thread_id}", data={"body": "hi"})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/mentor-hub/messages/{thread_id}#latest"
    assert count(db_session, ChatMessage) == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [("   ", chat.EMPTY), ("x" * (chat.MAX_LENGTH + 1), chat.TOO_LONG)],
)
def test_a_refused_message_keeps_the_text_and_says_why_next_to_the_field(
    client_for, thread_id, db_session, no_csrf, body, message
):
    client = client_for("mentee")
    fragment = client.post(
        f"/mentor-hub/messages/{thread_id}", data={"body": body, "after": "0"}, headers=HX
    )
    assert fragment.status_code == 422
    assert fragment.headers["HX-Retarget"] == "#chat-compose"
    html = fragment.get_data(as_text=True)
    assert f'id="chat-body-error">{message}<' in html
    assert body.strip() == "" or body in html
    page = client.post(f"/mentor-hub/messages/{thread_id}", data={"body": body})
    assert page.status_code == 422
    assert message in page.get_data(as_text=True)
    assert count(db_session, ChatMessage) == 0


def test_posting_is_rate_limited_per_person(app, client_for, thread_id, db_session, no_csrf):
    app.config["CHAT_POST_LIMIT"] = "2 per minute"
    try:
        client = client_for("mentee")
        codes = [
            client.post(f"/mentor-hub/messages/{thread_id}", data={"body": f"m{i}"}).status_code
            for i in range(3)
        ]
        assert codes == [303, 303, 429]
        # Someone else's allowance is their own.
        other = client_for("mentor").post(f"/mentor-hub/messages/{thread_id}", data={"body": "hi"})
        assert other.status_code == 303
    finally:
        app.config["CHAT_POST_LIMIT"] = "30 per minute"
    assert count(db_session, ChatMessage) == 3


# -- reports and admins ---------------------------------------------------------------------------


def test_a_participant_reports_a_message_and_admins_decide(
    client_for, thread_id, people, db_session, now, no_csrf
):
    message = post(db_session, people.mentor, thread_id, "something rude", now)
    url = f"/mentor-hub/messages/{thread_id}/{message.id}/report"
    # The sender cannot report their own message; a stranger cannot report at all.
    assert client_for("mentor").post(url, headers=HX).status_code == 403
    assert client_for("other_mentee").post(url).status_code == 404
    assert client_for("admin").get(f"/mentor-hub/messages/{thread_id}").status_code == 404
    reported = client_for("mentee").post(url, data={"reason": "rude"}, headers=HX)
    assert reported.status_code == 200
    assert "Reported. An admin will look at it." in reported.get_data(as_text=True)
    assert client_for("mentee").post(url, headers=HX).status_code == 409
    assert count(db_session, ChatReport) == 1
    note = db_session.scalars(
        select(Notification).where(
            Notification.kind == "chat_reported", Notification.user_id == people.admin.id
        )
    ).one()
    assert note.payload["path"] == "/admin/mentorship/messages"

    # The admin reads the thread (no form) and the list.
    admin = client_for("admin")
    thread_html = admin.get(f"/mentor-hub/messages/{thread_id}").get_data(as_text=True)
    assert "something rude" in thread_html and 'name="body"' not in thread_html
    assert read_marks(db_session, thread_id) == (message.id, 0)  # an admin moves no marker
    listing = admin.get("/admin/mentorship/messages").get_data(as_text=True)
    assert "something rude" in listing and "Mia Mentee" in listing and "“rude”" in listing
    assert f"/mentor-hub/messages/{thread_id}#message-{message.id}" in listing

    report_id = db_session.scalars(select(ChatReport.id)).one()
    # Hiding needs a reason: said next to the field, nothing changed.
    refused = admin.post(f"/admin/mentorship/messages/reports/{report_id}/hide", headers=HX)
    assert refused.status_code == 422
    assert chat.HIDE_REASON_NEEDED in refused.get_data(as_text=True)
    hidden = admin.post(
        f"/admin/mentorship/messages/reports/{report_id}/hide",
        data={"reason": "Insulting"},
        headers=HX,
    )
    assert hidden.status_code == 200
    assert "No open reports" in hidden.get_data(as_text=True)
    again = admin.post(f"/admin/mentorship/messages/reports/{report_id}/keep", headers=HX)
    assert again.status_code == 409
    for role in ("mentor", "mentee"):
        html = client_for(role).get(f"/mentor-hub/messages/{thread_id}").get_data(as_text=True)
        assert "Message hidden by an admin" in html and "something rude" not in html
    actions = set(db_session.scalars(select(AuditEvent.action)))
    assert {"chat.message_reported", "chat.message_hidden"} <= actions


def test_keeping_a_report_without_javascript(
    client_for, thread_id, people, db_session, now, no_csrf
):
    message = post(db_session, people.mentee, thread_id, "borderline", now)
    view = chat.view_thread(db_session, people.mentor, thread_id)
    report = chat.report_message(db_session, view, message.id, "", now=now)
    db_session.commit()
    response = client_for("admin").post(f"/admin/mentorship/messages/reports/{report.id}/keep")
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(ChatReport, report.id).resolved_at is not None
    html = client_for("mentor").get(f"/mentor-hub/messages/{thread_id}").get_data(as_text=True)
    assert "borderline" in html


@pytest.mark.parametrize("role", ["mentee", "mentor"])
def test_only_admins_see_the_reports_page(client_for, role):
    assert client_for(role).get("/admin/mentorship/messages").status_code == 403


def test_the_reports_page_costs_a_fixed_number_of_queries(
    client_for, factories, people, db_session, now, connection
):
    def add_report(i: int) -> None:
        mentee = factories.user(name=f"Reporter {i}")
        b = factories.booking(people.mentor, mentee, starts_at=now + dt.timedelta(days=4 + i))
        tid = chat.open_for_booking(db_session, mentee, b, now=now)
        message = post(db_session, people.mentor, tid, f"msg {i}", now)
        chat.report_message(
            db_session, chat.view_thread(db_session, mentee, tid), message.id, "", now=now
        )
        db_session.commit()

    add_report(0)
    few = count_queries(client_for("admin"), "/admin/mentorship/messages", connection.engine)
    for i in range(1, 6):
        add_report(i)
    many = count_queries(client_for("admin"), "/admin/mentorship/messages", connection.engine)
    assert few == many


def test_the_scheduler_runs_the_unread_mail_job_with_the_configured_wait(app):
    from app.jobs import _queue_jobs

    jobs = {name: (job, kwargs) for name, job, kwargs in _queue_jobs(app.config)}
    job, kwargs = jobs["queue chat unread mail"]
    assert job is chat.queue_unread_mail
    assert (
        kwargs == {"after_minutes": app.config["CHAT_UNREAD_MAIL_MINUTES"]} == {"after_minutes": 15}
    )


# -- migration 0016: each thread's newest message id ----------------------------------------------


def test_the_migration_backfills_each_threads_newest_message_and_keeps_it_after(empty_engine, now):
    schema.upgrade(empty_engine, "0015")
    at = bindparam("at", now, type_=UTCDateTime)
    with empty_engine.begin() as conn:
        for uid in (1, 2, 3):
            conn.execute(
                text(
                    "INSERT INTO users (id, email, name, timezone, is_admin, is_active,"
                    " session_version, created_at)"
                    " VALUES (:id, :email, 'U', 'UTC', false, true, 1, :at)"
                ).bindparams(at),
                {"id": uid, "email": f"u{uid}@example.test"},
            )
        for tid, mentee in ((1, 2), (2, 3)):
            conn.execute(
                text(
                    "INSERT INTO chat_threads (id, mentor_id, mentee_id, created_at)"
                    " VALUES (:id, 1, :mentee, :at)"
                ).bindparams(at),
                {"id": tid, "mentee": mentee},
            )
        for mid in (3, 9, 5):  # thread 1's newest is 9 whatever the order; thread 2 has none
            conn.execute(
                text(
                    "INSERT INTO chat_messages (id, thread_id, sender_id, body, created_at)"
                    " VALUES (:id, 1, 2, 'hi', :at)"
                ).bindparams(at),
                {"id": mid},
            )
    schema.upgrade(empty_engine, "0016")

    def newest() -> dict[int, int]:
        with empty_engine.connect() as conn:
            found = conn.execute(text("SELECT id, last_message_id FROM chat_threads ORDER BY id"))
            return {int(row[0]): int(row[1]) for row in found}

    assert newest() == {1: 9, 2: 0}
    with empty_engine.begin() as conn:  # the trigger, from here on
        conn.execute(
            text(
                "INSERT INTO chat_messages (id, thread_id, sender_id, body, created_at)"
                " VALUES (12, 2, 1, 'yo', :at), (10, 1, 1, 'yo', :at), (11, 2, 3, 'yo', :at)"
            ).bindparams(at)
        )
    assert newest() == {1: 10, 2: 12}
    # And back: the trigger goes with the column, the messages stay (SQLite: no batch copy).
    schema.downgrade(empty_engine, "0015")
    with empty_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO chat_messages (id, thread_id, sender_id, body, created_at)"
                " VALUES (13, 1, 2, 'hi', :at)"
            ).bindparams(at)
        )
    schema.upgrade(empty_engine, "0016")
    assert newest() == {1: 13, 2: 12}
