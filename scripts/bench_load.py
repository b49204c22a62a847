# ruff: noqa: E501, S311, S603  (report lines read best unwrapped; random picks of bench people;
# the commands run are this repository's own tools)
"""Load benchmark (issue 9): MentorHub under gunicorn on PostgreSQL with a generated program,
driven by Locust from loopback, against a bare Flask page served the same way.

Usage: .venv/bin/python scripts/bench_load.py [--database-url URL] [--fresh] [--write]
       [--users 100] [--seconds 60] [--storm 200] [--slots 5]
       [--mentors 10000 --mentees 50000 --sessions 1000000 --years 2]
       (`make bench-load`, part of `make bench`, passes --write)

What it does, in order:

1. **Data.** A database named mentorhub_bench on the PostgreSQL server of --database-url
   (default $TEST_DATABASE_URL). It is kept between runs: the first run creates it, builds the
   schema (`flask init-db`) and fills it with `flask generate-program` at the issue's size
   (about seven minutes); later runs reuse it. --fresh drops and regenerates it.
2. **People.** Fresh sign-in tokens for the simulated people: mentees chosen at random,
   mentors who have requests waiting, and four bench admins (made once). Each signs in
   through the real email-link flow when Locust starts them.
3. **Servers.** MentorHub under gunicorn with gunicorn.conf.py (WEB_CONCURRENCY workers,
   default one per core plus one; GUNICORN_THREADS threads each, default 1; --workers and
   --threads override), MENTORHUB_ENV=production, the in-process scheduler on (reminders,
   mail, the session-count fold run as they would). Two settings differ
   from production, because the load comes from one address and a handful of people:
   RATELIMIT_ENABLED=false and the booking policy limits (3 active sessions, 3 new per hour
   per mentee) raised to 1,000. The floor (scripts/bench_floor.py) runs under the same
   gunicorn.conf.py.
4. **Runs** (Locust, scripts/locustfile.py; 100 users each):
   * warm-up: 15 s of the mix without pauses, not reported (caches, PostgreSQL's buffers);
   * floor: the bare page, no pauses: the most this server configuration and this load
     generator can do here;
   * paced mix: 100 people who pause --pause seconds (2 to 8) between steps, reading the
     page, for --seconds after they have all arrived (5 a second, each signing in first).
     The per-page latencies and the budgets come from this run;
   * paced mix with the storm: the same again, and half-way through the booking storm:
     --storm more mentees (signed in beforehand), each holding an open connection, send
     their booking of one of --slots free times at the same instant;
   * saturated mix: the same people without pauses, for half of --seconds: the most
     MentorHub does per second, compared with the floor.
   --paced-only runs the warm-up and the paced run and prints that table, nothing else
   (about two minutes: to compare server settings).
5. **Checks.** After the storm, SQL counts the active sessions at each of the slots: exactly
   one each, or the command fails (exit status 1). Speed budgets are printed as met or not,
   never asserted.

Locust runs on the same two cores as the servers and PostgreSQL (its own CPU share is
printed). Numbers are this machine's; compare runs on the same machine.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import http.client
import json
import os
import random
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app.config import normalize_database_url  # noqa: E402
from app.models import (  # noqa: E402
    ACTIVE_STATUSES,
    Booking,
    BookingStatus,
    ExpertiseTag,
    MentorProfile,
    MentorStatus,
    User,
)
from app.services import schedule, slot_engine  # noqa: E402
from app.services.auth import issue_sign_in_token  # noqa: E402
from scripts.bench_machine import describe  # noqa: E402
from scripts.bench_patterns import CSRF_FIELD, CSRF_HEADER  # noqa: E402

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
DATABASE = "mentorhub_bench"
BENCHMARKS = ROOT / "docs" / "BENCHMARKS.md"
SECTION = "## Load"
ADMINS = 4
MENTORS = 8
# name -> (budget for p95 in ms), from issue 9.
BUDGETS = {
    "discovery: directory": 60,
    "discovery: search results": 60,
    "profile: mentor page": 60,
    "booking: book": 100,
    "other: admin overview": 250,
}
THROUGHPUT_BUDGET = 0.40
PACED_ARRIVALS = 5  # paced people starting per second


# -- the database -------------------------------------------------------------------------------


def bench_url(server_url: str) -> str:
    return (
        make_url(normalize_database_url(server_url))
        .set(database=DATABASE)
        .render_as_string(hide_password=False)
    )


def ensure_data(server_url: str, args: argparse.Namespace) -> str:
    """The bench database's URL; created and generated when missing (or --fresh)."""
    admin = create_engine(
        make_url(normalize_database_url(server_url)), isolation_level="AUTOCOMMIT"
    )
    url = bench_url(server_url)
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE})
        if exists and args.fresh:
            conn.execute(text(f'DROP DATABASE "{DATABASE}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            has_schema = conn.scalar(text("SELECT to_regclass('public.bookings') IS NOT NULL"))
            sessions = conn.scalar(text("SELECT count(*) FROM bookings")) if has_schema else 0
    finally:
        engine.dispose()
    if not sessions:
        env = {**os.environ, "DATABASE_URL": url}
        print(f"Generating the program in {DATABASE} (first run; takes minutes)...", flush=True)
        flask = [str(BIN / "flask"), "--app", "wsgi"]
        subprocess.run([*flask, "init-db"], cwd=ROOT, env=env, check=True)
        sizes = [
            f"--mentors={args.mentors}",
            f"--mentees={args.mentees}",
            f"--sessions={args.sessions}",
            f"--years={args.years}",
            "--seed=1",
        ]
        subprocess.run([*flask, "generate-program", *sizes], cwd=ROOT, env=env, check=True)
    return url


def drain_backlog(url: str, tmp: Path) -> int:
    """Run the scheduler's jobs until no mail is due, before anything is measured; the number
    of rounds. A generated program's history (or the hours since the last run) leaves reminders
    and prompts to send at once that a live program would have sent over time: measured
    pages must not compete with that catch-up."""
    from app import create_app
    from app.jobs import run_jobs

    app = create_app(
        {
            "DATABASE_URL": url,
            "SECRET_KEY": secrets.token_hex(32),
            "SCHEDULER_ENABLED": False,
            "MAIL_SERVER": "",
            "MAIL_KEEP_DIR": str(tmp / "mail"),
            "LOG_LEVEL": "WARNING",
        }
    )
    engine = create_engine(url)
    due = text(
        "SELECT count(*) FROM notifications WHERE channel = 'email'"
        " AND status IN ('pending', 'failed') AND next_attempt_at <= now()"
    )
    rounds = 0
    try:
        for rounds in range(1, 101):  # noqa: B007  (the count is the answer)
            run_jobs(app)
            with engine.connect() as conn:
                if not conn.scalar(due):
                    break
    finally:
        engine.dispose()
    return rounds


@dataclass
class Plan:
    mentees: list[int]
    storm_mentees: list[int]
    mentors: list[int]  # user ids of mentors with requests waiting
    admins: list[int]
    profiles: list[int]  # approved mentor profile ids, for the directory's people to visit
    expertise: list[str]
    words: list[str]
    storm_slots: list[tuple[int, int, dt.datetime]] = field(
        default_factory=list
    )  # (profile, mentor user, start)
    counts: dict[str, int] = field(default_factory=dict)


def _bench_admins(session: Session) -> list[int]:
    now = dt.datetime.now(dt.UTC)
    ids = []
    for i in range(ADMINS):
        email = f"bench-admin-{i}@bench.mentorhub.test"
        user = session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(
                email=email,
                name=f"Bench Admin {i}",
                timezone="Europe/Berlin",
                is_admin=True,
                created_at=now,
            )
            session.add(user)
            session.flush()
        ids.append(user.id)
    return ids


def make_plan(url: str, args: argparse.Namespace, rng: random.Random) -> Plan:
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        counts = {
            "mentors (approved)": session.scalar(
                select(func.count(MentorProfile.id)).where(
                    MentorProfile.status == MentorStatus.APPROVED
                )
            )
            or 0,
            "people": session.scalar(select(func.count(User.id))) or 0,
            "sessions": session.scalar(select(func.count(Booking.id))) or 0,
        }
        profiles = list(
            session.scalars(
                select(MentorProfile.id).where(MentorProfile.status == MentorStatus.APPROVED)
            )
        )
        # Mentees: active people who are not mentors and not admins, at random.
        mentee_ids = list(
            session.scalars(
                text(
                    "SELECT u.id FROM users u WHERE u.is_active AND NOT u.is_admin AND NOT EXISTS"
                    " (SELECT 1 FROM mentor_profiles p WHERE p.user_id = u.id)"
                    " ORDER BY random() LIMIT :n"
                ),
                {"n": args.users + args.storm},
            )
        )
        waiting = list(
            session.scalars(
                select(Booking.mentor_id)
                .where(
                    Booking.status == BookingStatus.REQUESTED,
                    Booking.starts_at > now + dt.timedelta(days=1),
                )
                .group_by(Booking.mentor_id)
                .order_by(func.count().desc())
                .limit(MENTORS)
            )
        )
        admins = _bench_admins(session)
        tags = list(session.scalars(select(ExpertiseTag.slug)))
        names = list(session.scalars(text("SELECT name FROM expertise_tags")))
        words = sorted({w.lower() for n in names for w in n.split() if len(w) > 3})
        words += ["maria", "chen", "data", "lead", "design", "product"]
        session.commit()
        plan = Plan(
            mentees=mentee_ids[: args.users],
            storm_mentees=mentee_ids[args.users :],
            mentors=waiting,
            admins=admins,
            profiles=profiles,
            expertise=tags,
            words=words,
            counts=counts,
        )
        plan.storm_slots = _storm_slots(session, profiles, args.slots, now, rng)
    engine.dispose()
    return plan


def _storm_slots(
    session: Session, profiles: list[int], count: int, now: dt.datetime, rng: random.Random
) -> list[tuple[int, int, dt.datetime]]:
    """`count` free times of different mentors, one to two weeks ahead (far from the notice
    period, inside every horizon), found with the same slot engine the booking uses."""
    found: list[tuple[int, int, dt.datetime]] = []
    for profile_id in rng.sample(profiles, min(len(profiles), 200)):
        profile = session.get(MentorProfile, profile_id)
        if profile is None:
            continue
        data = schedule.load(session, profile, now)
        free = slot_engine.slots(
            data.engine,
            data.busy,
            now=now,
            window_start=now + dt.timedelta(days=7),
            window_end=now + dt.timedelta(days=14),
        )
        if free:
            found.append((profile_id, profile.user_id, rng.choice(free).starts_at))
        if len(found) == count:
            return found
    raise SystemExit(f"only {len(found)} mentors with free times a week ahead; need {count}")


def issue_tokens(url: str, user_ids: list[int]) -> list[str]:
    """One fresh single-use sign-in token per person, as the sign-in form would mail it."""
    engine = create_engine(url)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as session:
        users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(user_ids)))}
        raws = [
            issue_sign_in_token(session, users[uid], now=now, ttl_minutes=120).raw_token
            for uid in user_ids
        ]
        session.commit()
    engine.dispose()
    return raws


# -- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, module: str, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        env = {**env, "HOST": HOST, "PORT": str(self.port)}
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", module],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{module} exited while starting:\n{log_path.read_text()[-3000:]}")
            try:
                conn = http.client.HTTPConnection(HOST, self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise SystemExit(f"{module} did not answer /healthz:\n{log_path.read_text()[-3000:]}")

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def errors_in_log(self) -> list[str]:
        log = self.log_path.read_text(errors="replace")
        return [
            line
            for line in log.splitlines()
            if "Traceback" in line
            or "WORKER TIMEOUT" in line
            or '"level": "error"' in line
            or '"level": "critical"' in line
        ]


def server_env(url: str, workers: int, threads: int, tmp: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MENTORHUB_START_SCHEDULER", "TEST_DATABASE_URL")
    }
    env.update(
        WEB_CONCURRENCY=str(workers),
        GUNICORN_THREADS=str(threads),
        DATABASE_URL=url,
        MENTORHUB_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        SESSION_COOKIE_SECURE="false",  # plain http on loopback
        RATELIMIT_ENABLED="false",
        REDIS_URL="",
        SCHEDULER_ENABLED="true",
        BASE_URL=f"http://{HOST}",
        MAIL_SERVER="",
        MAIL_KEEP_DIR=str(tmp / "mail"),
        BOOKING_MAX_ACTIVE_PER_MENTEE="1000",
        BOOKING_MAX_NEW_PER_HOUR="1000",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


# -- Locust -------------------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    count: int
    failures: int
    rps: float
    p50: float
    p95: float
    p99: float
    mean: float


@dataclass
class Run:
    label: str
    seconds: float
    rows: list[Row]
    total_rps: float
    locust_cpu: float  # share of one core the load generator used

    def row(self, name: str) -> Row | None:
        return next((r for r in self.rows if r.name == name), None)

    def pages(self) -> list[Row]:
        return [r for r in self.rows if not r.name.startswith("sign-in") and r.name != "Aggregated"]


def _number(cell: str) -> float:
    """A CSV cell of Locust's; "N/A" (no request after the reset) reads as 0."""
    try:
        return float(cell)
    except ValueError:
        return 0.0


def run_locust(
    label: str,
    host: str,
    classes: list[str],
    plan_file: Path,
    users: int,
    seconds: int,
    pacing: str,
    tmp: Path,
    during: Any = None,
    pause: str = "2,8",
) -> Run:
    prefix = tmp / label.replace(" ", "-")
    # Paced people arrive PACED_ARRIVALS a second: each signs in first (three requests), and
    # a hundred at once would leave a queue that the measured part starts with. Statistics
    # are reset once everyone has arrived (--reset-stats); the run lasts `seconds` after that.
    rate = users if pacing == "saturated" else PACED_ARRIVALS
    ramp = 0 if pacing == "saturated" else -(-users // rate)
    env = {
        **os.environ,
        "MENTORHUB_BENCH_PLAN": str(plan_file),
        "MENTORHUB_BENCH_PACING": pacing,
        "MENTORHUB_BENCH_MENTORS": str(MENTORS),
        "MENTORHUB_BENCH_ADMINS": str(ADMINS),
        "MENTORHUB_BENCH_PAUSE": pause,
    }
    command = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "scripts" / "locustfile.py"),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(rate),
        "--run-time",
        f"{seconds + ramp}s",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--only-summary",
        "--reset-stats",
        "--stop-timeout",
        "10",
        "--loglevel",
        "WARNING",
        *classes,
    ]
    # The CPU of children waited for: only Locust ends inside this window (the servers are
    # reaped when they stop), so the difference is Locust's own.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with (tmp / f"{prefix.name}.log").open("wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started = time.monotonic()
        if during is not None:
            during()
        proc.wait()
        elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = []
    with open(f"{prefix}_stats.csv") as fh:
        for record in csv.DictReader(fh):
            if not int(record["Request Count"]):
                continue
            rows.append(
                Row(
                    name=record["Name"],
                    count=int(record["Request Count"]),
                    failures=int(record["Failure Count"]),
                    rps=_number(record["Requests/s"]),
                    p50=_number(record["50%"]),
                    p95=_number(record["95%"]),
                    p99=_number(record["99%"]),
                    mean=_number(record["Average Response Time"]),
                )
            )
    if proc.returncode not in (0, 1):  # 1: some requests failed, which the table shows
        raise SystemExit(f"locust failed ({proc.returncode}): see {tmp}")
    total = next((r.rps for r in rows if r.name == "Aggregated"), 0.0)
    return Run(label, elapsed - ramp, rows, total, cpu / max(elapsed, 1e-9))


def write_plan(plan: Plan, url: str, tmp: Path, users: int) -> Path:
    """The plan file Locust reads, with fresh sign-in tokens for this run's people."""
    mentees = plan.mentees[:users]
    data = {
        "tokens": {
            "mentee": issue_tokens(url, mentees),
            "mentor": issue_tokens(url, plan.mentors),
            "admin": issue_tokens(url, plan.admins),
        },
        "home": {
            "mentee": "/mentor-hub/mentors",
            "mentor": "/mentor-hub/sessions",
            "admin": "/admin/mentorship",
        },
        "mentors": plan.profiles,
        "expertise": plan.expertise,
        "words": plan.words,
    }
    path = tmp / f"plan-{secrets.token_hex(4)}.json"
    path.write_text(json.dumps(data))
    return path


# -- the booking storm --------------------------------------------------------------------------


class Client:
    """One storm mentee over http.client: cookies, CSRF token."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def send(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        sent = {"Host": f"{HOST}:{self.port}", **(headers or {})}
        body = urlencode(form).encode() if form is not None else None
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=sent)
        reply = conn.getresponse()
        data = reply.read().decode("utf-8", "replace")
        for header in reply.msg.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return reply.status, data

    def sign_in(self, token: str, page: str) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            status, body = self.send(conn, "GET", f"/auth/link/{token}")
            match = CSRF_FIELD.search(body)
            if status != 200 or match is None:
                raise RuntimeError(f"storm sign-in page answered {status}")
            status, _ = self.send(
                conn, "POST", f"/auth/link/{token}", {"csrf_token": match.group(1)}
            )
            status, body = self.send(conn, "GET", page)
            match = CSRF_HEADER.search(body)
            if status != 200 or match is None:
                raise RuntimeError(f"storm mentee not signed in ({status})")
            self.csrf = match.group(1)
        finally:
            conn.close()


@dataclass
class Storm:
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    active_per_slot: list[int] = field(default_factory=list)


def storm_clients(port: int, url: str, plan: Plan) -> list[Client]:
    tokens = issue_tokens(url, plan.storm_mentees)
    clients = [Client(port) for _ in tokens]
    page = f"/mentor-hub/mentors/{plan.storm_slots[0][0]}"
    threads = []
    problems: list[str] = []

    def sign(chunk: list[tuple[Client, str]]) -> None:
        for client, token in chunk:
            try:
                client.sign_in(token, page)
            except (OSError, RuntimeError) as exc:
                problems.append(repr(exc))

    pairs = list(zip(clients, tokens, strict=True))
    for i in range(8):
        thread = threading.Thread(target=sign, args=(pairs[i::8],))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    if problems:
        raise SystemExit(f"storm sign-in failed: {problems[:3]}")
    return clients


def run_storm(clients: list[Client], plan: Plan, storm: Storm) -> None:
    """Every client opens its connection, waits at the barrier, then books its slot."""
    barrier = threading.Barrier(len(clients))
    lock = threading.Lock()

    def book(client: Client, slot: tuple[int, int, dt.datetime]) -> None:
        profile_id, _, starts_at = slot
        conn = http.client.HTTPConnection(HOST, client.port, timeout=120)
        try:
            conn.connect()
            barrier.wait(timeout=60)
            started = time.perf_counter()
            status, _ = client.send(
                conn,
                "POST",
                f"/mentor-hub/mentors/{profile_id}/book",
                {"starts_at": starts_at.isoformat(), "topic": "Storm", "week": "1"},
                {"HX-Request": "true", "X-CSRFToken": client.csrf},
            )
            with lock:
                storm.statuses[status] += 1
                storm.seconds.append(time.perf_counter() - started)
        except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as exc:
            with lock:
                storm.errors.append(repr(exc))
        finally:
            conn.close()

    threads = [
        threading.Thread(target=book, args=(client, plan.storm_slots[i % len(plan.storm_slots)]))
        for i, client in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def count_active(url: str, plan: Plan) -> list[int]:
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return [
                session.scalar(
                    select(func.count(Booking.id)).where(
                        Booking.mentor_id == mentor_id,
                        Booking.starts_at == starts_at,
                        Booking.status.in_(ACTIVE_STATUSES),
                    )
                )
                or 0
                for _, mentor_id, starts_at in plan.storm_slots
            ]
    finally:
        engine.dispose()


# -- the report ---------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def paced_table(paced: Run, args: argparse.Namespace) -> str:
    """The paced run's table per page (with the budgets), its mix and its errors."""
    lines: list[str] = []
    add = lines.append
    add("| Page | Requests | rps | p50 ms | p95 ms | p99 ms | Errors | Error rate | p95 budget |")
    add("|---|---|---|---|---|---|---|---|---|")
    for row in sorted(paced.pages(), key=lambda r: r.name):
        budget = BUDGETS.get(row.name)
        verdict = (
            ""
            if budget is None
            else (f"< {budget}: met" if row.p95 < budget else f"< {budget}: **not met**")
        )
        rate = row.failures / row.count if row.count else 0.0
        add(
            f"| {row.name} | {row.count} | {row.rps:.1f} | {row.p50:.0f} | {row.p95:.0f} | "
            f"{row.p99:.0f} | {row.failures} | {rate:.2%} | {verdict} |"
        )
    mix = Counter[str]()
    for row in paced.pages():
        if row.name.startswith("booking: book (409"):
            mix["booking"] += row.count
        else:
            mix[row.name.split(":", 1)[0]] += row.count
    total = sum(mix.values()) or 1
    add("")
    add(
        "Mix measured: "
        + ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(mix.items(), key=lambda kv: -kv[1]))
        + " (asked: discovery 40 %, booking 30 %, profile 20 %, other 10 %)."
    )
    errors = sum(r.failures for r in paced.pages())
    expected = sum(r.count for r in paced.pages() if "409" in r.name)
    add(f"Errors: {errors}; expected 409s (a time just taken by someone faster): {expected}.")
    return "\n".join(lines)


def report(
    paced: Run,
    stormy: Run,
    saturated: Run,
    floor: Run,
    storm: Storm,
    plan: Plan,
    args: argparse.Namespace,
    pg_version: str,
) -> tuple[str, bool]:
    """Markdown for docs/BENCHMARKS.md, and whether the storm's invariant held."""
    lines: list[str] = []
    add = lines.append
    today = dt.datetime.now(dt.UTC).date().isoformat()
    add(f"Measured {today} on {describe()}; PostgreSQL {pg_version} on the same machine.")
    add("")
    add(
        "Command: `make bench-load` (= `.venv/bin/python scripts/bench_load.py --write`; "
        "see its docstring for every step). "
        f"Data: `flask generate-program` at {plan.counts['people']:,} people, "
        f"{plan.counts['mentors (approved)']:,} approved mentors, {plan.counts['sessions']:,} sessions. "
        f"Server: gunicorn, gunicorn.conf.py, {args.workers} workers x {args.threads} threads, "
        "MENTORHUB_ENV=production, scheduler on, rate limits off (one source address) and the "
        "booking policy limits raised. Load: Locust 2.47 (FastHttpUser) on the same 2 cores, "
        f"{args.users} users ({args.users - MENTORS - ADMINS} mentees, {MENTORS} mentors, "
        f"{ADMINS} admins), each signed in through the email link."
    )
    add("")
    add(
        f"### Paced: {args.users} people pausing {args.pause.replace(',', '-')} s between steps, {paced.seconds:.0f} s "
        f"({paced.total_rps:.0f} requests/s; Locust used {paced.locust_cpu:.0%} of a core)"
    )
    add("")
    add(paced_table(paced, args))
    add("")
    held = storm.active_per_slot == [1] * len(plan.storm_slots) and not storm.errors
    add(
        f"### Booking storm during a second paced run: {len(storm.seconds) + len(storm.errors)} mentees, "
        f"{len(plan.storm_slots)} free times"
    )
    add("")
    add(
        "Answers: "
        + ", ".join(f"{status}: {n}" for status, n in sorted(storm.statuses.items()))
        + (f"; transport errors: {len(storm.errors)}" if storm.errors else "")
        + f". Latency p50 {_percentile(storm.seconds, 0.5) * 1000:.0f} ms, "
        f"p95 {_percentile(storm.seconds, 0.95) * 1000:.0f} ms, max {max(storm.seconds, default=0) * 1000:.0f} ms. "
        f"Active sessions per slot afterwards (SQL): {storm.active_per_slot}: "
        + ("exactly one each." if held else "**NOT exactly one each**.")
    )
    agg = stormy.row("Aggregated")
    if agg is not None:
        add("")
        add(
            f"The people's requests during that run: {stormy.total_rps:.0f} requests/s, p50 "
            f"{agg.p50:.0f} ms, p95 {agg.p95:.0f} ms, p99 {agg.p99:.0f} ms, {agg.failures} errors "
            f"(the storm's {len(storm.seconds)} bookings wait in the same queue)."
        )
    add("")
    ratio = saturated.total_rps / floor.total_rps if floor.total_rps else 0.0
    add(f"### Throughput: no pauses, {args.users} users")
    add("")
    add("| Run | rps | p50 ms | p95 ms | p99 ms | Errors | Locust CPU |")
    add("|---|---|---|---|---|---|---|")
    for run in (floor, saturated):
        agg = run.row("Aggregated")
        if agg is None:
            continue
        add(
            f"| {run.label} | {run.total_rps:.0f} | {agg.p50:.0f} | {agg.p95:.0f} | {agg.p99:.0f} | "
            f"{agg.failures} | {run.locust_cpu:.0%} of a core |"
        )
    add("")
    add(
        f"Mixed throughput is {ratio:.0%} of the floor (budget: at least {THROUGHPUT_BUDGET:.0%}: "
        + ("met" if ratio >= THROUGHPUT_BUDGET else "**not met**")
        + ")."
    )
    add("")
    add("Per page without pauses:")
    add("")
    add("| Page | Requests | p50 ms | p95 ms | p99 ms | Errors |")
    add("|---|---|---|---|---|---|")
    for row in sorted(saturated.pages(), key=lambda r: r.name):
        add(
            f"| {row.name} | {row.count} | {row.p50:.0f} | {row.p95:.0f} | {row.p99:.0f} | {row.failures} |"
        )
    return "\n".join(lines), held


def write_section(body: str) -> None:
    text_ = BENCHMARKS.read_text()
    start = text_.index(SECTION)
    end = text_.find("\n## ", start + len(SECTION))
    new = f"{SECTION}\n\n{body}\n"
    text_ = text_[:start] + new + (text_[end:] if end != -1 else "")
    BENCHMARKS.write_text(text_)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument(
        "--fresh", action="store_true", help="drop and regenerate the bench database"
    )
    parser.add_argument(
        "--write", action="store_true", help="write the Load section of docs/BENCHMARKS.md"
    )
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--pause", default="2,8", help="the paced people's pause between steps: LOW,HIGH seconds"
    )
    parser.add_argument(
        "--paced-only",
        action="store_true",
        help="warm-up and the paced run only, printed (to compare server settings quickly)",
    )
    parser.add_argument("--storm", type=int, default=200)
    parser.add_argument("--slots", type=int, default=5)
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1)),
    )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", 1)))
    parser.add_argument("--mentors", type=int, default=10_000)
    parser.add_argument("--mentees", type=int, default=50_000)
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--years", type=int, default=2)
    args = parser.parse_args()
    if not normalize_database_url(args.database_url).startswith("postgresql"):
        raise SystemExit(
            "the load benchmark runs on PostgreSQL: pass --database-url postgresql://..."
        )

    url = ensure_data(args.database_url, args)
    rng = random.Random()
    plan = make_plan(url, args, rng)
    engine = create_engine(url)
    with engine.connect() as conn:
        pg_version = str(conn.scalar(text("SHOW server_version"))).split()[0]
    engine.dispose()
    print(
        f"Data: {plan.counts}. Storm slots: "
        + ", ".join(f"profile {p} at {s:%Y-%m-%d %H:%M}Z" for p, _, s in plan.storm_slots),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="mentorhub-load-") as tmp_name:
        tmp = Path(tmp_name)
        started = time.monotonic()
        rounds = drain_backlog(url, tmp)
        print(
            f"scheduler backlog drained: {rounds} round(s), {time.monotonic() - started:.0f} s",
            flush=True,
        )
        env = server_env(url, args.workers, args.threads, tmp)
        app = Server("wsgi:app", env, tmp / "app.log")
        try:
            short = max(15, args.seconds // 2)

            def mix(label: str, seconds: int, pacing: str, **more: Any) -> Run:
                """One Locust run of the mentees, mentors and admins against MentorHub."""
                plan_file = write_plan(plan, url, tmp, args.users)
                return run_locust(
                    label, app.base, ["Mentee", "Mentor", "Admin"], plan_file, args.users,
                    seconds, pacing, tmp, pause=args.pause, **more,
                )  # fmt: skip

            print("warm-up (15 s, not reported)...", flush=True)
            mix("warm-up", 15, "saturated")
            if args.paced_only:
                paced = mix("paced mix", args.seconds, "paced")
                print(paced_table(paced, args))
                return 0

            floor_server = Server("scripts.bench_floor:app", env, tmp / "floor.log")
            try:
                print("floor...", flush=True)
                floor = run_locust(
                    "floor (bare Flask page)", floor_server.base, ["Floor"],
                    write_plan(plan, url, tmp, 0), args.users, short, "saturated", tmp,
                )  # fmt: skip
            finally:
                floor_server.stop()

            clients = storm_clients(app.port, url, plan)
            storm = Storm()

            def storm_midway() -> None:
                time.sleep(-(-args.users // PACED_ARRIVALS) + args.seconds / 2)
                run_storm(clients, plan, storm)

            print(f"paced mix ({args.seconds} s)...", flush=True)
            paced = mix("paced mix", args.seconds, "paced")
            # The storm gets a paced run of its own: 200 bookings at one instant queue every
            # request behind them for seconds, which says nothing about normal load.
            print(f"paced mix with the storm ({args.seconds} s, storm half-way)...", flush=True)
            stormy = mix("paced mix with the storm", args.seconds, "paced", during=storm_midway)
            storm.active_per_slot = count_active(url, plan)

            print("saturated mix...", flush=True)
            saturated = mix("MentorHub mix", short, "saturated")
            server_errors = app.errors_in_log()
        finally:
            app.stop()
    body, held = report(paced, stormy, saturated, floor, storm, plan, args, pg_version)
    if server_errors:
        body += "\n\nServer log errors:\n\n```\n" + "\n".join(server_errors[:20]) + "\n```"
    print()
    print(body)
    if args.write:
        write_section(body)
        print(f"\nwrote the Load section of {BENCHMARKS.relative_to(ROOT)}")
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
