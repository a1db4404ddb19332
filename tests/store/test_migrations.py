"""The migrations, on every backend: they build exactly the model's schema and take it down again.

Generic on purpose: the tables come from ``Base.metadata`` and the revisions from the migration
scripts, so new tables and revisions are checked without editing this file.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from importlib.resources import files
from multiprocessing.synchronize import Barrier

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from gabaguide.store.db import downgrade, make_engine, migrate
from gabaguide.store.tables import Base

MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head() -> str:
    scripts = ScriptDirectory(str(files("gabaguide.store") / "migrations"))
    only: str = scripts.get_current_head()  # raises if the revisions have branched into two heads
    return only


def test_upgrade_from_empty_creates_every_model_table(engine: Engine) -> None:
    assert tables(engine) == set()
    migrate(engine)
    assert tables(engine) == MODEL_TABLES | {"alembic_version"}
    assert revision(engine) == head()


def test_downgrade_to_base_removes_every_table_and_upgrade_works_again(engine: Engine) -> None:
    migrate(engine)
    downgrade(engine)
    assert tables(engine) <= {"alembic_version"}
    assert revision(engine) is None
    migrate(engine)
    assert tables(engine) == MODEL_TABLES | {"alembic_version"}
    assert revision(engine) == head()


def test_the_model_and_the_migrations_agree(engine: Engine) -> None:
    migrate(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            # Nothing is ignored: types and server defaults are compared too (compare_type is
            # Alembic's default; compare_server_default is not).
            opts={"compare_type": True, "compare_server_default": True},
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def _migrate_after(url: str, start: Barrier) -> None:
    engine = make_engine(url)
    start.wait(timeout=60)
    migrate(engine)
    engine.dispose()


def test_processes_starting_together_migrate_once(store_url: str) -> None:
    """Web workers start at once: each migrates under the database's lock, the later ones find the
    schema current instead of failing on "table already exists"."""
    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(4)
    workers = [spawn.Process(target=_migrate_after, args=(store_url, start)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]  # a failure's traceback: stderr
    engine = make_engine(store_url)
    assert tables(engine) == MODEL_TABLES | {"alembic_version"}
    assert revision(engine) == head()
    engine.dispose()
