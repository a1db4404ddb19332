"""The store tests run on every backend: each test gets a fresh, empty database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dbs import BACKENDS, fresh_database_url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database's SQLAlchemy URL (SQLite file, or PostgreSQL database)."""
    with fresh_database_url(request.param, tmp_path) as url:
        yield url
