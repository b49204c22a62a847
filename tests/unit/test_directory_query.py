"""The directory's state lives in the URL: parsing is lenient and writing is canonical."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from app.services.directory import DirectoryPage, DirectoryQuery, terms

SLUGS = ["cloud-devops", "web-development", "ux-ui-design"]


def parse(query_string: str) -> DirectoryQuery:
    return DirectoryQuery.from_args(parse_qs(query_string, keep_blank_values=True), SLUGS)


@pytest.mark.parametrize(
    "query",
    [
        DirectoryQuery(),
        DirectoryQuery(text="kubernetes on call", sort="rating", page=3),
        DirectoryQuery(
            expertise=("cloud-devops", "web-development"),
            languages=("English", "Spanish"),
            availability="week",
            min_rating=4.5,
            min_sessions=10,
            favourites=True,
            sort="soonest",
        ),
        DirectoryQuery(text="café & ünïcode", availability="today", min_rating=3.0),
    ],
)
def test_a_query_round_trips_through_its_url(query):
    assert parse(query.query_string()) == query


def test_the_url_is_canonical_whatever_order_the_values_came_in():
    a = parse("language=spanish&expertise=web-development&expertise=cloud-devops&q=%20go%20%20")
    b = parse("q=go&expertise=cloud-devops&language=Spanish&expertise=web-development")
    assert a == b
    assert (
        a.query_string() == "q=go&expertise=cloud-devops&expertise=web-development&language=Spanish"
    )


def test_values_not_on_offer_are_dropped_not_errors():
    query = parse(
        "expertise=nope&language=Klingon&available=someday&rating=4.2&rating=x"
        "&sessions=-1&sort=random&page=0&favourites=maybe"
    )
    assert query == DirectoryQuery()
    assert parse("rating=nan&sessions=abc&page=99999999").page == 10_000


def test_defaults_stay_out_of_the_url():
    assert DirectoryQuery(sort="best", page=1).query_string() == ""
    assert DirectoryQuery(page=2).query_string() == "page=2"
    assert DirectoryQuery(text="x", page=4).query_string(with_page=False) == "q=x"


def test_each_chip_removes_exactly_its_filter_and_goes_back_to_page_one():
    query = DirectoryQuery(
        text="go",
        expertise=("cloud-devops", "web-development"),
        languages=("Spanish",),
        min_sessions=5,
        sort="rating",
        page=3,
    )
    names = {"cloud-devops": "Cloud & DevOps", "web-development": "Web Development"}
    chips = {chip.label: parse(chip.remove) for chip in query.chips(names)}
    assert list(chips) == ["“go”", "Cloud & DevOps", "Web Development", "Spanish", "5+ sessions"]
    assert chips["Cloud & DevOps"].expertise == ("web-development",)
    assert chips["Cloud & DevOps"].text == "go" and chips["Cloud & DevOps"].sort == "rating"
    assert all(q.page == 1 for q in chips.values())
    assert chips["5+ sessions"].min_sessions is None
    assert parse(query.cleared()) == DirectoryQuery(sort="rating")


def test_search_terms_are_words_only_so_neither_engine_sees_syntax():
    assert terms('C++ "or" -x AND*') == ["c", "or", "x", "and"]
    assert terms("a b c d e f g h i j") == list("abcdefgh")


def test_page_links_show_the_ends_and_the_neighbourhood():
    def numbers(page: int, pages: int):
        return DirectoryPage(
            query=DirectoryQuery(), cards=[], total=pages * 12, page=page, pages=pages, tags=[]
        ).page_numbers

    assert numbers(1, 1) == [1]
    assert numbers(1, 4) == [1, 2, 3, 4]
    assert numbers(10, 20) == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert numbers(20, 20) == [1, None, 18, 19, 20]
