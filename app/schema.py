"""Running Alembic from code: `flask init-db`, the test suite and /healthz use it."""

from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine

from app.config import ROOT


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["configure_logger"] = False
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


# Full-text search lives outside the models: PostgreSQL's generated tsvector column and
# SQLite's FTS5 table (and the shadow tables FTS5 makes) are written by migration 0008
# and read with SQL of their own (app/services/directory_search.py).
SEARCH_TABLE_PREFIX = "mentor_search"
SEARCH_COLUMN = "search_vector"


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, _compare: object
) -> bool:
    """Alembic's filter: leave the full-text search objects out of model comparisons."""
    if type_ == "table" and name and name.startswith(SEARCH_TABLE_PREFIX):
        return False
    if type_ == "column" and name == SEARCH_COLUMN:
        return False
    return not (type_ == "index" and name == "ix_mentor_profiles_search_vector")


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


@functools.cache
def head_revision() -> str | None:
    """The newest migration of this code. Read once per process: finding it parses every
    migration file (about 30 ms), and /healthz asks on every load balancer probe."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
