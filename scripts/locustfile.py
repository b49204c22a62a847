# ruff: noqa: S311  (random choices of what a simulated person does next, not secrets)
"""The people `scripts/bench_load.py` sends at MentorHub: mentees, mentors and admins.

Run by Locust (headless) as a child of bench_load.py, which writes the plan this file reads
(MENTORHUB_BENCH_PLAN: a JSON file with one fresh sign-in token per simulated person, the
approved mentors' profile ids, the expertise slugs and some words to search for). Each
simulated person signs in once through the real email-link flow (open the link, press the
button), then works through the pages as a person would. Every request is named
"<category>: <page>" so that the report can check the mix the issue asks for:

* discovery: the directory, with and without filters, search words and other pages;
* booking: a mentor's calendar, booking a free time, cancelling it again, confirming;
* profile: a mentor's page;
* other: home, my sessions, notifications, the Schedule tab, the admin pages.

A booking answered 409 ("that time was just taken", another person was faster) is expected
and counted apart, not as an error. Any other status >= 400 is an error.

MENTORHUB_BENCH_PACING is "paced" (each person pauses between steps, reading the page: a
random MENTORHUB_BENCH_PAUSE="low,high" seconds, default 2 to 8) or "saturated" (no pause: how
much the server can do).
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, constant, task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_patterns import BOOKED_ID, CONFIRM, CSRF_FIELD, CSRF_HEADER, SLOT

PLAN: dict[str, Any] = json.loads(open(os.environ["MENTORHUB_BENCH_PLAN"]).read())  # noqa: SIM115
PACED = os.environ.get("MENTORHUB_BENCH_PACING", "paced") == "paced"
_LOW, _HIGH = (float(x) for x in os.environ.get("MENTORHUB_BENCH_PAUSE", "2,8").split(","))
WAIT = between(_LOW, _HIGH) if PACED else constant(0)
HX = {"HX-Request": "true"}

_tokens: dict[str, list[str]] = {role: list(PLAN["tokens"][role]) for role in PLAN["tokens"]}


class Person(FastHttpUser):
    abstract = True
    role = ""
    wait_time = WAIT
    csrf = ""

    def on_start(self) -> None:
        token = _tokens[self.role].pop()
        link = f"/auth/link/{token}"
        page = self.client.get(link, name="sign-in: link page")
        match = CSRF_FIELD.search(page.text or "")
        if match is None:
            raise RuntimeError(f"no CSRF field on the sign-in page ({page.status_code})")
        self.client.post(
            link,
            data={"csrf_token": match.group(1)},
            name="sign-in: confirm",
            allow_redirects=False,
        )
        home = self.client.get(PLAN["home"][self.role], name="sign-in: first page")
        match = CSRF_HEADER.search(home.text or "")
        if match is None:
            raise RuntimeError(f"not signed in ({home.status_code})")
        self.csrf = match.group(1)

    def post(self, path: str, form: dict[str, str], name: str, **kw: Any) -> Any:
        return self.client.post(
            path, data=form, headers={**HX, "X-CSRFToken": self.csrf}, name=name, **kw
        )


class Mentee(Person):
    """Most of the traffic: finding a mentor, reading about them, booking."""

    role = "mentee"
    weight = 88

    @task(26)
    def directory(self) -> None:
        self.client.get("/mentor-hub/mentors", name="discovery: directory")

    @task(14)
    def search(self) -> None:
        args: list[tuple[str, str]] = []
        roll = random.random()
        if roll < 0.45:
            args.append(("q", random.choice(PLAN["words"])))
        if roll > 0.3:
            args.append(("expertise", random.choice(PLAN["expertise"])))
        if random.random() < 0.3:
            args.append(("available", random.choice(["week", "month"])))
        if random.random() < 0.2:
            args.append(("sort", random.choice(["rating", "sessions", "soonest"])))
        if random.random() < 0.25:
            args.append(("page", str(random.randint(2, 5))))
        query = "&".join(f"{k}={v}" for k, v in args)
        # The filter form's live update: only the results, as the browser asks for them.
        self.client.get(
            f"/mentor-hub/mentors/results?{query}", headers=HX, name="discovery: search results"
        )

    @task(20)
    def mentor_page(self) -> None:
        mentor = random.choice(PLAN["mentors"])
        self.client.get(f"/mentor-hub/mentors/{mentor}", name="profile: mentor page")

    @task(9)
    def book_and_cancel(self) -> None:
        """Three booking requests: the calendar's next weeks, book, and cancel again (so that a
        person stays under the limit of active sessions and the next one finds free times)."""
        mentor = random.choice(PLAN["mentors"])
        week = random.randint(1, 3)
        calendar = self.client.get(
            f"/mentor-hub/mentors/{mentor}/calendar?week={week}",
            headers=HX,
            name="booking: calendar week",
        )
        slots = SLOT.findall(calendar.text or "")
        if not slots:
            return
        with self.client.post(
            f"/mentor-hub/mentors/{mentor}/book",
            data={"starts_at": random.choice(slots), "topic": "Career next steps", "week": week},
            headers={**HX, "X-CSRFToken": self.csrf},
            name="booking: book",
            catch_response=True,
        ) as reply:
            if reply.status_code == 409:
                # Somebody else was faster: expected, and counted under its own name.
                reply.request_meta["name"] = "booking: book (409, just taken)"
                reply.success()
                return
            booked = BOOKED_ID.search(reply.text or "")
            if reply.status_code != 200 or booked is None:
                reply.failure(f"book answered {reply.status_code}")
                return
        self.post(
            f"/mentor-hub/sessions/{booked.group(1)}/cancel",
            {"version": "1", "reason": "Plans changed", "from": "row"},
            name="booking: cancel",
        )

    @task(3)
    def my_sessions(self) -> None:
        self.client.get("/mentor-hub/bookings", name="other: my sessions")

    @task(2)
    def home(self) -> None:
        self.client.get("/mentor-hub", name="other: home")

    @task(1)
    def notifications(self) -> None:
        self.client.get("/notifications", name="other: notifications")


class Mentor(Person):
    """Mentors with requests waiting: their sessions, confirming one, the Schedule tab."""

    role = "mentor"
    fixed_count = int(os.environ.get("MENTORHUB_BENCH_MENTORS", "8"))

    @task(4)
    def sessions(self) -> None:
        page = self.client.get("/mentor-hub/sessions", name="booking: mentor's sessions")
        found = CONFIRM.findall(page.text or "")
        if found:
            booking_id, version = random.choice(found)
            self.post(
                f"/mentor-hub/sessions/{booking_id}/confirm",
                {"version": version, "from": "row"},
                name="booking: confirm",
            )

    @task(2)
    def schedule(self) -> None:
        self.client.get("/mentor-hub/schedule", name="other: schedule tab")


class Admin(Person):
    """Admins watching the program."""

    role = "admin"
    fixed_count = int(os.environ.get("MENTORHUB_BENCH_ADMINS", "4"))

    @task(3)
    def overview(self) -> None:
        self.client.get("/admin/mentorship", name="other: admin overview")

    @task(1)
    def sessions_table(self) -> None:
        self.client.get("/admin/mentorship/sessions", name="other: admin sessions table")

    @task(1)
    def report(self) -> None:
        self.client.get("/admin/mentorship/reports", name="other: admin reports")


class Floor(FastHttpUser):
    """The floor run: the bare Flask page of scripts/bench_floor.py, no pauses, no sign-in."""

    wait_time = constant(0)

    @task
    def page(self) -> None:
        self.client.get("/", name="floor: bare page")
