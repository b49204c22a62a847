"""Benchmark the email outbox: the delivery rate for N mails to a local SMTP sink.

Usage: .venv/bin/python scripts/bench_outbox.py [--mails 10000] [--batch 100]
       [--processes 1] [--database-url postgresql://...] [--profile]

Seeds N pending "booking_confirmed" mails (HTML + text + an iCalendar invite each, the
heaviest kind) into a fresh database (a temporary SQLite file by default; with
--database-url, a throwaway database is created on that PostgreSQL server and dropped after),
starts an aiosmtpd sink in its own process on 127.0.0.1, and runs `outbox.deliver_due` (the
scheduler job's call) in --processes sender processes until nothing is due. Prints mails per
second and the total time, and checks that the sink received every mail exactly once.
Measured, not asserted.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import multiprocessing as mp
import pstats
import re
import socket
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

# Runnable as a plain script from the repository root, without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app import schema
from app.config import normalize_database_url
from app.db import make_engine
from app.models import Booking, BookingStatus, Notification, NotificationChannel, User
from app.models import NotificationStatus as Status
from app.services import mailer, notification_mail, outbox

NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
HOST = "127.0.0.1"
SENDER = "MentorHub <no-reply@mentorhub.test>"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*<notification-(\d+)\.", re.M | re.I)


# -- the sink, in its own process (it must not share the sender's GIL) ---------------------------


def _sink_main(port: int, ready: Any, stop: Any, results: Any) -> None:
    from aiosmtpd.controller import Controller

    ids: list[int] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            found = MESSAGE_ID.search(envelope.content)
            ids.append(int(found.group(1)) if found else -1)
            return "250 OK"

    controller = Controller(Handler(), hostname=HOST, port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()
    results.put(ids)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# -- the database ---------------------------------------------------------------------------------


def seed(url: str, count: int) -> None:
    engine = make_engine(url)
    schema.upgrade(engine)
    tag = uuid.uuid4().hex[:8]
    with Session(engine) as session:
        mentor = User(
            email=f"mentor.{tag}@bench.example.org", name="Kenji Tanaka", timezone="Asia/Tokyo"
        )
        mentee = User(
            email=f"mentee.{tag}@bench.example.org",
            name="Nora Young",
            timezone="America/New_York",
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
            topic="Moving from support into engineering",
            notes="",
            meeting_url="https://meet.google.com/abc-defg-hij",
            late_cancellation=False,
            reschedule_count=0,
            ical_sequence=0,
            version=1,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(booking)
        session.flush()
        rows = []
        for i in range(count):
            user = mentor if i % 2 else mentee
            rows.append(
                {
                    "user_id": user.id,
                    "kind": "booking_confirmed",
                    "booking_id": booking.id,
                    "channel": NotificationChannel.EMAIL,
                    "payload": {
                        "status": "confirmed",
                        "starts_at": starts.isoformat(),
                        "ends_at": (starts + dt.timedelta(hours=1)).isoformat(),
                        "mentor_id": mentor.id,
                        "mentee_id": mentee.id,
                        "mentor_name": mentor.name,
                        "mentee_name": mentee.name,
                        "actor_id": mentor.id,
                        "actor_name": mentor.name,
                        "recipient_role": "mentor" if user is mentor else "mentee",
                        "topic": booking.topic,
                        "meeting_url": booking.meeting_url,
                    },
                    "dedupe_key": f"bench:{tag}:{i}",
                    "status": Status.PENDING,
                    "attempts": 0,
                    "next_attempt_at": NOW,
                    "created_at": NOW,
                }
            )
        for start in range(0, count, 2000):
            session.execute(insert(Notification), rows[start : start + 2000])
        session.commit()
    engine.dispose()


def _sender_main(url: str, port: int, batch: int, profile: bool, results: Any) -> None:
    engine = make_engine(url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    courier = notification_mail.MailCourier(
        mailer.MailSettings(sender=SENDER, server=HOST, port=port, use_tls=False, timeout=30),
        notification_mail.ComposeSettings(
            base_url="http://mentorhub.test",
            sender=SENDER,
            render=notification_mail.template_renderer(),
        ),
    )
    settings = outbox.DeliverySettings(batch_size=batch, max_batches=1_000_000)
    profiler = cProfile.Profile() if profile else None
    if profiler:
        profiler.enable()
    total = outbox.DeliveryReport()
    while True:
        report = outbox.deliver_due(factory, now=NOW, settings=settings, courier=courier)
        total.sent += report.sent
        total.claimed += report.claimed
        if not report.claimed:
            break
    if profiler:
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    engine.dispose()
    results.put(total.sent)


def throwaway_postgres(base: str) -> tuple[str, Any]:
    base_url = make_url(normalize_database_url(base))
    name = f"mentorhub_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base_url.set(database=name).render_as_string(hide_password=False), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=100, help="NOTIFY_BATCH_SIZE")
    parser.add_argument("--processes", type=int, default=1, help="sender processes")
    parser.add_argument("--database-url", default="", help="a PostgreSQL server to use")
    parser.add_argument("--profile", action="store_true", help="cProfile one sender")
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    cleanup = None
    with tempfile.TemporaryDirectory() as tmp:
        if args.database_url:
            url, cleanup = throwaway_postgres(args.database_url)
        else:
            url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        try:
            started = time.perf_counter()
            seed(url, args.mails)
            print(f"seeded {args.mails} mails in {time.perf_counter() - started:.1f} s ({url})")

            port = free_port()
            ready, stop, sink_results = ctx.Event(), ctx.Event(), ctx.Queue()
            sink = ctx.Process(target=_sink_main, args=(port, ready, stop, sink_results))
            sink.start()
            if not ready.wait(30):
                raise SystemExit("the SMTP sink did not start")

            sent_results = ctx.Queue()
            senders = [
                ctx.Process(
                    target=_sender_main,
                    args=(url, port, args.batch, args.profile and i == 0, sent_results),
                )
                for i in range(args.processes)
            ]
            started = time.perf_counter()
            for proc in senders:
                proc.start()
            sent = [sent_results.get(timeout=3600) for _ in senders]
            seconds = time.perf_counter() - started
            for proc in senders:
                proc.join()
            stop.set()
            received: list[int] = sink_results.get(timeout=60)
            sink.join()

            engine = make_engine(url)
            with Session(engine) as session:
                states = dict(
                    session.execute(
                        select(Notification.status, func.count()).group_by(Notification.status)
                    ).all()
                )
            engine.dispose()
            counts = Counter(received)
            duplicates = sum(n - 1 for n in counts.values() if n > 1)
            print(
                f"outbox: {sum(sent)} mails in {seconds:.2f} s = {sum(sent) / seconds:.0f} "
                f"mails/second ({args.processes} sender process(es), batches of {args.batch}, "
                f"{make_url(url).get_backend_name()}; includes process start-up)"
            )
            print(
                f"sink received {len(received)} messages, {len(counts)} distinct, "
                f"{duplicates} duplicates; rows by status: "
                + ", ".join(f"{getattr(k, 'value', k)}={v}" for k, v in states.items())
            )
            ok = len(counts) == args.mails and duplicates == 0
            return 0 if ok else 1
        finally:
            if cleanup is not None:
                cleanup()


if __name__ == "__main__":
    sys.exit(main())
