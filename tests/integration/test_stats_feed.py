"""The stats feed /api/v1/mentorship/stats: the admin overview's numbers for the same
period, bearer-token access (401 JSON otherwise), strict parameters (400 JSON naming the
field), a per-token rate limit (429 JSON), and a live answer that conforms to the OpenAPI
description served at /api/v1/openapi.json."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import select

from app.models import ApiToken, User
from app.services import api_tokens, periods, program_stats, stats_feed
from app.services.demo import seed_demo
from tests.conftest import FROZEN_NOW
from tests.integration.conftest import counted
from tests.integration.test_admin_overview import generate

URL = "/api/v1/mentorship/stats"
NOW = FROZEN_NOW


@pytest.fixture
def token(db_session, people) -> str:
    _, plaintext = api_tokens.create(db_session, "Dashboard", actor=people.admin, now=NOW)
    db_session.commit()
    return plaintext


def auth(plaintext: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {plaintext}"}


def feed(client, plaintext: str, **args: str):
    return client.get(URL, query_string=args, headers=auth(plaintext))


def expected(db_session, args: dict[str, str], tz: str) -> dict[str, Any]:
    period = periods.parse_period(args, now=NOW, tz=tz)
    return stats_feed.document(
        program_stats.period_overview(db_session, period, now=NOW), generated_at=NOW
    )


# -- the numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        {"period": "month"},
        {"period": "30d"},
        {"period": "90d"},
        {"period": "year"},
        {"period": "custom", "from": "2026-08-01", "to": "2026-11-30"},
    ],
)
def test_the_feed_equals_the_overview_for_the_same_period(
    client, factories, db_session, token, args
):
    generate(factories, db_session, seed=5)
    got = feed(client, token, tz="Europe/Berlin", **args)
    assert got.status_code == 200
    body = got.get_json()
    assert body == expected(db_session, args, "Europe/Berlin")
    overview = program_stats.period_overview(
        db_session, periods.parse_period(args, now=NOW, tz="Europe/Berlin"), now=NOW
    )
    # Spelled out, so a change to the document cannot quietly drift from the overview.
    assert body["sessions"]["total"] == overview.sessions_total > 0
    assert body["sessions"]["by_status"] == overview.sessions_by_status
    assert body["rates"]["completion"]["numerator"] == overview.completion.numerator
    assert body["rates"]["no_show"]["denominator"] == overview.no_show.denominator
    assert body["mentors"]["approved"] == overview.approved_mentors
    assert body["mentees"]["active"] == overview.active_mentees
    assert body["mail"] == overview.mail
    assert body["attention"]["total"] == overview.attention.total
    assert [p["values"] for p in body["series"]["sessions"]] == [
        p.values for p in overview.sessions_series
    ]
    assert body["period"]["starts_at"] == overview.period.starts_at.isoformat().replace(
        "+00:00", "Z"
    )


def test_the_feed_equals_the_overview_on_the_demo_data(client, db_session):
    seed_demo(db_session, now=NOW)
    admin = db_session.scalars(select(User).where(User.is_admin.is_(True))).first()
    _, plaintext = api_tokens.create(db_session, "Demo", actor=admin, now=NOW)
    db_session.commit()
    for key in ("month", "90d", "year"):
        body = feed(client, plaintext, period=key, tz="UTC").get_json()
        assert body == expected(db_session, {"period": key}, "UTC")
    assert body["sessions"]["total"] > 0
    assert body["attention"]["open_disputes"] == 1
    assert body["rating"]["count"] > 0


def test_the_default_period_is_this_month_in_the_default_zone(client, token, app):
    body = client.get(URL, headers=auth(token)).get_json()
    assert body["period"]["key"] == "month"
    assert body["period"]["tz"] == app.config["DEFAULT_TIMEZONE"]
    assert (body["period"]["first_day"], body["period"]["last_day"]) == (
        "2026-11-01",
        "2026-11-30",
    )


def test_answers_are_private_and_short_lived_and_set_no_cookie(client, token):
    got = feed(client, token)
    assert got.headers["Cache-Control"] == "private, max-age=60"
    assert "Authorization" in got.headers["Vary"]
    assert "Set-Cookie" not in got.headers
    assert got.mimetype == "application/json"


# -- parameters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"period": "fortnight"}, "period"),
        ({"tz": "Not/AZone"}, "tz"),
        ({"tz": "../../etc/passwd"}, "tz"),
        ({"period": "custom", "from": "2026-13-45", "to": "2026-12-01"}, "from"),
        ({"period": "custom", "from": "2026-01-01"}, "to"),
        ({"period": "custom", "from": "2026-05-01", "to": "2026-04-01"}, "to"),
        ({"period": "year", "from": "2026-01-01"}, "from"),
    ],
)
def test_a_bad_parameter_is_a_400_naming_the_field(client, token, args, field):
    got = feed(client, token, **args)
    assert got.status_code == 400
    error = got.get_json()["error"]
    assert (error["code"], error["field"]) == ("invalid_parameter", field)
    assert error["message"]
    assert got.headers["Cache-Control"] == "no-store"


# -- tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer mh_not-a-token"},
        {"Authorization": "Basic YWRtaW46YWRtaW4="},
    ],
)
def test_a_missing_or_unknown_token_is_a_401(client, people, headers):
    got = client.get(URL, headers=headers)
    assert got.status_code == 401
    assert got.get_json()["error"]["code"] == "unauthorized"
    assert got.headers["WWW-Authenticate"].startswith('Bearer realm="mentorhub"')


def test_a_signed_in_admin_without_a_token_is_refused_too(client_for):
    # The cookie session is not a credential here: the API has no CSRF protection.
    assert client_for("admin").get(URL).status_code == 401


def test_a_revoked_token_is_refused(client, db_session, people, token):
    assert feed(client, token).status_code == 200
    row = db_session.scalar(select(ApiToken))
    api_tokens.revoke(db_session, row.id, actor=people.admin, now=NOW)
    db_session.commit()
    got = feed(client, token)
    assert got.status_code == 401
    assert got.get_json()["error"]["message"] == "This API token has been revoked."
    assert 'error="invalid_token"' in got.headers["WWW-Authenticate"]


def test_last_used_moves_at_most_once_a_minute(client, db_session, clock, token, engine):
    row = db_session.scalar(select(ApiToken))
    assert row.last_used_at is None
    feed(client, token)
    db_session.refresh(row)
    assert row.last_used_at == NOW
    clock.advance(seconds=59)
    with counted(engine) as statements:
        assert feed(client, token).status_code == 200
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE API_TOKENS")]
    db_session.refresh(row)
    assert row.last_used_at == NOW
    later = clock.advance(seconds=1)
    feed(client, token)
    db_session.refresh(row)
    assert row.last_used_at == later


def test_the_limit_is_per_token_and_answers_429_json(app, client, db_session, people, token):
    _, other = api_tokens.create(db_session, "Other", actor=people.admin, now=NOW)
    db_session.commit()
    app.config["STATS_FEED_LIMIT"] = "2 per minute"
    try:
        codes = [feed(client, token).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        limited = feed(client, token)
        assert limited.get_json()["error"]["code"] == "rate_limited"
        assert "Retry-After" in limited.headers
        # Another dashboard's allowance is its own.
        assert feed(client, other).status_code == 200
    finally:
        app.config["STATS_FEED_LIMIT"] = "60 per minute"


# -- the OpenAPI description -----------------------------------------------------------------


class Mismatch(AssertionError):
    pass


def conforms(value: Any, schema: dict[str, Any], spec: dict[str, Any], path: str = "$") -> None:
    """The JSON Schema 2020-12 keywords the description uses: $ref, type (one or a list),
    const, enum, required, properties, additionalProperties: false, items, minimum and
    the date / date-time formats."""
    if "$ref" in schema:
        target: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        conforms(value, target, spec, path)
    types = schema.get("type")
    if types is not None:
        names = types if isinstance(types, list) else [types]
        checks = {
            "object": lambda v: isinstance(v, dict),
            "array": lambda v: isinstance(v, list),
            "string": lambda v: isinstance(v, str),
            "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
            "boolean": lambda v: isinstance(v, bool),
            "null": lambda v: v is None,
        }
        if not any(checks[name](value) for name in names):
            raise Mismatch(f"{path}: {value!r} is not {types}")
    if "const" in schema and value != schema["const"]:
        raise Mismatch(f"{path}: {value!r} != {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        raise Mismatch(f"{path}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and isinstance(value, int | float) and value < schema["minimum"]:
        raise Mismatch(f"{path}: {value!r} < {schema['minimum']}")
    if schema.get("format") == "date-time" and isinstance(value, str):
        assert dt.datetime.fromisoformat(value).tzinfo is not None, path
    if schema.get("format") == "date" and isinstance(value, str):
        dt.date.fromisoformat(value)
    if isinstance(value, dict):
        missing = set(schema.get("required", [])) - set(value)
        if missing:
            raise Mismatch(f"{path}: missing {sorted(missing)}")
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False and set(value) - set(props):
            raise Mismatch(f"{path}: undescribed {sorted(set(value) - set(props))}")
        for key, sub in value.items():
            if key in props:
                conforms(sub, props[key], spec, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for n, item in enumerate(value):
            conforms(item, schema["items"], spec, f"{path}[{n}]")


def test_the_validator_catches_what_it_should():
    spec = {"components": {"schemas": {"R": {"type": "integer", "minimum": 0}}}}
    schema = {
        "type": "object",
        "required": ["a"],
        "additionalProperties": False,
        "properties": {"a": {"$ref": "#/components/schemas/R"}, "b": {"type": ["string", "null"]}},
    }
    conforms({"a": 1, "b": None}, schema, spec)
    for bad in ({}, {"a": -1}, {"a": "1"}, {"a": 1, "c": 2}, {"a": 1, "b": 2}, {"a": True}):
        with pytest.raises(Mismatch):
            conforms(bad, schema, spec)


def test_the_openapi_description_is_served_and_describes_the_endpoint(client):
    got = client.get("/api/v1/openapi.json")
    assert got.status_code == 200
    spec = got.get_json()
    assert spec["openapi"].startswith("3.1")
    operation = spec["paths"]["/mentorship/stats"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"period", "from", "to", "tz"}
    assert set(operation["responses"]) == {"200", "400", "401", "429"}
    assert spec["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    assert spec["servers"][0]["url"] + "/mentorship/stats" == URL


def _schema(spec: dict[str, Any], status: str) -> dict[str, Any]:
    response = spec["paths"]["/mentorship/stats"]["get"]["responses"][status]
    return response["content"]["application/json"]["schema"]  # type: ignore[no-any-return]


def test_live_answers_conform_to_the_description(app, client, factories, db_session, token):
    spec = client.get("/api/v1/openapi.json").get_json()
    generate(factories, db_session, seed=9)
    for args in (
        {"period": "month", "tz": "Asia/Kolkata"},
        {"period": "90d"},
        {"period": "year", "tz": "America/New_York"},
        {"period": "custom", "from": "2001-01-01", "to": "2001-01-31"},  # empty: nulls
    ):
        conforms(feed(client, token, **args).get_json(), _schema(spec, "200"), spec)
    conforms(feed(client, token, period="x").get_json(), _schema(spec, "400"), spec)
    conforms(client.get(URL).get_json(), _schema(spec, "401"), spec)
    app.config["STATS_FEED_LIMIT"] = "1 per minute"
    try:
        feed(client, token)
        limited = feed(client, token)
        assert limited.status_code == 429
        conforms(limited.get_json(), _schema(spec, "429"), spec)
    finally:
        app.config["STATS_FEED_LIMIT"] = "60 per minute"


def test_every_field_of_the_document_is_described(client, token):
    """The description's feed schema names exactly the document's keys (no field left
    undocumented, none documented that is not sent)."""
    spec = client.get("/api/v1/openapi.json").get_json()
    body = feed(client, token).get_json()
    schema = spec["components"]["schemas"]["StatsFeed"]
    assert set(schema["properties"]) == set(body) == set(schema["required"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["generated_at"])


def test_a_call_is_the_overview_s_queries_plus_the_token_s(
    client, factories, db_session, token, engine, clock
):
    def queries(**args: str) -> list[str]:
        with counted(engine) as statements:
            assert feed(client, token, **args).status_code == 200
        return statements

    first = queries(period="year")  # the token's last use is written once
    assert sum(s.lstrip().upper().startswith("UPDATE") for s in first) == 1
    generate(factories, db_session, mentors=10, mentees=20, sessions=150, seed=5)
    # Within the minute: the token lookup and the overview's twelve aggregate queries.
    assert len(queries(period="year")) == 1 + 12
    assert len(queries(period="30d")) == 1 + 12
