"""The expertise taxonomy: the twelve areas of the visual brief, seeded idempotently."""

from __future__ import annotations

from sqlalchemy import select

from app.models import ExpertiseTag
from app.services.taxonomy import EXPERTISE_TAXONOMY, ensure_taxonomy

VISUAL_BRIEF_AREAS = [
    "AI & Machine Learning",
    "Web Development",
    "Mobile Development",
    "Data Science & Analytics",
    "Career Guidance & Job Search",
    "Cybersecurity",
    "Cloud & DevOps",
    "Product Management",
    "UX/UI Design",
    "Business & Entrepreneurship",
    "Leadership & Management",
    "Technical Writing",
]


def test_taxonomy_is_the_twelve_areas_of_the_visual_brief():
    assert [area.name for area in EXPERTISE_TAXONOMY] == VISUAL_BRIEF_AREAS
    slugs = [area.slug for area in EXPERTISE_TAXONOMY]
    assert len(set(slugs)) == 12
    assert all(slug == slug.lower() and " " not in slug for slug in slugs)
    categories = {area.category for area in EXPERTISE_TAXONOMY}
    assert categories <= {"Technology", "Career", "Business", "Design", "Communication"}


def test_ensure_taxonomy_adds_every_area_once(db_session):
    assert ensure_taxonomy(db_session) == 12
    assert ensure_taxonomy(db_session) == 0
    tags = db_session.scalars(select(ExpertiseTag)).all()
    assert sorted(t.name for t in tags) == sorted(VISUAL_BRIEF_AREAS)
    by_name = {t.name: t for t in tags}
    assert by_name["UX/UI Design"].category == "Design"
    assert by_name["Technical Writing"].category == "Communication"


def test_ensure_taxonomy_updates_an_existing_tag_in_place(db_session, factories):
    old = factories.tag("web development", category="Misc")
    assert ensure_taxonomy(db_session) == 11
    db_session.refresh(old)
    assert (old.name, old.slug, old.category) == (
        "Web Development",
        "web-development",
        "Technology",
    )
    assert len(db_session.scalars(select(ExpertiseTag)).all()) == 12


def test_ensure_taxonomy_does_not_steal_a_slug_held_by_another_tag(db_session):
    squatter = ExpertiseTag(name="Cyber", slug="cybersecurity", category="Technology")
    db_session.add(squatter)
    db_session.flush()
    assert ensure_taxonomy(db_session) == 12
    added = db_session.scalar(select(ExpertiseTag).where(ExpertiseTag.name == "Cybersecurity"))
    assert added is not None and added.slug == "cybersecurity-2"
    assert squatter.slug == "cybersecurity"
