"""Fresh, empty databases for the tests, on either store backend.

``sqlite``: a new file. ``postgresql``: a new uniquely named database on the server that
``GABAGUIDE_TEST_POSTGRES_URL`` names (``scripts/test`` sets it from ``scripts/postgres``; its role
needs CREATEDB), dropped afterwards. Without that variable the PostgreSQL cases are skipped — except
in CI (``CI=true``), where they fail: CI must never pass by skipping the PostgreSQL backend.

Use ``fresh_database_url`` from any test package::

    @pytest.fixture(params=BACKENDS)
    def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
        with fresh_database_url(request.param, tmp_path) as url:
            yield url
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import Pool

from gabaguide.store.db import make_engine

BACKENDS = ("sqlite", "postgresql")
POSTGRES_URL_VARIABLE = "GABAGUIDE_TEST_POSTGRES_URL"


def postgres_admin_url() -> str:
    """The test server's URL (a database the role may connect to); skips, or fails in CI, if unset."""
    url = os.environ.get(POSTGRES_URL_VARIABLE, "")
    if url:
        return url
    message = (
        f"{POSTGRES_URL_VARIABLE} is not set: the PostgreSQL backend is untested "
        '(export GABAGUIDE_TEST_POSTGRES_URL="$(bash scripts/postgres | tail -1)", or run scripts/test)'
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextmanager
def fresh_database_url(backend: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database on ``backend``; a SQLite file is made in ``directory``."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'gabaguide-{secrets.token_hex(4)}.sqlite3'}"
        return
    if backend != "postgresql":
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    admin_url = postgres_admin_url()
    name = f"gabaguide_test_{secrets.token_hex(6)}"
    engine = make_engine(admin_url)
    # CREATE and DROP DATABASE cannot run in a transaction.
    admin = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        # Tests rarely dispose of the engines they open. The connections they open to the database
        # are held here (strongly: an engine collected mid-test would otherwise drop an open
        # connection, which psycopg reports as a warning, an error here) and closed with it.
        opened: list[Any] = []

        def remember(dbapi_connection: Any, _record: object) -> None:
            if getattr(getattr(dbapi_connection, "info", None), "dbname", None) == name:
                opened.append(dbapi_connection)

        event.listen(Pool, "connect", remember)
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            event.remove(Pool, "connect", remember)
            for dbapi_connection in opened:
                dbapi_connection.close()
            # FORCE: a connection the test's code still holds must not keep the database alive.
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
