"""The database a benchmark runs on: a temporary SQLite file, a throwaway PostgreSQL database
(created on the given server and dropped afterwards), or the given URL as it is."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.config import normalize_database_url


@contextmanager
def database(
    url: str | None, *, before_drop: Callable[[], None] | None = None
) -> Iterator[tuple[str, str]]:
    """(url, description). `before_drop` lets the caller close its own connections to a
    throwaway PostgreSQL database before it is dropped."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="mentorhub-bench-") as tmp:
            yield f"sqlite:///{Path(tmp) / 'bench.db'}", "sqlite (temporary file)"
        return
    url = normalize_database_url(url)
    if not url.startswith("postgresql"):
        yield url, url.split(":", 1)[0]
        return
    base = make_url(url)
    name = f"mentorhub_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield (
                base.set(database=name).render_as_string(hide_password=False),
                f"postgresql (throwaway database {name} on {base.host or 'localhost'})",
            )
        finally:
            if before_drop is not None:
                before_drop()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
