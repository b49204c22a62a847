"""The directory on the real database engines: ranked full-text search, filters that
combine, stable sorts, favourites, saved searches and a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest

from app.models import AvailabilityRule, Booking, BookingStatus, Favorite, MentorStatus, SavedSearch
from app.services import directory, mentor_index
from app.services.directory import DirectoryQuery
from tests.integration.conftest import counted


def names(page: directory.DirectoryPage) -> list[str]:
    return [card.profile.user.name for card in page.cards]


def search(db_session, viewer, now, **kw) -> directory.DirectoryPage:
    return directory.search(db_session, DirectoryQuery(**kw), viewer=viewer, now=now)


def add_hours(db_session, profile, now, weekdays=range(7), start=9, end=17):
    for weekday in weekdays:
        db_session.add(
            AvailabilityRule(
                mentor_profile_id=profile.id,
                weekday=weekday,
                start_time=dt.time(start),
                end_time=dt.time(end),
                created_at=now,
            )
        )
    db_session.flush()


@pytest.fixture
def viewer(factories):
    return factories.user(name="Vera Viewer")


# -- search --------------------------------------------------------------------------


def test_an_expertise_or_name_match_ranks_above_a_bio_mention(db_session, factories, viewer, now):
    devops = factories.tag("DevOps Practice")
    factories.mentor(name="Bea Biography", bio="I once sat next to a devops team at lunch.")
    factories.mentor(name="Ed Expertise", expertise=[devops], bio="Infrastructure for years.")
    factories.mentor(name="Hal Headline", headline="DevOps coach for small teams")
    factories.mentor(name="Nina Nobody", bio="Product design and research.")
    page = search(db_session, viewer, now, text="devops")
    assert names(page)[-1] == "Bea Biography"
    assert set(names(page)) == {"Bea Biography", "Ed Expertise", "Hal Headline"}
    assert names(page)[0] == "Ed Expertise"  # weight A beats the headline's B

    factories.mentor(name="Grace Devlin", bio="Mentions devlin twice: devlin.")
    factories.mentor(name="Ola Other", bio="Grace under pressure: a talk by Grace Devlin.")
    assert names(search(db_session, viewer, now, text="grace devlin")) == [
        "Grace Devlin",
        "Ola Other",
    ]


def test_every_word_must_match_and_the_start_of_a_word_is_enough(
    db_session, factories, viewer, now
):
    factories.mentor(name="Kim Kube", headline="Kubernetes and Terraform at scale")
    factories.mentor(name="Tom Terra", headline="Terraform modules for teams")
    assert names(search(db_session, viewer, now, text="kube")) == ["Kim Kube"]
    assert names(search(db_session, viewer, now, text="terraf kubern")) == ["Kim Kube"]
    assert set(names(search(db_session, viewer, now, text="TERRAFORM"))) == {
        "Kim Kube",
        "Tom Terra",
    }
    # Stemming on both engines: "mentoring" finds "mentors".
    factories.mentor(name="Stan Stem", bio="I have been mentoring juniors for years.")
    assert "Stan Stem" in names(search(db_session, viewer, now, text="mentored"))


def test_search_syntax_is_just_words(db_session, factories, viewer, now):
    factories.mentor(name="Cee Plusplus", headline="C++ and systems programming")
    for text in ['c++ "', "AND OR NOT", "*", "(sys", "a:b", "-x", "' OR 1=1 --"]:
        search(db_session, viewer, now, text=text)  # never an error
    assert names(search(db_session, viewer, now, text='"systems" (programming)')) == [
        "Cee Plusplus"
    ]


def test_a_name_change_reaches_the_search_index(db_session, factories, viewer, now):
    from app.services import auth

    user = factories.mentor(name="Old Name")
    auth.update_account(db_session, user, name="Zelda Renamed", timezone="UTC", now=now)
    db_session.flush()
    assert names(search(db_session, viewer, now, text="zelda")) == ["Zelda Renamed"]
    assert names(search(db_session, viewer, now, text="old")) == []


def test_only_approved_active_mentors_are_listed(db_session, factories, viewer, now):
    factories.mentor(name="Ann Approved")
    factories.mentor(name="Pam Pending", status=MentorStatus.PENDING)
    factories.mentor(name="Sue Suspended", status=MentorStatus.SUSPENDED)
    factories.mentor(name="Ivy Inactive", is_active=False)
    assert names(search(db_session, viewer, now)) == ["Ann Approved"]
    assert names(search(db_session, viewer, now, text="pam")) == []


# -- filters ---------------------------------------------------------------------------


def test_filters_combine_any_within_a_group_and_all_across_groups(
    db_session, factories, viewer, now
):
    cloud, web, ux = factories.tag("Cloud"), factories.tag("Web"), factories.tag("UX")
    factories.mentor(name="A Cloud Spanish", expertise=[cloud], languages=["Spanish"])
    factories.mentor(name="B Web English", expertise=[web], languages=["English"])
    factories.mentor(name="C Web Spanish", expertise=[web, ux], languages=["English", "Spanish"])
    factories.mentor(name="D UX French", expertise=[ux], languages=["French"])

    def found(**kw):
        return sorted(names(search(db_session, viewer, now, sort="name", **kw)))

    assert found(expertise=(cloud.slug, web.slug)) == [
        "A Cloud Spanish",
        "B Web English",
        "C Web Spanish",
    ]
    assert found(languages=("Spanish",)) == ["A Cloud Spanish", "C Web Spanish"]
    assert found(languages=("French", "English")) == [
        "B Web English",
        "C Web Spanish",
        "D UX French",
    ]
    assert found(expertise=(web.slug,), languages=("Spanish",)) == ["C Web Spanish"]
    assert found(expertise=(ux.slug,), languages=("Spanish",), text="web") == ["C Web Spanish"]
    assert found(expertise=(cloud.slug,), languages=("French",)) == []


def test_rating_sessions_and_availability_filters(db_session, factories, viewer, now):
    rated = factories.mentor(name="Rita Rated").mentor_profile
    rated.rating_count, rated.rating_average, rated.sessions_completed = 12, 4.8, 30
    okay = factories.mentor(name="Olly Okay").mentor_profile
    okay.rating_count, okay.rating_average, okay.sessions_completed = 3, 3.9, 6
    fresh = factories.mentor(name="Nora New").mentor_profile
    soon = now + dt.timedelta(hours=18)
    rated.next_available_at = soon
    okay.next_available_at = now + dt.timedelta(days=10)
    fresh.next_available_at = None
    db_session.flush()

    def found(**kw):
        return sorted(names(search(db_session, viewer, now, **kw)))

    assert found(min_rating=4.5) == ["Rita Rated"]
    assert found(min_rating=3.0) == ["Olly Okay", "Rita Rated"]
    assert found(min_sessions=5) == ["Olly Okay", "Rita Rated"]
    assert found(min_sessions=25) == ["Rita Rated"]
    assert found(availability="week") == ["Rita Rated"]
    assert found(availability="month") == ["Olly Okay", "Rita Rated"]
    # "Today" ends at the viewer's midnight: 18 hours after 15:00 UTC is tomorrow in UTC...
    assert found(availability="today") == []
    # ...but still today for a viewer far west of UTC (15:00 UTC is 05:00 in Honolulu).
    viewer.timezone = "Pacific/Honolulu"
    assert found(availability="today") == ["Rita Rated"]


def test_favourites_are_per_user_and_setting_them_is_idempotent(db_session, factories, viewer, now):
    liked = factories.mentor(name="Liked Mentor").mentor_profile
    factories.mentor(name="Other Mentor")
    someone = factories.user()
    directory.set_favourite(db_session, viewer, liked, True)
    directory.set_favourite(db_session, viewer, liked, True)
    assert db_session.query(Favorite).count() == 1
    assert names(search(db_session, viewer, now, favourites=True)) == ["Liked Mentor"]
    assert names(search(db_session, someone, now, favourites=True)) == []
    cards = {c.profile.user.name: c.favourite for c in search(db_session, viewer, now).cards}
    assert cards == {"Liked Mentor": True, "Other Mentor": False}
    directory.set_favourite(db_session, viewer, liked, False)
    directory.set_favourite(db_session, viewer, liked, False)
    assert names(search(db_session, viewer, now, favourites=True)) == []


# -- sorts and pages --------------------------------------------------------------------


@pytest.mark.parametrize("sort", list(directory.SORTS))
def test_every_sort_is_stable_and_pages_never_repeat_or_skip(
    db_session, factories, viewer, now, sort
):
    # Many ties on purpose: equal ratings, sessions, times and even equal names.
    for n in range(30):
        profile = factories.mentor(name=f"Mentor {n % 7}", headline="cloud").mentor_profile
        profile.rating_count = n % 3
        profile.rating_average = 4.5 if n % 3 else None
        profile.sessions_completed = n % 4
        profile.next_available_at = now + dt.timedelta(hours=n % 5) if n % 6 else None
    db_session.flush()
    for text in ("", "cloud"):
        seen = []
        for page in (1, 2, 3):
            result = search(db_session, viewer, now, sort=sort, page=page, text=text)
            seen += [card.profile.id for card in result.cards]
        assert len(seen) == len(set(seen)) == 30
        again = [
            card.profile.id
            for page in (1, 2, 3)
            for card in search(db_session, viewer, now, sort=sort, page=page, text=text).cards
        ]
        assert again == seen


def test_sorts_order_by_what_they_say(db_session, factories, viewer, now):
    a = factories.mentor(name="Alma").mentor_profile
    b = factories.mentor(name="Bert").mentor_profile
    c = factories.mentor(name="Cleo").mentor_profile
    a.rating_count, a.rating_average, a.sessions_completed = 2, 4.0, 9
    b.rating_count, b.rating_average, b.sessions_completed = 5, 4.9, 1
    a.next_available_at = now + dt.timedelta(days=3)
    c.next_available_at = now + dt.timedelta(hours=2)
    a.approved_at, b.approved_at, c.approved_at = (
        now - dt.timedelta(days=30),
        now - dt.timedelta(days=1),
        now - dt.timedelta(days=9),
    )
    db_session.flush()

    def order(sort):
        return names(search(db_session, viewer, now, sort=sort))

    assert order("rating") == ["Bert", "Alma", "Cleo"]  # unrated last
    assert order("sessions") == ["Alma", "Bert", "Cleo"]
    assert order("soonest") == ["Cleo", "Alma", "Bert"]  # nothing free: last
    assert order("newest") == ["Bert", "Cleo", "Alma"]
    assert order("name") == ["Alma", "Bert", "Cleo"]
    assert order("best") == ["Alma", "Cleo", "Bert"]  # free time first, then rating


def test_a_page_past_the_end_shows_the_last_page(db_session, factories, viewer, now):
    for n in range(directory.PAGE_SIZE + 2):
        factories.mentor(name=f"M {n:02d}")
    page = search(db_session, viewer, now, page=99, sort="name")
    assert page.page == page.pages == 2
    assert len(page.cards) == 2 and page.first_index == directory.PAGE_SIZE + 1


# -- next available --------------------------------------------------------------------


def test_cards_show_the_exact_next_free_time_and_bookings_refresh_the_stored_one(
    db_session, factories, viewer, now
):
    from app.services import booking as booking_service

    mentor = factories.mentor(
        name="Busy Bee", min_notice_hours=1, session_minutes=60, requires_confirmation=False
    )
    profile = mentor.mentor_profile
    add_hours(db_session, profile, now, start=9, end=11)  # two slots a day (UTC)
    mentor_index.refresh_availability(db_session, [profile], now)
    first = profile.next_available_at
    assert first is not None and first.hour == 9 and first > now
    card = search(db_session, viewer, now).cards[0]
    assert card.next_at == first

    booking_service.book(db_session, viewer, profile, starts_at=first, topic="Career", now=now)
    db_session.flush()
    assert profile.next_available_at == first + dt.timedelta(hours=1)
    assert search(db_session, viewer, now).cards[0].next_at == profile.next_available_at

    booked = db_session.query(Booking).one()
    booking_service.cancel(db_session, viewer, booked, version=booked.version, now=now)
    db_session.flush()
    assert profile.next_available_at == first


def test_the_job_refreshes_times_that_slipped_into_the_notice_window(db_session, factories, now):
    profile = factories.mentor(min_notice_hours=12).mentor_profile
    add_hours(db_session, profile, now)
    mentor_index.refresh_availability(db_session, [profile], now)
    assert mentor_index.refresh_stale(db_session, now) == 0  # nothing due yet
    stored = profile.next_available_at
    later = stored - dt.timedelta(hours=11)  # the stored time is now inside the notice
    assert mentor_index.refresh_stale(db_session, later) == 1
    assert profile.next_available_at > stored
    assert mentor_index.refresh_stale(db_session, later) == 0


def test_sessions_completed_counts_recorded_attendance(db_session, factories, now):
    mentor, mentee = factories.mentor(), factories.user()
    start = now - dt.timedelta(days=5)
    for n, status in enumerate(
        (BookingStatus.COMPLETED, BookingStatus.COMPLETED, BookingStatus.NO_SHOW)
    ):
        factories.booking(
            mentor, mentee, starts_at=start + dt.timedelta(hours=2 * n), status=status
        )
    mentor_index.refresh_stats(db_session, [mentor.id])
    db_session.refresh(mentor.mentor_profile)
    assert mentor.mentor_profile.sessions_completed == 2


# -- pages -----------------------------------------------------------------------------


def test_the_directory_needs_the_same_queries_for_three_mentors_or_thirty(
    app, client_for, people, factories, db_session, engine, now
):
    tags = [factories.tag(f"Area {n}") for n in range(5)]

    def add_mentors(count):
        for n in range(count):
            user = factories.mentor(name=f"Crowd {n}", expertise=tags[: 1 + n % 5])
            add_hours(db_session, user.mentor_profile, now, weekdays=(n % 7,))
            factories.booking(
                user, factories.user(), starts_at=now + dt.timedelta(days=1 + n % 5, hours=1)
            )
            db_session.add(
                Favorite(user_id=people.mentee.id, mentor_profile_id=user.mentor_profile.id)
            )
        db_session.commit()

    client = client_for("mentee")
    url = "/mentor-hub/mentors?sort=soonest"
    add_mentors(1)  # with the cast's two mentors: three on the page
    with counted(engine) as few:
        assert client.get(url).status_code == 200
    add_mentors(27)
    with counted(engine) as many:
        response = client.get(url)
    assert response.status_code == 200
    assert response.data.count(b'<article class="mh-mentor-card"') == directory.PAGE_SIZE
    assert len(many) == len(few), "\n".join(many)
    with counted(engine) as results:
        assert (
            client.get(
                "/mentor-hub/mentors/results?q=crowd", headers={"HX-Request": "true"}
            ).status_code
            == 200
        )
    assert len(results) <= len(many)
    # The live results leave the filter form alone: no saved searches, no language list.
    assert not [q for q in results if "saved_searches" in q or "json_" in q], results


def test_the_results_fragment_pushes_the_canonical_url(client_for, people):
    client = client_for("mentee")
    response = client.get(
        "/mentor-hub/mentors/results?language=english&q=+maya+&sort=best&page=1",
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response.headers["HX-Push-Url"] == "/mentor-hub/mentors?q=maya&language=English"
    assert b"Maya Mentor" in response.data and b"<html" not in response.data
    # Without htmx the results address is just the directory.
    plain = client.get("/mentor-hub/mentors/results?q=maya")
    assert plain.status_code == 302 and plain.headers["Location"].endswith(
        "/mentor-hub/mentors?q=maya"
    )


def test_the_page_shows_chips_count_and_an_empty_state_with_suggestions(client_for, people):
    client = client_for("mentee")
    page = client.get("/mentor-hub/mentors?q=zzzz&language=English").get_data(as_text=True)
    assert "No mentors found" in page and "No mentors match" in page
    assert "“zzzz”" in page and "Clear all" in page and "Browse by area" in page
    assert 'href="/mentor-hub/mentors?language=English"' in page  # the "zzzz" chip
    full = client.get("/mentor-hub/mentors").get_data(as_text=True)
    assert "1–2 of 2 mentors" in full and "Maya Mentor" in full and "Pat Pending" not in full


def test_favourite_toggle_answers_htmx_with_the_button_and_others_with_a_redirect(
    client_for, people, db_session, no_csrf
):
    client = client_for("mentee")
    profile = people.mentor.mentor_profile
    url = f"/mentor-hub/mentors/{profile.id}/favourite"
    response = client.post(url, data={"on": "1"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and b'aria-pressed="true"' in response.data
    again = client.post(url, data={"on": "1", "next": "/mentor-hub/mentors?favourites=1"})
    assert again.status_code == 303 and again.headers["Location"].endswith("favourites=1")
    assert db_session.query(Favorite).filter_by(user_id=people.mentee.id).count() == 1
    evil = client.post(url, data={"on": "0", "next": "https://evil.example/"})
    assert evil.headers["Location"] == "/mentor-hub/mentors"
    pending = people.pending_mentor.mentor_profile
    assert (
        client.post(f"/mentor-hub/mentors/{pending.id}/favourite", data={"on": "1"}).status_code
        == 404
    )


def test_saved_searches_save_rerun_rename_and_delete(client_for, people, db_session, no_csrf):
    client = client_for("mentee")
    hx = {"HX-Request": "true"}
    saved = client.post(
        "/mentor-hub/saved-searches", data={"name": "Cloud", "query": "q=cloud"}, headers=hx
    )
    assert saved.status_code == 200 and "Saved as “Cloud”" in saved.get_data(as_text=True)
    # The same name (any case) updates the search instead of adding another.
    client.post("/mentor-hub/saved-searches", data={"name": "cloud", "query": "q=aws"}, headers=hx)
    rows = db_session.query(SavedSearch).filter_by(user_id=people.mentee.id).all()
    assert [(r.name, r.query) for r in rows] == [("Cloud", "q=aws")]
    page = client.get("/mentor-hub/mentors?q=aws").get_data(as_text=True)
    assert 'href="/mentor-hub/mentors?q=aws"' in page

    refused = client.post(
        "/mentor-hub/saved-searches", data={"name": " ", "query": "q=x"}, headers=hx
    )
    assert refused.status_code == 422 and refused.headers["X-MentorHub-Swap"] == "true"
    assert "Give the search a name." in refused.get_data(as_text=True)
    nothing = client.post(
        "/mentor-hub/saved-searches", data={"name": "All", "query": ""}, headers=hx
    )
    assert nothing.status_code == 422 and "nothing to save" in nothing.get_data(as_text=True)

    other = client_for("other_mentee")
    assert other.post(f"/mentor-hub/saved-searches/{rows[0].id}/delete").status_code == 404
    gone = client.post(f"/mentor-hub/saved-searches/{rows[0].id}/delete", data={"query": "q=aws"})
    assert gone.status_code == 303 and gone.headers["Location"].endswith(
        "/mentor-hub/mentors?q=aws"
    )
    assert db_session.query(SavedSearch).count() == 0


def test_saved_search_limit_is_enforced(client_for, people, db_session, now, no_csrf):
    from app.services import saved_searches

    for n in range(saved_searches.PER_USER_MAX):
        db_session.add(
            SavedSearch(user_id=people.mentee.id, name=f"S{n}", query=f"q={n}", created_at=now)
        )
    db_session.commit()
    response = client_for("mentee").post(
        "/mentor-hub/saved-searches",
        data={"name": "One more", "query": "q=x"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422 and "delete one to save another" in response.get_data(
        as_text=True
    )


def test_favourites_entry_opens_the_filtered_directory(client_for, people):
    response = client_for("mentee").get("/mentor-hub/favourites")
    assert response.status_code == 302
    assert parse_qs(urlsplit(response.headers["Location"]).query) == {"favourites": ["1"]}


def test_each_process_keeps_the_language_list_for_a_while(app, client_for, people, engine, clock):
    from app.web import hub

    client = client_for("mentee")
    app.config.update(DIRECTORY_FACET_CACHE_SECONDS=300, DIRECTORY_FACET_STALE_SECONDS=0)
    hub._kept.clear()
    try:
        with counted(engine) as first:
            client.get("/mentor-hub/mentors")
        with counted(engine) as second:
            client.get("/mentor-hub/mentors")
        assert len(second) == len(first) - 1  # the languages were not read again
        clock.advance(minutes=6)
        with counted(engine) as later:
            client.get("/mentor-hub/mentors")
        assert len(later) == len(first)
    finally:
        app.config.update(DIRECTORY_FACET_CACHE_SECONDS=0, DIRECTORY_FACET_STALE_SECONDS=3600)
        hub._kept.clear()


def test_a_ranking_past_its_time_is_used_once_more_and_worked_out_after(
    db_session, factories, viewer, now
):
    """DIRECTORY_RESULTS_STALE_SECONDS: past the cache time the kept ranking answers at once
    and its refresh is handed to `defer` (the web layer runs it after the response); the
    next search has the new ranking."""
    from app.services.computed_cache import ComputedCache

    kept, later = ComputedCache(), []

    def kept_search(at):
        return directory.search(
            db_session,
            DirectoryQuery(),
            viewer=viewer,
            now=at,
            kept=kept,
            keep_seconds=15,
            stale_seconds=60,
            defer=later.append,
        )

    factories.mentor(name="Ann Able")
    assert names(kept_search(now)) == ["Ann Able"]
    factories.mentor(name="Ben Brand")
    db_session.flush()
    at = now + dt.timedelta(seconds=20)
    stale = kept_search(at)
    assert (names(stale), stale.total, len(later)) == (["Ann Able"], 1, 1)
    later.pop()()
    fresh = kept_search(at)
    assert (sorted(names(fresh)), fresh.total, later) == (["Ann Able", "Ben Brand"], 2, [])


def test_the_ranking_is_reused_for_a_while_but_cards_and_favourites_are_fresh(
    db_session, factories, viewer, now
):
    """DIRECTORY_RESULTS_CACHE_SECONDS: the same question within the time reuses which
    mentors, in which order, and the total; what a card shows is read again; a new mentor
    shows up once the time is over; favourites are never kept."""
    from app.services.auth import update_account
    from app.services.computed_cache import ComputedCache

    kept = ComputedCache()

    def kept_search(at, **kw):
        return directory.search(
            db_session, DirectoryQuery(**kw), viewer=viewer, now=at, kept=kept, keep_seconds=15
        )

    ann = factories.mentor(name="Ann Able")
    assert names(kept_search(now)) == ["Ann Able"]
    factories.mentor(name="Ben Brand")
    update_account(db_session, ann, name="Ann Renamed", timezone="UTC", now=now)
    db_session.flush()
    page = kept_search(now + dt.timedelta(seconds=10))
    assert (names(page), page.total) == (["Ann Renamed"], 1)  # same ranking, fresh card
    assert names(kept_search(now + dt.timedelta(seconds=10), text="ben")) == ["Ben Brand"]
    later = kept_search(now + dt.timedelta(seconds=15))
    assert (sorted(names(later)), later.total) == (["Ann Renamed", "Ben Brand"], 2)

    directory.set_favourite(db_session, viewer, ann.mentor_profile, True)
    assert names(kept_search(now + dt.timedelta(seconds=16), favourites=True)) == ["Ann Renamed"]
    directory.set_favourite(db_session, viewer, ann.mentor_profile, False)
    assert names(kept_search(now + dt.timedelta(seconds=16), favourites=True)) == []
