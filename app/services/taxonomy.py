"""The expertise taxonomy: the twelve areas mentors tag themselves with.

The list is seed data (shared/VISUAL.md, "Expertise taxonomy"); `flask init-db`
and the demo seed both call `ensure_taxonomy` so that every database has it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import ExpertiseTag


@dataclass(frozen=True)
class ExpertiseArea:
    name: str
    slug: str
    category: str


EXPERTISE_TAXONOMY: tuple[ExpertiseArea, ...] = (
    ExpertiseArea("AI & Machine Learning", "ai-machine-learning", "Technology"),
    ExpertiseArea("Web Development", "web-development", "Technology"),
    ExpertiseArea("Mobile Development", "mobile-development", "Technology"),
    ExpertiseArea("Data Science & Analytics", "data-science-analytics", "Technology"),
    ExpertiseArea("Career Guidance & Job Search", "career-guidance-job-search", "Career"),
    ExpertiseArea("Cybersecurity", "cybersecurity", "Technology"),
    ExpertiseArea("Cloud & DevOps", "cloud-devops", "Technology"),
    ExpertiseArea("Product Management", "product-management", "Business"),
    ExpertiseArea("UX/UI Design", "ux-ui-design", "Design"),
    ExpertiseArea("Business & Entrepreneurship", "business-entrepreneurship", "Business"),
    ExpertiseArea("Leadership & Management", "leadership-management", "Career"),
    ExpertiseArea("Technical Writing", "technical-writing", "Communication"),
)

TAXONOMY_NAMES: tuple[str, ...] = tuple(area.name for area in EXPERTISE_TAXONOMY)


def ensure_taxonomy(session: Session) -> int:
    """Upsert the taxonomy by name (case-insensitively); returns how many tags were added.

    Idempotent: running it again adds nothing. An existing tag keeps its id (mentors
    point at it) and gets the canonical spelling, slug and category, unless another
    tag already holds that slug, in which case the slug is left alone rather than
    breaking the unique constraint. Raises nothing of its own; flushes, never commits.
    """
    added = 0
    for area in EXPERTISE_TAXONOMY:
        tag = session.scalar(
            select(ExpertiseTag).where(func.lower(ExpertiseTag.name) == area.name.lower())
        )
        slug_owner = session.scalar(select(ExpertiseTag).where(ExpertiseTag.slug == area.slug))
        if tag is None:
            slug = area.slug if slug_owner is None else _free_slug(session, area.slug)
            session.add(ExpertiseTag(name=area.name, slug=slug, category=area.category))
            added += 1
        else:
            tag.name = area.name
            tag.category = area.category
            if slug_owner is None:
                tag.slug = area.slug
        # Flush per area so the next lookup sees this one (autoflush may be off).
        session.flush()
    return added


def _free_slug(session: Session, base: str) -> str:
    # A hand-made tag took the canonical slug first; a numeric suffix keeps both reachable.
    n = 2
    while session.scalar(select(ExpertiseTag.id).where(ExpertiseTag.slug == f"{base}-{n}")):
        n += 1
    return f"{base}-{n}"
