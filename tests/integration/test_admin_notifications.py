"""/admin/mentorship/notifications: admins see pending, failed and dead mail and retry it.

Permissions, counts and tabs, empty states, the Retry (CSRF, audit event, refusals), htmx
fragments and a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select

from app.models import AuditEvent, Notification, NotificationChannel, NotificationStatus, User
from app.services import outbox
from tests.integration.conftest import count_queries, counted, csrf_token

PAGE = "/admin/mentorship/notifications"


def mail_row(
    session,
    user: User,
    now: dt.datetime,
    *,
    status: NotificationStatus,
    kind: str = "booking_confirmed",
    attempts: int = 0,
    error: str | None = None,
    next_at: dt.datetime | None = None,
    booking_id: int | None = None,
    channel: NotificationChannel = NotificationChannel.EMAIL,
    key: str | None = None,
    sent_at: dt.datetime | None = None,
) -> Notification:
    row = Notification(
        user_id=user.id,
        kind=kind,
        booking_id=booking_id,
        channel=channel,
        payload={},
        dedupe_key=key or f"{kind}:{status.value}:{user.id}:{attempts}:{error}:{channel.value}",
        status=status,
        attempts=attempts,
        next_attempt_at=next_at,
        last_error=error,
        created_at=now,
        sent_at=sent_at or (now if status is NotificationStatus.SENT and not error else None),
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def queue(db_session, people, now) -> dict[str, Notification]:
    made = {
        "pending": mail_row(
            db_session, people.mentee, now, status=NotificationStatus.PENDING, next_at=now
        ),
        "failed": mail_row(
            db_session,
            people.mentor,
            now,
            status=NotificationStatus.FAILED,
            kind="reminder",
            attempts=2,
            error="451 4.3.0 Try again later (message refused)",
            next_at=now + dt.timedelta(minutes=2),
        ),
        "dead": mail_row(
            db_session,
            people.other_mentee,
            now,
            status=NotificationStatus.DEAD,
            kind="booking_cancelled",
            attempts=1,
            error="550 5.1.1 <otto@example.org>: no such user (recipient otto refused)",
        ),
        "sent": mail_row(
            db_session, people.mentee, now, status=NotificationStatus.SENT, attempts=1
        ),
        "in_app": mail_row(
            db_session,
            people.mentee,
            now,
            status=NotificationStatus.PENDING,
            channel=NotificationChannel.IN_APP,
            next_at=now,
        ),
    }
    db_session.commit()
    return made


def body(response: Any) -> str:
    return response.get_data(as_text=True)


def rows_in(html: str) -> list[str]:
    return re.findall(r'<tr id="notification-row-(\d+)" data-status="(\w+)"', html)


# -- who may see it -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("mentor", 403), ("mentee", 403), ("anonymous", 302)],
)
def test_only_admins_see_the_outbox(client_for, role, status):
    response = client_for(role).get(PAGE)
    assert response.status_code == status
    if role == "anonymous":
        assert "/auth/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("role", ["mentor", "mentee", "anonymous"])
def test_only_admins_retry(app, client_for, queue, role, db_session):
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        response = client_for(role).post(f"{PAGE}/{queue['dead'].id}/retry")
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    assert response.status_code == (302 if role == "anonymous" else 403)
    db_session.refresh(queue["dead"])
    assert queue["dead"].status is NotificationStatus.DEAD


# -- what it shows --------------------------------------------------------------------------------


def test_counts_and_every_unsent_email_row_worst_first(client_for, queue, people):
    html = body(client_for("admin").get(PAGE))
    shown = rows_in(html)
    assert shown == [
        (str(queue["dead"].id), "dead"),
        (str(queue["failed"].id), "failed"),
        (str(queue["pending"].id), "pending"),
    ], "no sent and no in-app rows; dead, then failed, then pending"
    assert 'All unsent <span class="mh-tabs__count">(3)</span>' in html
    for tab, count in (("Pending", 1), ("Failed", 1), ("Dead", 1)):
        assert f'{tab} <span class="mh-tabs__count">({count})</span>' in html
    assert "550 5.1.1 &lt;otto@example.org&gt;: no such user" in html, "escaped error text"
    assert people.other_mentee.name in html and "Session cancelled" in html
    assert "2 of 8 attempts" in html


def test_times_are_in_the_admin_s_zone(client_for, queue, people, db_session):
    people.admin.timezone = "Asia/Kolkata"
    db_session.commit()
    html = body(client_for("admin").get(f"{PAGE}?status=failed"))
    # 15:02 UTC is 20:32 in India (IST, +05:30).
    assert "Wed 18 Nov 2026, 20:32 IST" in html
    assert "Next attempt (Asia/Kolkata)" in html


def test_a_session_row_links_to_the_session(client_for, people, factories, db_session, now):
    booking = factories.booking(people.mentor, people.mentee)
    mail_row(
        db_session,
        people.mentee,
        now,
        status=NotificationStatus.DEAD,
        booking_id=booking.id,
        error="550 no",
    )
    db_session.commit()
    html = body(client_for("admin").get(PAGE))
    assert f'href="/mentor-hub/sessions/{booking.id}"' in html


@pytest.mark.parametrize(
    ("tab", "expected"),
    [("pending", ["pending"]), ("failed", ["failed"]), ("dead", ["dead"])],
)
def test_the_status_tabs_filter_through_the_url(client_for, queue, tab, expected):
    html = body(client_for("admin").get(f"{PAGE}?status={tab}"))
    assert [status for _id, status in rows_in(html)] == expected
    assert re.search(rf'href="{PAGE}\?status={tab}"[^>]*aria-current="page"', html)


def test_an_unknown_tab_shows_all_unsent(client_for, queue):
    html = body(client_for("admin").get(f"{PAGE}?status=bogus&page=-3"))
    assert len(rows_in(html)) == 3


def test_a_claimed_row_shows_as_sending_without_retry(client_for, queue, db_session, now):
    until = now + dt.timedelta(seconds=300)
    queue["failed"].last_error = outbox.CLAIM_NOTE + until.isoformat()
    queue["failed"].next_attempt_at = until
    db_session.commit()
    html = body(client_for("admin").get(f"{PAGE}?status=failed"))
    assert rows_in(html) == [(str(queue["failed"].id), "sending")]
    assert "Sending now" in html
    assert f"/{queue['failed'].id}/retry" not in html


@pytest.mark.parametrize(
    ("tab", "title"),
    [
        ("unsent", "All mail has gone out"),
        ("pending", "Nothing waiting"),
        ("failed", "No failing mail"),
        ("dead", "No dead mail"),
    ],
)
def test_every_tab_has_an_empty_state(client_for, people, tab, title):
    html = body(client_for("admin").get(f"{PAGE}?status={tab}"))
    assert title in html
    assert rows_in(html) == []


def test_without_smtp_the_page_says_mail_is_kept(client_for, people):
    assert "No SMTP server is configured" in body(client_for("admin").get(PAGE))


def test_htmx_tabs_get_only_the_queue_fragment(client_for, queue):
    response = client_for("admin").get(f"{PAGE}?status=dead", headers={"HX-Request": "true"})
    html = body(response)
    assert html.lstrip().startswith('<div id="notification-queue"')
    assert "<html" not in html
    assert "HX-Request" in response.headers.get("Vary", "")


def test_the_page_runs_a_fixed_number_of_queries(client_for, people, db_session, engine, now):
    client = client_for("admin")
    mail_row(db_session, people.mentee, now, status=NotificationStatus.DEAD, error="x", key="a")
    db_session.commit()
    few = count_queries(client, PAGE, engine)
    for i in range(25):
        mail_row(
            db_session,
            people.mentor if i % 2 else people.mentee,
            now,
            status=NotificationStatus.FAILED if i % 3 else NotificationStatus.DEAD,
            error=f"error {i}",
            next_at=now,
            key=f"k{i}",
        )
    db_session.commit()
    many = count_queries(client, PAGE, engine)
    assert many == few
    with counted(engine) as statements:
        client.get(PAGE)
    own = [
        s
        for s in statements
        if "GROUP BY notifications.status" in s or "notifications.dedupe_key" in s
    ]
    assert len(own) == 2, "one count by status, one page of rows with their recipients"


def test_pages_of_fifty(client_for, people, db_session, now):
    for i in range(55):
        mail_row(db_session, people.mentee, now, status=NotificationStatus.DEAD, key=f"p{i}")
    db_session.commit()
    client = client_for("admin")
    first = body(client.get(PAGE))
    assert len(rows_in(first)) == 50 and "Page 1 of 2" in first
    second = body(client.get(f"{PAGE}?page=2"))
    assert len(rows_in(second)) == 5
    assert not set(rows_in(first)) & set(rows_in(second))


# -- retry ----------------------------------------------------------------------------------------


def test_retry_puts_a_dead_mail_back_and_audits_it(client_for, queue, db_session, people, now):
    client = client_for("admin")
    token = csrf_token(client, PAGE)
    dead = queue["dead"]
    response = client.post(
        f"{PAGE}/{dead.id}/retry", data={"csrf_token": token, "status": "dead", "page": "1"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"{PAGE}?status=dead"
    db_session.refresh(dead)
    assert (dead.status, dead.attempts, dead.next_attempt_at, dead.last_error) == (
        NotificationStatus.PENDING,
        0,
        now,
        None,
    )
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "notification.retried")
    ).one()
    assert (event.actor_id, event.entity_type, event.entity_id) == (
        people.admin.id,
        "notification",
        dead.id,
    )
    assert event.before["status"] == "dead" and event.before["attempts"] == 1
    assert "550 5.1.1" in event.before["last_error"]
    assert event.after["status"] == "pending"
    page = body(client.get(f"{PAGE}?status=dead"))
    assert f"The mail to {people.other_mentee.name} (session cancelled) is queued again" in page
    assert "No dead mail" in page


def test_retry_of_a_failed_mail_makes_it_due_now(client_for, queue, db_session, now):
    client = client_for("admin")
    token = csrf_token(client, PAGE)
    failed = queue["failed"]
    client.post(f"{PAGE}/{failed.id}/retry", data={"csrf_token": token})
    db_session.refresh(failed)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (
        NotificationStatus.PENDING,
        0,
        now,
    )


def test_retry_over_htmx_swaps_the_refreshed_queue(client_for, queue):
    client = client_for("admin")
    token = csrf_token(client, PAGE)
    response = client.post(
        f"{PAGE}/{queue['dead'].id}/retry",
        data={"status": "unsent"},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert response.status_code == 200
    html = body(response)
    assert html.lstrip().startswith('<div id="notification-queue"')
    assert "is queued again" in html and "autofocus" in html
    assert (str(queue["dead"].id), "pending") in rows_in(html)
    assert 'Dead <span class="mh-tabs__count">(0)</span>' in html


def test_retry_needs_the_csrf_token(client_for, queue, db_session):
    response = client_for("admin").post(f"{PAGE}/{queue['dead'].id}/retry")
    assert response.status_code == 400
    db_session.refresh(queue["dead"])
    assert queue["dead"].status is NotificationStatus.DEAD


@pytest.mark.parametrize("which", ["pending", "sent"])
def test_mail_that_is_not_failed_or_dead_is_not_retried(client_for, queue, which, db_session):
    client = client_for("admin")
    token = csrf_token(client, PAGE)
    row = queue[which]
    response = client.post(
        f"{PAGE}/{row.id}/retry", data={"csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert "X-MentorHub-Message" in response.headers
    before = row.status
    db_session.refresh(row)
    assert row.status is before
    # Without htmx: back to the list with the reason.
    response = client.post(f"{PAGE}/{row.id}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    page = body(client.get(PAGE))
    assert "already" in page


def test_a_mail_being_sent_cannot_be_retried(client_for, queue, db_session, now):
    until = now + dt.timedelta(seconds=300)
    queue["failed"].last_error = outbox.CLAIM_NOTE + until.isoformat()
    queue["failed"].next_attempt_at = until
    db_session.commit()
    client = client_for("admin")
    token = csrf_token(client, PAGE)
    client.post(f"{PAGE}/{queue['failed'].id}/retry", data={"csrf_token": token})
    assert "being sent right now" in body(client.get(PAGE))
    db_session.refresh(queue["failed"])
    assert queue["failed"].attempts == 2


@pytest.mark.parametrize("which", ["in_app", "missing"])
def test_in_app_rows_and_unknown_ids_are_not_found(client_for, queue, which):
    client = client_for("admin")
    token = csrf_token(client, PAGE)
    target = queue["in_app"].id if which == "in_app" else 999_999
    response = client.post(f"{PAGE}/{target}/retry", data={"csrf_token": token})
    assert response.status_code == 404


def test_the_retried_mail_is_delivered_by_the_next_run(
    app, client_for, queue, db_session, clock, sink_courier
):
    client = client_for("admin")
    token = csrf_token(client, PAGE)
    client.post(f"{PAGE}/{queue['dead'].id}/retry", data={"csrf_token": token})
    courier, sink = sink_courier
    from app.db import db

    report = outbox.deliver_due(
        db.factory, now=clock.now(), settings=outbox.DeliverySettings(), courier=courier
    )
    assert report.sent == 2  # the retried dead one and the pending one
    db_session.refresh(queue["dead"])
    assert queue["dead"].status is NotificationStatus.SENT
    assert len(sink.received) == 2


@pytest.fixture
def sink_courier(app):
    from aiosmtpd.controller import Controller

    from app.services import mailer, notification_mail
    from tests.integration.test_notification_mail import (
        HOST,
        SENDER,
        SmtpSink,
        free_port,
        jinja_render,
    )

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname=HOST, port=port)
    controller.start()
    try:
        courier = notification_mail.MailCourier(
            mailer.MailSettings(sender=SENDER, server=HOST, port=port, use_tls=False),
            notification_mail.ComposeSettings(
                base_url=app.config["BASE_URL"], sender=SENDER, render=jinja_render(app)
            ),
        )
        yield courier, sink
    finally:
        controller.stop()


def test_the_sent_count_tells_skipped_mail_apart(client_for, queue, people, db_session, now):
    mail_row(
        db_session,
        people.mentee,
        now,
        status=NotificationStatus.SENT,
        kind="reminder",
        error="skipped: the recipient turned off reminder emails",
        key="skipped-1",
    )
    db_session.commit()
    html = " ".join(body(client_for("admin").get(PAGE)).split())
    assert '<p class="mh-stat__value">1</p> <p class="mh-stat__label">sent</p>' in html
    assert "1 more skipped by design" in html
