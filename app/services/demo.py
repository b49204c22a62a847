"""Demo data: a realistic mentorship program built relative to `now`.

`make run` seeds it when the database is empty and `flask seed-demo` on request.
Everything is derived from a fixed random seed and `now`, so two runs with the
same inputs produce the same program.

The bookings obey the same rules as real ones, because PostgreSQL checks some of
them itself and the pages assume the rest:
- no two bookings of one mentor (with the mentor's buffer) or of one mentee overlap,
  whatever their status, so the exclusion constraints can never fire;
- every booking starts inside the mentor's weekly hours (wall clock in the mentor's
  zone, never on a blocked or replaced date) and lasts exactly session_minutes;
- upcoming requested/confirmed sessions respect minimum notice (at least 12 h) and
  the booking horizon, and no mentee holds more than 3 active bookings.

All demo addresses use the reserved .test domain, so configuring a real SMTP
server can never mail a stranger.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import (
    ACTIVE_STATUSES,
    Attendance,
    AttendanceOutcome,
    AuditEvent,
    AvailabilityException,
    AvailabilityRule,
    Booking,
    BookingStatus,
    ExpertiseTag,
    MentorProfile,
    MentorStatus,
    User,
)
from app.models.availability import ExceptionKind
from app.services import audit, mentor_index
from app.services.demo_follow_through import seed_follow_through
from app.services.errors import DomainError
from app.services.taxonomy import ensure_taxonomy

DEFAULT_SEED = 20261118

ADMIN_EMAIL = "admin@mentorhub.test"
MENTOR_EMAIL = "mentor@mentorhub.test"
MENTEE_EMAIL = "mentee@mentorhub.test"

# How far the program reaches: eight weeks of history, three weeks of upcoming sessions.
HISTORY_DAYS = 56
UPCOMING_DAYS = 21
# The policy caps active bookings per mentee at 3; the persona keeps one free so the
# demo can show booking a session.
MAX_ACTIVE_PER_MENTEE = 3
MAX_ACTIVE_PERSONA = 2
SLOT_STEP = dt.timedelta(minutes=30)


class DemoDataExists(DomainError):
    """The database already has users: seeding demo data there would mix fake and real."""

    status_code = 409


@dataclass(frozen=True)
class DemoSummary:
    users: int
    admins: int
    approved_mentors: int
    pending_applications: int
    rejected_applications: int
    mentees: int
    mentor_timezones: int
    expertise_tags_added: int
    availability_rules: int
    availability_exceptions: int
    bookings: int
    bookings_by_status: dict[str, int]
    attendance: int
    audit_events: int

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        by_status = ", ".join(f"{k} {v}" for k, v in sorted(self.bookings_by_status.items()))
        return (
            f"{self.users} users ({self.admins} admin, {self.approved_mentors} mentors in "
            f"{self.mentor_timezones} time zones, {self.pending_applications} pending and "
            f"{self.rejected_applications} rejected applications, {self.mentees} mentees); "
            f"{self.availability_rules} weekly rules, {self.availability_exceptions} exceptions; "
            f"{self.bookings} sessions ({by_status}); {self.attendance} attendance records; "
            f"{self.expertise_tags_added} expertise tags added; {self.audit_events} audit events"
        )


# ---------------------------------------------------------------------------
# The cast
# ---------------------------------------------------------------------------

Rule = tuple[int, str, str]  # weekday (0 = Monday), local start "HH:MM", local end "HH:MM"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


@dataclass(frozen=True)
class _MentorSeed:
    email: str
    name: str
    timezone: str
    headline: str
    bio: str
    expertise: tuple[str, ...]
    languages: tuple[str, ...]
    session_minutes: int
    buffer_minutes: int
    requires_confirmation: bool
    meeting_url: str
    rules: tuple[Rule, ...]
    min_notice_hours: int = 12
    horizon_days: int = 28


MENTORS: tuple[_MentorSeed, ...] = (
    _MentorSeed(
        email=MENTOR_EMAIL,
        name="Morgan Mentor",
        timezone="Europe/London",
        headline="Staff engineer helping developers grow into technical leadership",
        bio=(
            "I've spent fifteen years building web platforms, first at a small agency in "
            "Manchester and now as a staff engineer on a payments team in London. Most of my "
            "days go to architecture reviews, mentoring and untangling production incidents.\n\n"
            "In our sessions we can work through a design you're unsure about, plan your path "
            "from senior to staff, or practise for a system design interview. I like to end "
            "each session with one concrete next step.\n\n"
            "Outside work I run a monthly Python meetup and cycle far too slowly up hills."
        ),
        expertise=(
            "Web Development",
            "Cloud & DevOps",
            "Leadership & Management",
            "Career Guidance & Job Search",
        ),
        languages=("English", "French"),
        session_minutes=60,
        buffer_minutes=15,
        requires_confirmation=True,
        meeting_url="https://meet.google.com/mhb-morg-ann",
        rules=((TUE, "18:00", "20:00"), (THU, "18:00", "20:00"), (SAT, "10:00", "12:00")),
    ),
    _MentorSeed(
        email="priya.raghavan@mentorhub.test",
        name="Priya Raghavan",
        timezone="Asia/Kolkata",
        headline="ML engineer shipping recommendation systems at scale",
        bio=(
            "I lead a machine learning team in Bengaluru that builds ranking and "
            "recommendation models for an e-commerce marketplace. Before that I did a PhD in "
            "information retrieval.\n\n"
            "I can help you pick a first ML project, move models from notebooks to production, "
            "or prepare for ML interviews. Bring a dataset or a paper you're stuck on."
        ),
        expertise=("AI & Machine Learning", "Data Science & Analytics"),
        languages=("English", "Hindi", "Tamil"),
        session_minutes=45,
        buffer_minutes=15,
        requires_confirmation=True,
        meeting_url="https://zoom.us/j/81234567890",
        rules=((MON, "19:00", "21:00"), (WED, "19:00", "21:00"), (SAT, "10:00", "12:30")),
    ),
    _MentorSeed(
        email="daniel.okafor@mentorhub.test",
        name="Daniel Okafor",
        timezone="Africa/Lagos",
        headline="Security engineer and former penetration tester",
        bio=(
            "I spent six years breaking into banks' systems (with permission) and now build "
            "the security program of a fintech in Lagos.\n\n"
            "Happy to talk about getting into security, certifications that are worth it, "
            "threat modelling and secure code review."
        ),
        expertise=("Cybersecurity", "Cloud & DevOps"),
        languages=("English", "Yoruba"),
        session_minutes=60,
        buffer_minutes=10,
        requires_confirmation=False,
        meeting_url="https://teams.microsoft.com/l/meetup-join/19%3ameeting_daniel-okafor",
        rules=((TUE, "17:00", "19:00"), (FRI, "17:00", "19:00")),
    ),
    _MentorSeed(
        email="sofia.martinez@mentorhub.test",
        name="Sofía Martínez",
        timezone="Europe/Berlin",
        headline="Group product manager, B2B SaaS; engineer turned PM",
        bio=(
            "I moved from backend engineering into product eight years ago and now run a group "
            "of three product teams at a Berlin logistics start-up.\n\n"
            "Short, focused sessions: a spec review, a roadmap that's too crowded, or how to "
            "make the jump from engineering into product."
        ),
        expertise=("Product Management", "Business & Entrepreneurship"),
        languages=("Spanish", "English", "German"),
        session_minutes=30,
        buffer_minutes=0,
        requires_confirmation=True,
        meeting_url="https://meet.google.com/sof-mart-inz",
        rules=((MON, "12:00", "14:00"), (WED, "12:00", "14:00"), (THU, "17:00", "18:30")),
        min_notice_hours=24,
    ),
    _MentorSeed(
        email="james.whitfield@mentorhub.test",
        name="James Whitfield",
        timezone="America/New_York",
        headline="Engineering director; I've hired and grown 200+ engineers",
        bio=(
            "Twenty years in software, the last ten managing teams from five to ninety people "
            "at a media company in New York.\n\n"
            "Talk to me about your first months as a manager, one-on-ones that matter, "
            "difficult feedback, or whether management is for you at all."
        ),
        expertise=("Leadership & Management", "Career Guidance & Job Search"),
        languages=("English",),
        session_minutes=60,
        buffer_minutes=15,
        requires_confirmation=True,
        meeting_url="https://zoom.us/j/92345678901",
        rules=((TUE, "12:00", "14:00"), (THU, "19:00", "21:00")),
    ),
    _MentorSeed(
        email="aiko.tanaka@mentorhub.test",
        name="Aiko Tanaka",
        timezone="Asia/Tokyo",
        headline="Mobile lead building iOS and Android apps used by millions",
        bio=(
            "I lead the mobile team of a Tokyo travel app (iOS, Android and a shared Kotlin "
            "core). I care a lot about accessibility and offline-first design.\n\n"
            "We can review your app, plan a release, or compare native and cross-platform "
            "approaches for your next project."
        ),
        expertise=("Mobile Development", "UX/UI Design"),
        languages=("Japanese", "English"),
        session_minutes=45,
        buffer_minutes=10,
        requires_confirmation=False,
        meeting_url="https://meet.google.com/aik-otan-aka",
        rules=((MON, "20:00", "22:00"), (WED, "20:00", "22:00"), (SUN, "09:00", "11:00")),
    ),
    _MentorSeed(
        email="liam.oconnor@mentorhub.test",
        name="Liam O'Connor",
        timezone="Australia/Sydney",
        headline="Site reliability engineer; Kubernetes, Terraform and calm incident response",
        bio=(
            "I keep a streaming platform's infrastructure running from Sydney, and before that "
            "ran operations for a university.\n\n"
            "Ask me about CI/CD, cloud cost, on-call that doesn't burn people out, and writing "
            "postmortems that lead to change."
        ),
        expertise=("Cloud & DevOps", "Cybersecurity"),
        languages=("English",),
        session_minutes=60,
        buffer_minutes=0,
        requires_confirmation=True,
        meeting_url="https://zoom.us/j/83456789012",
        rules=((TUE, "07:00", "09:00"), (THU, "07:00", "09:00"), (SAT, "09:00", "11:00")),
        horizon_days=42,
    ),
    _MentorSeed(
        email="fatima.benali@mentorhub.test",
        name="Fatima Zahra Benali",
        timezone="Europe/Paris",
        headline="Principal UX researcher; design systems and accessible products",
        bio=(
            "I'm a UX researcher at a public-service design agency in Paris, and I helped build "
            "its accessible design system.\n\n"
            "Bring your portfolio, a usability test plan, or a design critique you want a "
            "second opinion on. Sessions in French, Arabic or English."
        ),
        expertise=("UX/UI Design", "Product Management"),
        languages=("French", "Arabic", "English"),
        session_minutes=60,
        buffer_minutes=15,
        requires_confirmation=True,
        meeting_url="https://teams.microsoft.com/l/meetup-join/19%3ameeting_fatima-benali",
        rules=((WED, "14:00", "17:00"), (FRI, "09:00", "11:00")),
    ),
    _MentorSeed(
        email="chen.wei@mentorhub.test",
        name="Chen Wei",
        timezone="America/Los_Angeles",
        headline="Senior data scientist; experimentation and analytics",
        bio=(
            "I design and analyse experiments for a consumer app in Los Angeles, and teach an "
            "evening SQL class at a community college.\n\n"
            "Quick, practical sessions: an A/B test design, an analytics interview drill, or a "
            "dashboard that nobody reads."
        ),
        expertise=("Data Science & Analytics", "AI & Machine Learning"),
        languages=("English", "Mandarin"),
        session_minutes=30,
        buffer_minutes=0,
        requires_confirmation=False,
        meeting_url="https://zoom.us/j/94567890123",
        rules=((MON, "17:00", "19:00"), (TUE, "17:00", "19:00"), (THU, "17:00", "19:00")),
    ),
    _MentorSeed(
        email="grace.mwangi@mentorhub.test",
        name="Grace Mwangi",
        timezone="Africa/Nairobi",
        headline="Documentation lead; clear writing for developers",
        bio=(
            "I lead documentation for an open-source payments SDK and have edited hundreds of "
            "developer blog posts.\n\n"
            "We can restructure your API docs, sharpen a conference proposal, or plan a move "
            "into technical writing."
        ),
        expertise=("Technical Writing", "Career Guidance & Job Search"),
        languages=("English", "Swahili"),
        session_minutes=45,
        buffer_minutes=15,
        requires_confirmation=True,
        meeting_url="https://meet.google.com/gra-cemw-ang",
        rules=((TUE, "18:00", "20:00"), (SAT, "11:00", "13:00")),
    ),
    _MentorSeed(
        email="lucas.oliveira@mentorhub.test",
        name="Lucas Oliveira",
        timezone="America/Sao_Paulo",
        headline="Two-time founder; from idea to first paying customers",
        bio=(
            "I co-founded two SaaS companies in São Paulo (one sold, one buried) and now advise "
            "early-stage teams.\n\n"
            "Long sessions for real problems: validating an idea, pricing, a pitch deck, or "
            "building the first version without over-building it."
        ),
        expertise=("Business & Entrepreneurship", "Product Management", "Web Development"),
        languages=("Portuguese", "English", "Spanish"),
        session_minutes=90,
        buffer_minutes=15,
        requires_confirmation=True,
        meeting_url="https://meet.google.com/luc-asol-ivr",
        rules=((WED, "18:00", "21:00"), (SAT, "09:00", "12:00")),
    ),
    _MentorSeed(
        email="hannah.becker@mentorhub.test",
        name="Hannah Becker",
        timezone="Europe/Berlin",
        headline="Front-end architect; accessible, fast web applications",
        bio=(
            "I build front ends for a public broadcaster in Hamburg and maintain an open-source "
            "accessibility checker.\n\n"
            "Let's look at your component library, a performance budget, or how to write "
            "front-end docs people read."
        ),
        expertise=("Web Development", "UX/UI Design", "Technical Writing"),
        languages=("German", "English"),
        session_minutes=60,
        buffer_minutes=10,
        requires_confirmation=False,
        meeting_url="https://teams.microsoft.com/l/meetup-join/19%3ameeting_hannah-becker",
        rules=((MON, "09:00", "11:00"), (THU, "15:00", "17:00")),
    ),
    _MentorSeed(
        email="arjun.mehta@mentorhub.test",
        name="Arjun Mehta",
        timezone="America/Toronto",
        headline="Tech recruiter turned career coach for engineers",
        bio=(
            "I spent nine years recruiting engineers in Toronto and now coach people through "
            "job searches and career changes.\n\n"
            "CV reviews, mock interviews, offer negotiation and planning a switch into tech."
        ),
        expertise=("Career Guidance & Job Search", "Leadership & Management"),
        languages=("English", "Hindi", "Gujarati"),
        session_minutes=30,
        buffer_minutes=10,
        requires_confirmation=True,
        meeting_url="https://zoom.us/j/85678901234",
        rules=((TUE, "08:00", "09:30"), (WED, "12:00", "13:00"), (FRI, "12:00", "14:00")),
    ),
)


@dataclass(frozen=True)
class _ApplicantSeed:
    email: str
    name: str
    timezone: str
    headline: str
    bio: str
    expertise: tuple[str, ...]
    languages: tuple[str, ...]
    status: MentorStatus
    submitted_hours_ago: int
    days: tuple[str, ...]
    times: tuple[str, ...]
    sessions_per_month: int
    motivation: str
    reason: str | None = None


APPLICANTS: tuple[_ApplicantSeed, ...] = (
    _ApplicantSeed(
        email="elena.petrova@mentorhub.test",
        name="Elena Petrova",
        timezone="Europe/Sofia",
        headline="Platform engineer; Go, Kubernetes and developer experience",
        bio=(
            "I build the internal developer platform at a Sofia game studio.\n\n"
            "I'd like to help engineers who are new to cloud infrastructure."
        ),
        expertise=("Cloud & DevOps", "Web Development"),
        languages=("Bulgarian", "English", "Russian"),
        status=MentorStatus.PENDING,
        submitted_hours_ago=50,
        days=("tue", "thu"),
        times=("evening",),
        sessions_per_month=4,
        motivation=(
            "Two mentors got me from QA into platform work; I want to do the same for "
            "engineers who find Kubernetes intimidating."
        ),
    ),
    _ApplicantSeed(
        email="marcus.johnson@mentorhub.test",
        name="Marcus Johnson",
        timezone="America/Chicago",
        headline="Engineering manager at a healthcare start-up",
        bio=(
            "I manage two teams building patient scheduling software in Chicago.\n\n"
            "I want to give back the mentoring that got me into management."
        ),
        expertise=("Leadership & Management", "Product Management"),
        languages=("English",),
        status=MentorStatus.PENDING,
        submitted_hours_ago=9,
        days=("mon", "wed", "fri"),
        times=("morning", "afternoon"),
        sessions_per_month=6,
        motivation=(
            "New managers are rarely taught how to run a one-on-one or give hard feedback; "
            "I learned it the slow way and would like to shorten that for others."
        ),
    ),
    _ApplicantSeed(
        email="tyler.brooks@mentorhub.test",
        name="Tyler Brooks",
        timezone="America/Denver",
        headline="Crypto trader; get my premium signals",
        bio="Join my paid channel to learn the trading strategy that made me rich.",
        expertise=("Business & Entrepreneurship",),
        languages=("English",),
        status=MentorStatus.REJECTED,
        submitted_hours_ago=24 * 12,
        days=("sat", "sun"),
        times=("evening",),
        sessions_per_month=20,
        motivation="I want to show people how to make money fast with my trading signals.",
        reason=(
            "MentorHub sessions are free mentoring on careers and skills; this application "
            "promotes a paid trading service. You're welcome to apply again with a profile "
            "about what you'd like to teach."
        ),
    ),
)

# (email, name, timezone) of the mentees besides the persona.
MENTEES: tuple[tuple[str, str, str], ...] = (
    ("olivia.bennett@mentorhub.test", "Olivia Bennett", "America/Chicago"),
    ("mateo.garcia@mentorhub.test", "Mateo García", "America/Mexico_City"),
    ("aisha.bello@mentorhub.test", "Aisha Bello", "Africa/Lagos"),
    ("noah.schmidt@mentorhub.test", "Noah Schmidt", "Europe/Berlin"),
    ("mei.lin@mentorhub.test", "Mei Lin", "Asia/Singapore"),
    ("rahul.verma@mentorhub.test", "Rahul Verma", "Asia/Kolkata"),
    ("emma.johansson@mentorhub.test", "Emma Johansson", "Europe/Stockholm"),
    ("kwame.mensah@mentorhub.test", "Kwame Mensah", "Africa/Accra"),
    ("yuki.sato@mentorhub.test", "Yuki Sato", "Asia/Tokyo"),
    ("isabella.rossi@mentorhub.test", "Isabella Rossi", "Europe/Rome"),
    ("ethan.walker@mentorhub.test", "Ethan Walker", "America/Denver"),
    ("camila.souza@mentorhub.test", "Camila Souza", "America/Sao_Paulo"),
    ("omar.haddad@mentorhub.test", "Omar Haddad", "Asia/Dubai"),
    ("zoe.thompson@mentorhub.test", "Zoe Thompson", "Pacific/Auckland"),
    ("minh.nguyen@mentorhub.test", "Minh Nguyen", "Asia/Ho_Chi_Minh"),
    ("lucy.evans@mentorhub.test", "Lucy Evans", "Europe/London"),
    ("diego.fernandez@mentorhub.test", "Diego Fernández", "Europe/Madrid"),
    ("jiwoo.park@mentorhub.test", "Ji-woo Park", "Asia/Seoul"),
    ("tariq.ahmed@mentorhub.test", "Tariq Ahmed", "America/Toronto"),
    ("nora.kowalski@mentorhub.test", "Nora Kowalski", "Europe/Warsaw"),
)

TOPICS: dict[str, tuple[str, ...]] = {
    "AI & Machine Learning": (
        "Choosing a first ML project for my portfolio",
        "Moving a model from a notebook to production",
        "Evaluating an LLM feature before launch",
    ),
    "Web Development": (
        "Structuring a growing Flask codebase",
        "Getting better at code review",
        "Front-end performance budget",
    ),
    "Mobile Development": (
        "Publishing my first app on the stores",
        "Offline-first sync strategies",
        "Kotlin Multiplatform or Flutter for a new app?",
    ),
    "Data Science & Analytics": (
        "Designing an A/B test that answers the question",
        "SQL drills for an analytics interview",
        "A dashboard people actually use",
    ),
    "Career Guidance & Job Search": (
        "CV review for a career switch",
        "Negotiating my first offer",
        "Mock behavioural interview",
    ),
    "Cybersecurity": (
        "Getting started with threat modelling",
        "Which security certification first?",
        "A secure code review checklist",
    ),
    "Cloud & DevOps": (
        "CI pipeline for a monorepo",
        "Kubernetes: is it worth it for us?",
        "Postmortems that lead to change",
    ),
    "Product Management": (
        "Writing a spec engineers like",
        "Prioritising a crowded roadmap",
        "Moving from engineering into product",
    ),
    "UX/UI Design": (
        "Portfolio review",
        "Running my first usability test",
        "Accessible colour and type in our design system",
    ),
    "Business & Entrepreneurship": (
        "Validating a side-project idea",
        "Pricing a B2B SaaS product",
        "Pitch deck feedback",
    ),
    "Leadership & Management": (
        "My first month as a team lead",
        "Giving difficult feedback",
        "Growing from senior to staff engineer",
    ),
    "Technical Writing": (
        "Structuring our API documentation",
        "Conference talk proposal review",
        "Editing my first technical blog post",
    ),
}

NOTES = (
    "",
    "",
    "I'll share my screen with the draft.",
    "I've put my questions in a doc, link to follow.",
    "First session, so a short intro from me first would help.",
    "Following up on last time's action items.",
)
MENTEE_CANCEL_REASONS = (
    "Something came up at work, sorry. I'll rebook next week.",
    "I'm unwell today, apologies.",
    "Exam moved to the same day; I'll find another slot.",
)
MENTOR_CANCEL_REASONS = (
    "I'm travelling for work that week; please pick another slot.",
    "Family emergency, apologies. Let's rebook.",
)
DECLINE_REASONS = (
    "I'm fully booked that week; please choose another time.",
    "This topic is outside what I can help with; another mentor in the directory is a better fit.",
)
ATTENDED_NOTES = (
    "Good session. Action item: send the revised draft before next time.",
    "Worked through the plan together; follow-up in two weeks.",
    "",
)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def database_is_empty(session: Session) -> bool:
    """True when there is no user at all: the only state in which demo data may be seeded."""
    return session.scalar(select(User.id).limit(1)) is None


def seed_demo(session: Session, *, now: dt.datetime, seed: int = DEFAULT_SEED) -> DemoSummary:
    """Fill an empty database with a realistic program relative to `now`.

    Enforces: demo data only ever goes into a database with no users, and every
    booking it writes obeys the scheduling invariants (see the module docstring).
    Raises DemoDataExists when any user exists, ValueError for a naive `now`.
    Flushes, never commits.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if not database_is_empty(session):
        raise DemoDataExists(
            "The database already has users; demo data is only seeded into an empty database."
        )
    now = now.astimezone(dt.UTC)
    # Not for security: a seeded generator makes the fake program reproducible.
    rng = random.Random(seed)  # noqa: S311
    seeder = _Seeder(session, now, rng)
    tags_added = ensure_taxonomy(session)
    seeder.run()
    _index_mentors(session, now)
    seed_follow_through(session, now=now, rng=rng)
    return _summarise(session, tags_added)


def _index_mentors(session: Session, now: dt.datetime) -> None:
    """The seed writes bookings directly, so it fills the directory's numbers itself."""
    profiles = list(session.scalars(select(MentorProfile)))
    for profile in profiles:
        mentor_index.sync_search(profile)
        if profile.status == MentorStatus.APPROVED:
            profile.approved_at = profile.decided_at
    session.flush()
    mentor_index.refresh_stats(session, [p.user_id for p in profiles])
    mentor_index.refresh_availability(session, profiles, now)
    session.flush()


# ---------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------

Interval = tuple[dt.datetime, dt.datetime]
_Event = tuple[User, str, dt.datetime, dict[str, Any]]  # actor, action, at, after


def _overlaps(a: Interval, b: Interval, pad: dt.timedelta = dt.timedelta(0)) -> bool:
    # Half-open ranges like the exclusion constraint; `pad` keeps the mentor's buffer free.
    return a[0] < b[1] + pad and b[0] < a[1] + pad


def _parse_time(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _local_to_utc(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime | None:
    """The UTC instant of a wall-clock time, or None if that time does not exist that day."""
    local = dt.datetime.combine(day, at, tzinfo=zone)
    utc = local.astimezone(dt.UTC)
    # A time inside a spring-forward gap does not round-trip; such a slot is not offered.
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return utc


def _awake(mentee: _MenteeCtx, slot: Interval) -> bool:
    return 7 <= slot[0].astimezone(mentee.zone).hour <= 21


@dataclass
class _MentorCtx:
    seed: _MentorSeed
    user: User
    profile: MentorProfile
    zone: ZoneInfo
    skip_dates: set[dt.date] = field(default_factory=set)
    busy: list[Interval] = field(default_factory=list)

    @property
    def length(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.seed.session_minutes)

    @property
    def buffer(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.seed.buffer_minutes)


@dataclass
class _MenteeCtx:
    user: User
    zone: ZoneInfo
    persona: bool = False
    busy: list[Interval] = field(default_factory=list)
    active: int = 0

    @property
    def cap(self) -> int:
        return MAX_ACTIVE_PERSONA if self.persona else MAX_ACTIVE_PER_MENTEE


class _Seeder:
    def __init__(self, session: Session, now: dt.datetime, rng: random.Random) -> None:
        self.session = session
        self.now = now
        self.rng = rng
        self.tags: dict[str, ExpertiseTag] = {}
        self.admin: User
        self.mentors: list[_MentorCtx] = []
        self.mentees: list[_MenteeCtx] = []
        self.persona_mentee: _MenteeCtx

    # -- people -------------------------------------------------------------

    def run(self) -> None:
        self.tags = {t.name: t for t in self.session.scalars(select(ExpertiseTag))}
        self.admin = self._user(ADMIN_EMAIL, "Avery Admin", "America/Chicago", days_ago=400)
        self.admin.is_admin = True
        # Mentor profiles name the admin who decided, so the admin needs an id first.
        self.session.flush()
        for mentor_seed in MENTORS:
            self.mentors.append(self._mentor(mentor_seed))
        for applicant in APPLICANTS:
            self._applicant(applicant)
        persona = self._user(MENTEE_EMAIL, "Sam Mentee", "America/New_York", days_ago=120)
        self.persona_mentee = _MenteeCtx(persona, ZoneInfo(persona.timezone), persona=True)
        self.mentees.append(self.persona_mentee)
        for email, name, tz in MENTEES:
            user = self._user(email, name, tz, days_ago=self.rng.randint(90, 330))
            self.mentees.append(_MenteeCtx(user, ZoneInfo(tz)))
        self.session.flush()
        for ctx in self.mentors:
            self._availability(ctx)
        self._persona_sessions()
        for index, ctx in enumerate(self.mentors):
            self._program(index, ctx)
        # The seed is the system's doing, not the admin persona's: no actor.
        audit.record(
            self.session,
            actor=None,
            action="demo.seed",
            entity_type="system",
            entity_id=None,
            now=self.now,
            after={"mentors": len(self.mentors), "mentees": len(self.mentees)},
        )
        self.session.flush()

    def _user(self, email: str, name: str, tz: str, *, days_ago: int) -> User:
        user = User(
            email=email,
            name=name,
            timezone=tz,
            created_at=self._minute(
                self.now - dt.timedelta(days=days_ago, hours=self.rng.randint(0, 23))
            ),
        )
        self.session.add(user)
        return user

    def _mentor(self, seed: _MentorSeed) -> _MentorCtx:
        user = self._user(seed.email, seed.name, seed.timezone, days_ago=self.rng.randint(200, 380))
        submitted = user.created_at + dt.timedelta(days=self.rng.randint(1, 20))
        decided = submitted + dt.timedelta(hours=self.rng.randint(3, 60))
        profile = MentorProfile(
            user=user,
            headline=seed.headline,
            bio=seed.bio,
            languages=list(seed.languages),
            timezone=seed.timezone,
            status=MentorStatus.APPROVED,
            decided_by_id=self.admin.id,
            decided_at=decided,
            submitted_at=submitted,
            session_minutes=seed.session_minutes,
            buffer_minutes=seed.buffer_minutes,
            min_notice_hours=seed.min_notice_hours,
            horizon_days=seed.horizon_days,
            requires_confirmation=seed.requires_confirmation,
            meeting_url=seed.meeting_url,
            expertise=[self.tags[name] for name in seed.expertise],
            created_at=user.created_at,
            updated_at=decided,
        )
        self.session.add(profile)
        self.session.flush()
        self._audit(user, "mentor_application.submitted", "mentor_profile", profile.id, submitted)
        self._audit(
            self.admin,
            "mentor.approved",
            "mentor_profile",
            profile.id,
            decided,
            {"status": "approved"},
        )
        return _MentorCtx(seed, user, profile, ZoneInfo(seed.timezone))

    def _applicant(self, seed: _ApplicantSeed) -> None:
        submitted = self._minute(self.now - dt.timedelta(hours=seed.submitted_hours_ago))
        user = self._user(seed.email, seed.name, seed.timezone, days_ago=0)
        user.created_at = submitted - dt.timedelta(days=self.rng.randint(1, 30))
        decided = submitted + dt.timedelta(days=1) if seed.reason else None
        profile = MentorProfile(
            user=user,
            headline=seed.headline,
            bio=seed.bio,
            languages=list(seed.languages),
            timezone=seed.timezone,
            status=seed.status,
            status_reason=seed.reason,
            decided_at=decided,
            decided_by_id=self.admin.id if decided else None,
            submitted_at=submitted,
            expertise=[self.tags[name] for name in seed.expertise],
            meeting_url=None,
            created_at=user.created_at,
            updated_at=decided or submitted,
            # Every step was saved before submitting (app/services/mentor_application.py).
            application_step=3,
            session_minutes=60,
            preferences={
                "session_minutes": 60,
                "days": list(seed.days),
                "times": list(seed.times),
                "sessions_per_month": seed.sessions_per_month,
            },
            motivation=seed.motivation,
        )
        self.session.add(profile)
        self.session.flush()
        self._audit(user, "mentor_application.submitted", "mentor_profile", profile.id, submitted)
        if decided is not None:
            self._audit(
                self.admin,
                "mentor.rejected",
                "mentor_profile",
                profile.id,
                decided,
                {"status": seed.status.value, "reason": seed.reason},
            )

    # -- availability ---------------------------------------------------------

    def _availability(self, ctx: _MentorCtx) -> None:
        for weekday, start, end in ctx.seed.rules:
            self.session.add(
                AvailabilityRule(
                    mentor_profile_id=ctx.profile.id,
                    weekday=weekday,
                    start_time=_parse_time(start),
                    end_time=_parse_time(end),
                    created_at=ctx.profile.decided_at or self.now,
                )
            )
        # A few mentors have date exceptions ahead: a blocked day, replaced hours, extra hours.
        today = self.now.astimezone(ctx.zone).date()
        kind = {
            MENTOR_EMAIL: ExceptionKind.BLOCKED,
            "priya.raghavan@mentorhub.test": ExceptionKind.REPLACE,
            "chen.wei@mentorhub.test": ExceptionKind.EXTRA,
            "liam.oconnor@mentorhub.test": ExceptionKind.BLOCKED,
        }.get(ctx.seed.email)
        if kind is None:
            return
        rule_days = {weekday for weekday, _, _ in ctx.seed.rules}
        day = today + dt.timedelta(days=9)
        if kind is ExceptionKind.EXTRA:
            # Extra hours only make sense on a day without weekly hours.
            while day.weekday() in rule_days:
                day += dt.timedelta(days=1)
            hours: tuple[dt.time | None, dt.time | None] = (dt.time(10, 0), dt.time(12, 0))
        else:
            while day.weekday() not in rule_days:
                day += dt.timedelta(days=1)
            ctx.skip_dates.add(day)
            hours = (
                (dt.time(8, 0), dt.time(9, 30)) if kind is ExceptionKind.REPLACE else (None, None)
            )
        self.session.add(
            AvailabilityException(
                mentor_profile_id=ctx.profile.id,
                date=day,
                kind=kind,
                start_time=hours[0],
                end_time=hours[1],
                created_at=self._minute(self.now - dt.timedelta(days=3)),
            )
        )

    def _slots(self, ctx: _MentorCtx, bucket: str) -> list[Interval]:
        """Every start on the weekly hours (30-minute steps) inside the bucket's window."""
        notice = dt.timedelta(hours=max(12, ctx.seed.min_notice_hours))
        horizon = dt.timedelta(days=min(UPCOMING_DAYS, ctx.seed.horizon_days))
        windows = {
            # Old enough that attendance was recorded a while ago.
            "past": (self.now - dt.timedelta(days=HISTORY_DAYS), self.now - dt.timedelta(days=1)),
            # Ended recently: still confirmed, attendance due.
            "recent": (self.now - dt.timedelta(days=6), self.now - dt.timedelta(hours=1)),
            "future": (self.now + notice, self.now + horizon),
        }
        low, high = windows[bucket]
        today = self.now.astimezone(ctx.zone).date()
        slots: list[Interval] = []
        day = today - dt.timedelta(days=HISTORY_DAYS + 1)
        while day <= today + dt.timedelta(days=UPCOMING_DAYS + 1):
            if day not in ctx.skip_dates:
                slots.extend(self._day_slots(ctx, day))
            day += dt.timedelta(days=1)
        if bucket == "future":
            return [s for s in slots if low <= s[0] <= high]
        return [s for s in slots if low <= s[1] <= high]

    def _day_slots(self, ctx: _MentorCtx, day: dt.date) -> list[Interval]:
        slots: list[Interval] = []
        for weekday, start, end in ctx.seed.rules:
            if weekday != day.weekday():
                continue
            rule_end = _local_to_utc(day, _parse_time(end), ctx.zone)
            local = dt.datetime.combine(day, _parse_time(start))
            while rule_end is not None and local.time() < _parse_time(end):
                starts = _local_to_utc(day, local.time(), ctx.zone)
                if starts is not None and starts + ctx.length <= rule_end:
                    slots.append((starts, starts + ctx.length))
                local += SLOT_STEP
                if local.date() != day:
                    break
        return slots

    # -- bookings -------------------------------------------------------------

    def _persona_sessions(self) -> None:
        morgan = self.mentors[0]
        sam = self.persona_mentee
        self._place(morgan, BookingStatus.CONFIRMED, "future", mentee=sam, pick="earliest")
        self._place(morgan, BookingStatus.REQUESTED, "future", mentee=sam, pick="latest")
        for _ in range(3):
            self._place(morgan, BookingStatus.COMPLETED, "past", mentee=sam)
        self._place(morgan, BookingStatus.CANCELLED, "past", mentee=sam)
        # Sam has also met other mentors, so history pages show more than one name.
        self._place(self.mentors[1], BookingStatus.COMPLETED, "past", mentee=sam)
        self._place(self.mentors[9], BookingStatus.NO_SHOW, "past", mentee=sam)
        self._place(self.mentors[4], BookingStatus.DECLINED, "future", mentee=sam)

    def _program(self, index: int, ctx: _MentorCtx) -> None:
        """Each mentor's sessions; the rotation by index puts every status on several mentors."""
        confirm = ctx.seed.requires_confirmation
        plan: list[tuple[BookingStatus, str]] = []
        plan += [(BookingStatus.COMPLETED, "past")] * self.rng.randint(3, 6)
        if index % 3 == 0:
            plan.append((BookingStatus.NO_SHOW, "past"))
        if index % 3 == 1:
            plan.append((BookingStatus.CANCELLED, "past"))
        if index % 2 == 0:
            plan.append((BookingStatus.CONFIRMED, "recent"))
        plan += [(BookingStatus.CONFIRMED, "future")] * self.rng.randint(1, 2)
        if index % 3 == 2:
            plan.append((BookingStatus.CANCELLED, "future"))
        # Requests and declines only exist for mentors who confirm by hand.
        if confirm:
            plan += [(BookingStatus.REQUESTED, "future")] * self.rng.randint(1, 2)
            plan.append((BookingStatus.DECLINED, "past" if index % 2 else "future"))
        for status, bucket in plan:
            self._place(ctx, status, bucket)

    def _place(
        self,
        ctx: _MentorCtx,
        status: BookingStatus,
        bucket: str,
        *,
        mentee: _MenteeCtx | None = None,
        pick: str = "random",
    ) -> Booking | None:
        """Book the first free slot (in `pick` order) with a free mentee; None if none fits."""
        slots = self._slots(ctx, bucket)
        if pick == "random":
            slots = self.rng.sample(slots, len(slots))
        elif pick == "latest":
            slots.reverse()
        if mentee is not None:
            # A hand-picked mentee gets slots in their waking hours when there are any.
            slots = [s for s in slots if _awake(mentee, s)] or slots
        active = status in ACTIVE_STATUSES
        for slot in slots:
            if any(_overlaps(slot, other, ctx.buffer) for other in ctx.busy):
                continue
            chosen = self._mentee_for(slot, mentee, active)
            if chosen is None:
                continue
            ctx.busy.append(slot)
            chosen.busy.append(slot)
            if active:
                chosen.active += 1
            return self._booking(ctx, chosen, slot, status)
        return None

    def _mentee_for(
        self, slot: Interval, fixed: _MenteeCtx | None, active: bool
    ) -> _MenteeCtx | None:
        def free(m: _MenteeCtx) -> bool:
            if active and m.active >= m.cap:
                return False
            return not any(_overlaps(slot, other) for other in m.busy)

        if fixed is not None:
            return fixed if free(fixed) else None
        # The persona's sessions are hand-picked above; the others are shared out at random.
        pool = [m for m in self.mentees if not m.persona]
        candidates = [m for m in self.rng.sample(pool, len(pool)) if free(m)]
        # Prefer someone for whom the session falls in waking hours.
        awake = [m for m in candidates if _awake(m, slot)]
        ranked = awake or candidates
        return ranked[0] if ranked else None

    def _booking(
        self, ctx: _MentorCtx, mentee: _MenteeCtx, slot: Interval, status: BookingStatus
    ) -> Booking:
        """One booking with its whole history, written in a single INSERT.

        Every field is set before the flush: a later UPDATE would let the model's
        `onupdate` stamp updated_at with the wall clock instead of the seeded history.
        """
        starts, ends = slot
        topic = self.rng.choice(TOPICS[self.rng.choice(ctx.seed.expertise)])
        # Requested a few days before the slot, and before now for upcoming ones.
        created = self._between(starts - dt.timedelta(days=14), starts - dt.timedelta(days=1))
        created = min(created, self._minute(self.now - dt.timedelta(hours=self.rng.randint(1, 72))))
        booking = Booking(
            mentor_id=ctx.user.id,
            mentee_id=mentee.user.id,
            starts_at=starts,
            ends_at=ends,
            mentor_timezone=ctx.seed.timezone,
            status=status,
            topic=topic,
            notes=self.rng.choice(NOTES),
            # Column defaults only apply at flush; the history below builds on these.
            version=1,
            ical_sequence=0,
            reschedule_count=0,
            late_cancellation=False,
            created_at=created,
            updated_at=created,
        )
        initial = (
            BookingStatus.REQUESTED if ctx.seed.requires_confirmation else BookingStatus.CONFIRMED
        )
        events: list[_Event] = [
            (
                mentee.user,
                "booking.requested",
                created,
                {"status": initial.value, "starts_at": starts.isoformat(), "topic": topic},
            )
        ]
        decided = self._between(created, min(created + dt.timedelta(hours=30), starts, self.now))
        if initial is BookingStatus.REQUESTED and status is not BookingStatus.REQUESTED:
            booking.version = 2
            booking.updated_at = decided
            if status is BookingStatus.DECLINED:
                booking.decline_reason = self.rng.choice(DECLINE_REASONS)
                after = {"status": "declined", "reason": booking.decline_reason}
                events.append((ctx.user, "booking.declined", decided, after))
            else:
                events.append((ctx.user, "booking.confirmed", decided, {"status": "confirmed"}))
        if status not in (BookingStatus.REQUESTED, BookingStatus.DECLINED):
            # The link is shared once the session is confirmed.
            booking.meeting_url = ctx.seed.meeting_url
        if status is BookingStatus.CANCELLED:
            events.append(self._cancel(ctx, mentee, booking, decided))
        elif status in (BookingStatus.COMPLETED, BookingStatus.NO_SHOW):
            events.append(self._attendance(ctx, mentee, booking))
        self.session.add(booking)
        self.session.flush()
        for actor, action, at, after in events:
            self._audit(actor, action, "booking", booking.id, at, after)
        return booking

    def _cancel(
        self, ctx: _MentorCtx, mentee: _MenteeCtx, booking: Booking, after: dt.datetime
    ) -> _Event:
        by_mentee = self.rng.random() < 0.6
        at = self._between(after, min(booking.starts_at, self.now))
        booking.cancelled_at = at
        booking.cancelled_by_id = mentee.user.id if by_mentee else ctx.user.id
        booking.cancel_reason = self.rng.choice(
            MENTEE_CANCEL_REASONS if by_mentee else MENTOR_CANCEL_REASONS
        )
        # Only a mentee's cancellation inside the 24 h cut-off counts as late.
        booking.late_cancellation = by_mentee and booking.starts_at - at < dt.timedelta(hours=24)
        booking.version += 1
        # Calendar clients only apply a CANCEL whose SEQUENCE is higher than the invite's.
        booking.ical_sequence += 1
        booking.updated_at = at
        actor = mentee.user if by_mentee else ctx.user
        return (
            actor,
            "booking.cancelled",
            at,
            {"status": "cancelled", "reason": booking.cancel_reason},
        )

    def _attendance(self, ctx: _MentorCtx, mentee: _MenteeCtx, booking: Booking) -> _Event:
        minutes = ctx.seed.session_minutes
        if booking.status is BookingStatus.NO_SHOW:
            outcome, spent, notes = AttendanceOutcome.NO_SHOW, 0, "Waited 15 minutes; no reply."
        elif self.rng.random() < 0.2:
            late = self.rng.choice((5, 10, 15))
            outcome, spent = AttendanceOutcome.LATE, minutes - late
            notes = f"Joined {late} minutes late."
        else:
            outcome, spent = AttendanceOutcome.ATTENDED, minutes
            notes = self.rng.choice(ATTENDED_NOTES)
        recorded = self._between(
            booking.ends_at + dt.timedelta(minutes=5),
            min(booking.ends_at + dt.timedelta(hours=20), self.now),
        )
        booking.attendance.append(
            Attendance(
                participant_id=mentee.user.id,
                outcome=outcome,
                minutes=spent,
                notes=notes,
                # Action items are for the mentee; a note about lateness or a no-show is not.
                shared_with_mentee=outcome is AttendanceOutcome.ATTENDED and bool(notes),
                recorded_by_id=ctx.user.id,
                recorded_at=recorded,
            )
        )
        booking.version += 1
        booking.updated_at = recorded
        action = "booking.attendance_recorded"
        after = {"status": booking.status.value, "outcome": outcome.value, "minutes": spent}
        return ctx.user, action, recorded, after

    # -- helpers --------------------------------------------------------------

    def _audit(
        self,
        actor: User,
        action: str,
        entity_type: str,
        entity_id: int | None,
        at: dt.datetime,
        after: dict[str, Any] | None = None,
    ) -> None:
        audit.record(
            self.session,
            actor=actor,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            now=at,
            after=after,
        )

    def _between(self, low: dt.datetime, high: dt.datetime) -> dt.datetime:
        if high <= low:
            return low
        seconds = int((high - low).total_seconds())
        return self._minute(low + dt.timedelta(seconds=self.rng.randint(0, seconds)), floor=low)

    @staticmethod
    def _minute(moment: dt.datetime, floor: dt.datetime | None = None) -> dt.datetime:
        rounded = moment.replace(second=0, microsecond=0)
        return max(rounded, floor) if floor is not None else rounded


def _summarise(session: Session, tags_added: int) -> DemoSummary:
    def count(model: Any, *where: Any) -> int:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

    rows = session.execute(select(Booking.status, func.count()).group_by(Booking.status))
    by_status = {str(status): int(n) for status, n in rows}
    approved = MentorProfile.status == MentorStatus.APPROVED
    plain = ~User.mentor_profile.has() & User.is_admin.is_(False)
    zones: Sequence[str] = session.scalars(
        select(MentorProfile.timezone).where(approved).distinct()
    ).all()
    return DemoSummary(
        users=count(User),
        admins=count(User, User.is_admin.is_(True)),
        approved_mentors=count(MentorProfile, approved),
        pending_applications=count(MentorProfile, MentorProfile.status == MentorStatus.PENDING),
        rejected_applications=count(MentorProfile, MentorProfile.status == MentorStatus.REJECTED),
        mentees=count(User, plain),
        mentor_timezones=len(zones),
        expertise_tags_added=tags_added,
        availability_rules=count(AvailabilityRule),
        availability_exceptions=count(AvailabilityException),
        bookings=count(Booking),
        bookings_by_status=by_status,
        attendance=count(Attendance),
        audit_events=count(AuditEvent),
    )
