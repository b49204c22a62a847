"""Invariant 5 across OS processes: several senders on one outbox, and a sender killed mid-batch.

Each backend (a temporary SQLite file; a fresh PostgreSQL database from TEST_DATABASE_URL,
skipped without it except under CI=true, like conftest.py) gets its own database built by the
migrations and seeded with plain SQLAlchemy. One aiosmtpd sink in this process counts the
Message-IDs it accepts. The senders are separate Python processes (`python -c WORKER`) that
import the app's services (no Flask) and call `outbox.deliver_due` in a loop with a frozen
`now`, exactly as the scheduler job would.

1. Four processes, 400 pending rows, batches of 10, released together: every row is accepted
   by the sink exactly once and ends SENT after one attempt.
2. One process is SIGKILLed in the middle of a batch. A second sender at the same `now` takes
   only what the dead one had not claimed; once `now` passes the claim time, the stranded rows
   go out too. Nothing is lost; at most the one message in flight at the kill is sent twice,
   and it carries the same Message-ID (see app/services/outbox.py).

These tests use none of conftest.py's gunicorn fixtures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app import schema
from app.db import make_engine
from app.models import Booking, BookingStatus, Notification, NotificationChannel, User
from app.models import NotificationStatus as Status
from tests.load.conftest import BACKENDS, HOST, REPORT, ROOT, _throwaway_postgres, free_port

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
CLAIM_SECONDS = 300
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.M | re.I)

WORKER = r"""
import datetime as dt, json, os, sys, time
from app.db import make_engine
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker
from app.models import Notification, NotificationChannel, NotificationStatus
from app.services import mailer, notification_mail, outbox

env = os.environ
engine = make_engine(env["OUTBOX_DATABASE_URL"])
factory = sessionmaker(bind=engine, expire_on_commit=False)
now = dt.datetime.fromisoformat(env["OUTBOX_NOW"])
settings = outbox.DeliverySettings(
    batch_size=int(env["OUTBOX_BATCH"]), claim_seconds=float(env["OUTBOX_CLAIM"])
)
courier = notification_mail.MailCourier(
    mailer.MailSettings(
        sender="MentorHub <no-reply@mentorhub.test>",
        server="127.0.0.1",
        port=int(env["OUTBOX_SMTP_PORT"]),
        use_tls=False,
        timeout=30,
    ),
    notification_mail.ComposeSettings(
        base_url="http://mentorhub.test",
        sender="MentorHub <no-reply@mentorhub.test>",
        render=notification_mail.template_renderer(),
    ),
)
start = float(env.get("OUTBOX_START", "0"))
while time.time() < start:
    time.sleep(0.005)
total = outbox.DeliveryReport()
deadline = time.monotonic() + 120
while time.monotonic() < deadline:
    report = outbox.deliver_due(factory, now=now, settings=settings, courier=courier)
    for name in ("batches", "claimed", "sent", "retrying", "dead", "released"):
        setattr(total, name, getattr(total, name) + getattr(report, name))
    if report.claimed:
        continue
    if env.get("OUTBOX_ONCE"):
        break
    with factory() as session:
        left = session.scalar(
            select(func.count()).where(
                Notification.channel == NotificationChannel.EMAIL,
                Notification.status.in_([NotificationStatus.PENDING, NotificationStatus.FAILED]),
            )
        )
    if not left:
        break
    time.sleep(0.02)
print(json.dumps(total.__dict__), flush=True)
"""


# -- the sink and the seed -----------------------------------------------------------------------


class CountingSink:
    """Accepts everything; keeps each message's Message-ID. `delay` slows every DATA down."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.ids: list[str] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.delay:
            await asyncio.sleep(self.delay)
        found = MESSAGE_ID.search(envelope.content)
        with self._lock:
            self.ids.append(found.group(1).decode() if found else "?")
        return "250 OK"

    def count(self) -> int:
        with self._lock:
            return len(self.ids)


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    backend: str = request.param
    urls: Iterator[str] = (
        _throwaway_postgres() if backend == "postgres" else iter([f"sqlite:///{tmp_path}/o.db"])
    )
    url = next(urls)
    try:
        engine = make_engine(url)
        try:
            schema.upgrade(engine)
            yield url, engine
        finally:
            engine.dispose()
    finally:
        for _ in urls:  # drops the PostgreSQL database
            pass


def seed(engine: Engine, count: int) -> set[int]:
    """`count` pending confirmation mails (with invites), half to each participant."""
    tag = uuid.uuid4().hex[:8]
    with Session(engine) as session:
        mentor = User(
            email=f"mentor.{tag}@load.example.org", name="Kenji Tanaka", timezone="Asia/Tokyo"
        )
        mentee = User(
            email=f"mentee.{tag}@load.example.org", name="Nora Young", timezone="America/New_York"
        )
        session.add_all([mentor, mentee])
        session.flush()
        starts = NOW + dt.timedelta(days=2)
        booking = Booking(
            mentor_id=mentor.id,
            mentee_id=mentee.id,
            starts_at=starts,
            ends_at=starts + dt.timedelta(hours=1),
            mentor_timezone="Asia/Tokyo",
            status=BookingStatus.CONFIRMED,
            topic="Load",
            notes="",
            late_cancellation=False,
            reschedule_count=0,
            ical_sequence=0,
            version=1,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(booking)
        session.flush()
        for i in range(count):
            user = mentor if i % 2 else mentee
            session.add(
                Notification(
                    user_id=user.id,
                    kind="booking_confirmed",
                    booking_id=booking.id,
                    channel=NotificationChannel.EMAIL,
                    payload={
                        "status": "confirmed",
                        "starts_at": booking.starts_at.isoformat(),
                        "ends_at": booking.ends_at.isoformat(),
                        "mentor_id": mentor.id,
                        "mentee_id": mentee.id,
                        "mentor_name": mentor.name,
                        "mentee_name": mentee.name,
                        "actor_id": mentor.id,
                        "actor_name": mentor.name,
                        "recipient_role": "mentor" if user is mentor else "mentee",
                    },
                    dedupe_key=f"load:{tag}:{i}",
                    status=Status.PENDING,
                    attempts=0,
                    next_attempt_at=NOW,
                    created_at=NOW,
                )
            )
        session.commit()
        return set(session.scalars(select(Notification.id)))


def spawn(
    url: str, port: int, *, now: dt.datetime, batch: int, start: float = 0.0, once: bool = False
) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env.update(
        OUTBOX_DATABASE_URL=url,
        OUTBOX_SMTP_PORT=str(port),
        OUTBOX_NOW=now.isoformat(),
        OUTBOX_BATCH=str(batch),
        OUTBOX_CLAIM=str(CLAIM_SECONDS),
        OUTBOX_START=str(start),
        PYTHONPATH=str(ROOT),
    )
    if once:
        env["OUTBOX_ONCE"] = "1"
    return subprocess.Popen(
        [sys.executable, "-c", WORKER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc: subprocess.Popen[str]) -> dict[str, int]:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-4000:]
    return dict(json.loads(out.strip().splitlines()[-1]))


def statuses(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        return Counter(
            {
                str(status.value if hasattr(status, "value") else status): int(n)
                for status, n in session.execute(
                    select(Notification.status, func.count()).group_by(Notification.status)
                )
            }
        )


def expected_ids(ids: set[int]) -> set[str]:
    return {f"<notification-{i}." for i in ids}


def prefixes(message_ids: list[str]) -> Counter[str]:
    return Counter(m.split(".", 1)[0] + "." for m in message_ids)


@pytest.fixture
def sink_server() -> Iterator[tuple[CountingSink, int]]:
    sink = CountingSink()
    port = free_port()
    controller = Controller(sink, hostname=HOST, port=port)
    controller.start()
    try:
        yield sink, port
    finally:
        controller.stop()


# -- the tests ------------------------------------------------------------------------------------


def test_four_processes_deliver_four_hundred_rows_exactly_once(database, sink_server):
    url, engine = database
    sink, port = sink_server
    sink.delay = 0.002  # keep every process busy long enough to overlap
    ids = seed(engine, 400)
    start = time.time() + 4.0  # time for the four interpreters to start and import
    started = time.perf_counter()
    procs = [spawn(url, port, now=NOW, batch=10, start=start) for _ in range(4)]
    reports = [finish(p) for p in procs]
    seconds = time.perf_counter() - started - 4.0

    seen = prefixes(sink.ids)
    assert set(seen) == expected_ids(ids), "every row delivered"
    assert set(seen.values()) == {1}, "and none twice"
    assert len(sink.ids) == 400
    assert statuses(engine) == Counter({"sent": 400})
    with Session(engine) as session:
        assert set(session.scalars(select(Notification.attempts))) == {1}
    sent = [r["sent"] for r in reports]
    assert sum(sent) == 400
    assert sum(1 for s in sent if s) >= 2, f"the work was shared: {sent}"
    REPORT.append(
        f"[outbox {engine.dialect.name}] 4 processes x batches of 10: 400 mails, each once, "
        f"in {seconds:.1f} s; per process {sent}"
    )


def test_a_sender_killed_mid_batch_loses_nothing(database, sink_server):
    url, engine = database
    sink, port = sink_server
    sink.delay = 0.02
    ids = seed(engine, 120)
    victim = spawn(url, port, now=NOW, batch=50, once=True)
    deadline = time.monotonic() + 60
    while sink.count() < 15:
        assert victim.poll() is None, victim.communicate()[1][-4000:]
        assert time.monotonic() < deadline, "the victim never got going"
        time.sleep(0.005)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    time.sleep(0.2)  # let the sink finish a message that was already fully transmitted

    at_kill = statuses(engine)
    delivered_at_kill = sink.count()
    # The one message the sink accepted while the kill landed may not be recorded yet:
    # that is the documented at-least-once edge.
    assert delivered_at_kill - at_kill["sent"] in (0, 1), "at most the one in flight"
    assert at_kill["sent"] >= 14
    stranded = 50 - at_kill["sent"]
    assert at_kill["pending"] == 120 - at_kill["sent"]

    # Same `now`: the dead sender's claimed rows are not due; the other 70 go out.
    sink.delay = 0.0
    report = finish(spawn(url, port, now=NOW, batch=50, once=True))
    assert report["sent"] == 70
    assert statuses(engine)["pending"] == stranded

    # Once the claim time has passed, the stranded rows are due again and go out.
    later = NOW + dt.timedelta(seconds=CLAIM_SECONDS)
    report = finish(spawn(url, port, now=later, batch=50))
    assert report["sent"] == stranded
    assert statuses(engine) == Counter({"sent": 120})

    seen = prefixes(sink.ids)
    assert set(seen) == expected_ids(ids), "nothing lost"
    twice = [k for k, n in seen.items() if n > 1]
    assert len(twice) <= 1 and all(n <= 2 for n in seen.values())
    REPORT.append(
        f"[outbox {engine.dialect.name}] SIGKILL after {delivered_at_kill} of a batch of 50: "
        f"{stranded} stranded rows delivered after the claim time; "
        f"{len(twice)} message sent twice (same Message-ID)"
    )
