"""Chat rules (app/services/chat.py) on the real database with a frozen clock: who may open,
read and post; the read marker; unread counts; reports and the admins' decisions; and the
unread-mail job (one mail per thread per burst, none once read)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, text, update

from app.models import (
    AuditEvent,
    BookingStatus,
    ChatMessage,
    ChatReport,
    ChatThread,
    Notification,
    NotificationChannel,
    ReportResolution,
    User,
)
from app.models.follow_through import MENTEE_UNSETTLED_SQL, MENTOR_UNSETTLED_SQL
from app.services import chat
from app.services.errors import InvalidTransition, NotAllowed, NotFound, ValidationFailed

MIN = dt.timedelta(minutes=1)


@pytest.fixture
def pair(factories, db_session):
    mentor = factories.mentor(name="Maya Mentor")
    mentee = factories.user(name="Mia Mentee")
    booking = factories.booking(mentor, mentee, status=BookingStatus.CANCELLED)
    return mentor, mentee, booking


@pytest.fixture
def thread(db_session, pair, now):
    _, mentee, booking = pair
    thread_id = chat.open_for_booking(db_session, mentee, booking, now=now)
    db_session.flush()
    return db_session.get(ChatThread, thread_id)


def view_of(db_session, user: User, thread: ChatThread) -> chat.ThreadView:
    return chat.view_thread(db_session, user, thread.id)


def say(db_session, user, thread, text, at) -> ChatMessage:
    return chat.post_message(db_session, view_of(db_session, user, thread), text, now=at)


def fresh(db_session, thread) -> ChatThread:
    db_session.expire_all()
    return db_session.get(ChatThread, thread.id)


# -- opening and access -------------------------------------------------------------------------


def test_one_thread_per_pair_whoever_opens_it_and_from_any_of_their_sessions(
    db_session, factories, pair, now
):
    mentor, mentee, booking = pair
    other_booking = factories.booking(
        mentor, mentee, starts_at=now + dt.timedelta(days=5), status=BookingStatus.COMPLETED
    )
    first = chat.open_for_booking(db_session, mentee, booking, now=now)
    assert chat.open_for_booking(db_session, mentor, other_booking, now=now) == first
    count = db_session.scalar(select(func.count()).select_from(ChatThread))
    assert count == 1
    opened = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "chat.thread_opened")
    ).all()
    assert len(opened) == 1


def test_a_race_on_the_unique_pair_reuses_the_winners_thread(db_session, pair, now, monkeypatch):
    mentor, mentee, booking = pair
    winner = ChatThread(mentor_id=mentor.id, mentee_id=mentee.id, created_at=now)
    db_session.add(winner)
    db_session.flush()
    real = chat.find_thread_id
    seen = []

    def first_miss(session, mentor_id, mentee_id):
        seen.append(1)
        return None if len(seen) == 1 else real(session, mentor_id, mentee_id)

    monkeypatch.setattr(chat, "find_thread_id", first_miss)
    assert chat.open_for_booking(db_session, mentee, booking, now=now) == winner.id
    assert len(seen) == 2
    assert db_session.scalar(select(func.count()).select_from(ChatThread)) == 1


def test_a_third_party_cannot_open_read_or_find_the_thread(
    db_session, factories, pair, thread, now
):
    _, mentee, booking = pair
    stranger = factories.user(name="Stan Stranger")
    with pytest.raises(NotFound):
        chat.open_for_booking(db_session, stranger, booking, now=now)
    with pytest.raises(NotFound):
        chat.view_thread(db_session, stranger, thread.id)
    with pytest.raises(NotFound):
        chat.view_thread(db_session, mentee, thread.id + 999)


def test_an_admin_reads_a_thread_only_once_a_message_in_it_is_reported(
    db_session, factories, pair, thread, now
):
    mentor, mentee, _ = pair
    admin = factories.admin(name="Ada Admin")
    message = say(db_session, mentor, thread, "hello", now)
    with pytest.raises(NotFound):
        chat.view_thread(db_session, admin, thread.id)
    chat.report_message(db_session, view_of(db_session, mentee, thread), message.id, "", now=now)
    view = chat.view_thread(db_session, admin, thread.id)
    assert view.role == "admin"
    with pytest.raises(NotAllowed):
        chat.post_message(db_session, view, "admins don't write here", now=now)
    assert chat.mark_read(db_session, view, message.id) is False


# -- messages -----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "   ", "\n\n"])
def test_an_empty_message_is_refused_next_to_the_field(db_session, pair, thread, now, body):
    _, mentee, _ = pair
    with pytest.raises(ValidationFailed) as refused:
        say(db_session, mentee, thread, body, now)
    assert refused.value.field_errors == {"body": chat.EMPTY}


def test_the_length_limit_counts_the_trimmed_text(db_session, pair, thread, now):
    _, mentee, _ = pair
    say(db_session, mentee, thread, "  " + "x" * chat.MAX_LENGTH + "  ", now)
    with pytest.raises(ValidationFailed) as refused:
        say(db_session, mentee, thread, "x" * (chat.MAX_LENGTH + 1), now)
    assert refused.value.field_errors == {"body": chat.TOO_LONG}


def test_posting_stores_plain_text_moves_the_senders_marker_and_the_threads_time(
    db_session, pair, thread, now
):
    _, mentee, _ = pair
    message = say(db_session, mentee, thread, "  <b>hi</b>\r\nthere  ", now)
    assert message.body == "<b>hi</b>\nthere"
    assert message.sender_id == mentee.id
    t = fresh(db_session, thread)
    assert t.last_message_at == now
    assert t.mentee_read_upto == message.id
    assert t.mentor_read_upto == 0


def test_messages_page_back_and_poll_forward_in_order(db_session, pair, thread, now):
    _, mentee, _ = pair
    ids = [say(db_session, mentee, thread, f"m{i}", now + i * MIN).id for i in range(5)]
    assert [m.id for m in chat.messages(db_session, thread.id, limit=3)] == ids[2:]
    assert [m.id for m in chat.messages(db_session, thread.id, before=ids[2], limit=3)] == ids[:2]
    assert [m.id for m in chat.messages(db_session, thread.id, after=ids[1])] == ids[2:]
    assert chat.has_older(db_session, thread.id, ids[2])
    assert not chat.has_older(db_session, thread.id, ids[0])


def test_the_read_marker_only_moves_forward(db_session, pair, thread, now):
    mentor, mentee, _ = pair
    first = say(db_session, mentee, thread, "one", now)
    second = say(db_session, mentee, thread, "two", now + MIN)
    view = view_of(db_session, mentor, thread)
    assert chat.mark_read(db_session, view, second.id) is True
    assert chat.mark_read(db_session, view, first.id) is False
    assert chat.mark_read(db_session, view, None) is False
    assert fresh(db_session, thread).mentor_read_upto == second.id


def test_unread_counts_only_the_other_persons_unread_visible_messages(
    db_session, factories, pair, thread, now
):
    mentor, mentee, _ = pair
    say(db_session, mentee, thread, "one", now)
    say(db_session, mentee, thread, "two", now + MIN)
    say(db_session, mentor, thread, "mine", now + 2 * MIN)  # also marks both read for the mentor
    third = say(db_session, mentee, thread, "three", now + 3 * MIN)
    # A second pair of the mentor's, unread too.
    other_mentee = factories.user(name="Otto")
    other_booking = factories.booking(mentor, other_mentee, starts_at=now + dt.timedelta(days=9))
    other = db_session.get(
        ChatThread, chat.open_for_booking(db_session, other_mentee, other_booking, now=now)
    )
    say(db_session, other_mentee, other, "hello", now)
    assert chat.unread_total(db_session, mentor.id) == 2
    assert chat.unread_total(db_session, mentee.id) == 0
    assert chat.pair_chat(db_session, mentor.id, mentor.id, mentee.id) == chat.PairChat(
        thread.id, 1
    )
    assert chat.pair_chat(db_session, mentee.id, other_mentee.id, mentee.id).thread_id is None
    # Hidden messages are not unread.
    db_session.get(ChatMessage, third.id).hidden_at = now
    db_session.flush()
    assert chat.unread_total(db_session, mentor.id) == 1


def test_the_conversation_list_is_newest_first_with_preview_and_unread(
    db_session, factories, pair, thread, now
):
    mentor, mentee, _ = pair
    other_mentee = factories.user(name="Otto Other")
    other_booking = factories.booking(mentor, other_mentee, starts_at=now + dt.timedelta(days=9))
    other = db_session.get(
        ChatThread, chat.open_for_booking(db_session, mentor, other_booking, now=now)
    )
    say(db_session, mentee, thread, "first   words\nhere", now)
    say(db_session, mentee, thread, "x" * 300, now + MIN)
    say(db_session, mentor, other, "newest", now + 2 * MIN)
    page = chat.thread_page(db_session, mentor.id, 1)
    assert page.total == 2
    assert [i.other_name for i in page.items] == ["Otto Other", "Mia Mentee"]
    newest, older = page.items
    assert newest.preview == "newest" and newest.preview_mine and newest.unread == 0
    assert older.unread == 2 and not older.preview_mine and older.other_role == "mentee"
    assert older.preview is not None and len(older.preview) == chat.PREVIEW_LENGTH
    mentee_page = chat.thread_page(db_session, mentee.id, 1)
    assert [(i.other_name, i.other_role, i.unread) for i in mentee_page.items] == [
        ("Maya Mentor", "mentor", 0)
    ]
    assert chat.thread_page(db_session, other_mentee.id, 1).items[0].unread == 1


def test_the_conversation_list_pages(db_session, factories, now):
    mentor = factories.mentor()
    for i in range(3):
        mentee = factories.user()
        booking = factories.booking(mentor, mentee, starts_at=now + dt.timedelta(days=i + 2))
        chat.open_for_booking(db_session, mentee, booking, now=now + i * MIN)
    page = chat.thread_page(db_session, mentor.id, 2, per_page=2)
    assert (page.page, page.pages, page.total, len(page.items)) == (2, 2, 3, 1)
    assert chat.thread_page(db_session, mentor.id, 99, per_page=2).page == 2


# -- reports --------------------------------------------------------------------------------------


def test_a_participant_reports_the_other_persons_message_once_and_admins_are_told(
    db_session, factories, pair, thread, now
):
    mentor, mentee, _ = pair
    admin = factories.admin(name="Ada Admin")
    factories.admin(name="Gone Admin", is_active=False)
    message = say(db_session, mentor, thread, "rude", now)
    view = view_of(db_session, mentee, thread)
    with pytest.raises(NotAllowed):
        chat.report_message(
            db_session, view_of(db_session, mentor, thread), message.id, "", now=now
        )
    report = chat.report_message(db_session, view, message.id, "  not nice  ", now=now)
    assert report.reason == "not nice"
    with pytest.raises(InvalidTransition):
        chat.report_message(db_session, view, message.id, "again", now=now)
    notes = db_session.scalars(select(Notification).where(Notification.kind == "chat_reported"))
    rows = notes.all()
    assert [(n.user_id, n.channel) for n in rows] == [(admin.id, NotificationChannel.IN_APP)]
    assert rows[0].payload["path"] == "/admin/mentorship/messages"
    assert "Mia Mentee reported" in rows[0].payload["message"]
    assert (
        db_session.scalar(select(func.count()).where(AuditEvent.action == "chat.message_reported"))
        == 1
    )
    assert chat.reported_by(db_session, mentee.id, [message.id]) == {message.id}


def test_a_report_reason_has_a_length_limit_and_a_message_of_another_thread_is_not_found(
    db_session, factories, pair, thread, now
):
    mentor, mentee, _ = pair
    message = say(db_session, mentor, thread, "hi", now)
    view = view_of(db_session, mentee, thread)
    with pytest.raises(ValidationFailed):
        chat.report_message(db_session, view, message.id, "x" * (chat.REASON_MAX + 1), now=now)
    with pytest.raises(NotFound):
        chat.report_message(db_session, view, message.id + 999, "", now=now)
    assert db_session.scalar(select(func.count()).select_from(ChatReport)) == 0


def test_hiding_closes_every_open_report_of_the_message_once(
    db_session, factories, pair, thread, now
):
    mentor, mentee, _ = pair
    admin = factories.admin()
    message = say(db_session, mentor, thread, "rude", now)
    report = chat.report_message(
        db_session, view_of(db_session, mentee, thread), message.id, "", now=now
    )
    assert chat.open_report_count(db_session) == 1
    with pytest.raises(ValidationFailed):
        chat.hide_message(db_session, admin, report.id, "  ", now=now)
    with pytest.raises(NotAllowed):
        chat.hide_message(db_session, mentee, report.id, "spam", now=now)
    hidden = chat.hide_message(db_session, admin, report.id, "Insulting", now=now + MIN)
    assert hidden.hidden_at == now + MIN and hidden.hidden_by_id == admin.id
    assert hidden.hidden_reason == "Insulting"
    db_session.expire_all()
    closed = db_session.get(ChatReport, report.id)
    assert closed.resolution == ReportResolution.HIDDEN and closed.resolved_by_id == admin.id
    assert chat.open_report_count(db_session) == 0
    with pytest.raises(InvalidTransition):
        chat.keep_message(db_session, admin, report.id, now=now)
    with pytest.raises(NotFound):
        chat.keep_message(db_session, admin, report.id + 999, now=now)
    assert (
        db_session.scalar(select(func.count()).where(AuditEvent.action == "chat.message_hidden"))
        == 1
    )


def test_keeping_leaves_the_message_and_is_audited(db_session, factories, pair, thread, now):
    mentor, mentee, _ = pair
    admin = factories.admin()
    message = say(db_session, mentor, thread, "fine actually", now)
    report = chat.report_message(
        db_session, view_of(db_session, mentee, thread), message.id, "", now=now
    )
    page = chat.open_reports(db_session, 1)
    assert [(r.id, r.sender_name, r.reporter_name, r.thread_id) for r in page.items] == [
        (report.id, "Maya Mentor", "Mia Mentee", thread.id)
    ]
    chat.keep_message(db_session, admin, report.id, now=now)
    db_session.expire_all()
    assert db_session.get(ChatMessage, message.id).hidden_at is None
    assert db_session.get(ChatReport, report.id).resolution == ReportResolution.KEPT
    assert chat.open_reports(db_session, 1).items == []
    assert (
        db_session.scalar(select(func.count()).where(AuditEvent.action == "chat.report_kept")) == 1
    )


# -- the unread-mail job ------------------------------------------------------------------------


def mails(db_session) -> list[Notification]:
    return list(
        db_session.scalars(
            select(Notification)
            .where(Notification.kind == chat.UNREAD_KIND)
            .order_by(Notification.id)
        )
    )


def test_one_mail_per_burst_once_the_newest_message_has_waited(db_session, pair, thread, now):
    mentor, mentee, _ = pair
    say(db_session, mentee, thread, "one", now)
    say(db_session, mentee, thread, "two", now + 5 * MIN)
    last = say(db_session, mentee, thread, "three", now + 10 * MIN)
    # The newest is 14:59 old: not yet.
    assert (
        chat.queue_unread_mail(db_session, now=now + 24 * MIN + 59 * dt.timedelta(seconds=1)) == 0
    )
    assert chat.queue_unread_mail(db_session, now=now + 25 * MIN) == 1
    [mail] = mails(db_session)
    assert mail.user_id == mentor.id and mail.channel == NotificationChannel.EMAIL
    assert mail.payload["path"] == f"/mentor-hub/messages/{thread.id}"
    assert mail.payload["message"] == "Mia Mentee sent you 3 messages on MentorHub."
    assert mail.payload["subject"] == "Unread: 3 messages from Mia Mentee"
    assert mail.payload["action"]
    assert mail.dedupe_key == chat.unread_mail_key(thread.id, mentor.id, last.id)
    assert fresh(db_session, thread).mentor_mailed_upto == last.id
    # Idempotent: nothing new, nothing more.
    assert chat.queue_unread_mail(db_session, now=now + 60 * MIN) == 0
    # A new burst earns one new mail about it alone.
    say(db_session, mentee, thread, "four", now + 70 * MIN)
    assert chat.queue_unread_mail(db_session, now=now + 90 * MIN) == 1
    assert mails(db_session)[-1].payload["message"] == "Mia Mentee sent you a message on MentorHub."


def test_no_mail_once_read_and_none_for_ones_own_messages(db_session, pair, thread, now):
    mentor, mentee, _ = pair
    message = say(db_session, mentee, thread, "read me", now)
    chat.mark_read(db_session, view_of(db_session, mentor, thread), message.id)
    assert chat.queue_unread_mail(db_session, now=now + 60 * MIN) == 0
    assert mails(db_session) == []


def test_the_mentee_side_is_mailed_too_and_replying_counts_as_reading(
    db_session, pair, thread, now
):
    mentor, mentee, _ = pair
    say(db_session, mentee, thread, "to the mentor", now)
    say(db_session, mentor, thread, "to the mentee", now + MIN)  # the mentor saw the first
    assert chat.queue_unread_mail(db_session, now=now + 60 * MIN) == 1
    [mail] = mails(db_session)
    assert mail.user_id == mentee.id
    assert mail.payload["message"] == "Maya Mentor sent you a message on MentorHub."


def test_hidden_messages_are_not_mailed(db_session, pair, thread, now):
    _, mentee, _ = pair
    hidden = say(db_session, mentee, thread, "hidden", now)
    db_session.get(ChatMessage, hidden.id).hidden_at = now + MIN
    db_session.flush()
    assert chat.queue_unread_mail(db_session, now=now + 60 * MIN) == 0


def test_a_deactivated_recipient_gets_no_mail(db_session, pair, thread, now):
    mentor, mentee, _ = pair
    say(db_session, mentee, thread, "anyone?", now)
    mentor.is_active = False
    db_session.flush()
    assert chat.queue_unread_mail(db_session, now=now + 60 * MIN) == 0


# -- the newest-message marker: the job only looks at threads with something new ------------------


def newest_id(db_session, thread) -> int:
    return int(
        db_session.scalar(select(ChatThread.last_message_id).where(ChatThread.id == thread.id))
    )


def test_every_insert_moves_the_threads_newest_message_id_and_never_back(
    db_session, pair, thread, now
):
    mentor, mentee, _ = pair
    assert newest_id(db_session, thread) == 0
    posted = say(db_session, mentee, thread, "hello", now)
    assert newest_id(db_session, thread) == posted.id
    # Written directly (the demo seed, imports, tests): the database trigger keeps it too.
    direct = ChatMessage(thread_id=thread.id, sender_id=mentor.id, body="hi", created_at=now)
    db_session.add(direct)
    db_session.flush()
    assert newest_id(db_session, thread) == direct.id
    # An insert that commits late with a smaller id (two posts at once) never moves it back.
    db_session.execute(
        update(ChatThread).where(ChatThread.id == thread.id).values(last_message_id=direct.id + 50)
    )
    db_session.add(ChatMessage(thread_id=thread.id, sender_id=mentee.id, body="x", created_at=now))
    db_session.flush()
    assert newest_id(db_session, thread) == direct.id + 50


def test_a_thread_whose_marker_says_nothing_is_new_is_skipped_until_the_next_message(
    db_session, pair, thread, now
):
    mentor, mentee, _ = pair
    say(db_session, mentee, thread, "one", now)
    # The marker says the thread's newest message is one the mentor has seen: not a candidate,
    # although the message itself is unread (the job must not read every thread's messages).
    db_session.execute(
        update(ChatThread).where(ChatThread.id == thread.id).values(last_message_id=0)
    )
    assert chat.queue_unread_mail(db_session, now=now + 60 * MIN) == 0
    # A new message makes it a candidate again, and the mail counts the whole unread burst.
    last = say(db_session, mentee, thread, "two", now + 70 * MIN)
    assert chat.queue_unread_mail(db_session, now=now + 90 * MIN) == 1
    [mail] = mails(db_session)
    assert mail.payload["message"] == "Mia Mentee sent you 2 messages on MentorHub."
    assert mail.dedupe_key == chat.unread_mail_key(thread.id, mentor.id, last.id)


def unsettled(db_session) -> dict[str, list[int]]:
    """The threads in each side's partial index (the job's first step), by its predicate."""
    return {
        side: list(
            db_session.scalars(select(ChatThread.id).where(text(predicate)).order_by(ChatThread.id))
        )
        for side, predicate in (
            ("mentor", MENTOR_UNSETTLED_SQL),
            ("mentee", MENTEE_UNSETTLED_SQL),
        )
    }


def test_a_thread_leaves_the_candidates_once_read_or_mailed_and_comes_back_with_news(
    db_session, pair, thread, now
):
    mentor, mentee, _ = pair
    assert unsettled(db_session) == {"mentor": [], "mentee": []}
    say(db_session, mentee, thread, "one", now)  # the mentee's own message: read by her
    assert unsettled(db_session) == {"mentor": [thread.id], "mentee": []}
    # Still waiting its quiet time: it stays a candidate, nothing is mailed yet.
    assert chat.queue_unread_mail(db_session, now=now + 5 * MIN) == 0
    assert unsettled(db_session) == {"mentor": [thread.id], "mentee": []}
    assert chat.queue_unread_mail(db_session, now=now + 60 * MIN) == 1
    assert unsettled(db_session) == {"mentor": [], "mentee": []}
    # A burst after the mail: a candidate again, and mailed again.
    later = say(db_session, mentee, thread, "two", now + 70 * MIN)
    assert unsettled(db_session) == {"mentor": [thread.id], "mentee": []}
    # The recipient who reads later (before the quiet time is over) settles it: no mail.
    chat.mark_read(db_session, view_of(db_session, mentor, thread), later.id)
    assert unsettled(db_session) == {"mentor": [], "mentee": []}
    assert chat.queue_unread_mail(db_session, now=now + 120 * MIN) == 0
    assert len(mails(db_session)) == 1
