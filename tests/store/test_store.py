"""The store: migrations bring any database to the newest schema, once; demo patients load once.

Every test that takes ``store_url`` runs on SQLite and on PostgreSQL (see ``tests/dbs.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from gabaguide.store import open_store
from gabaguide.store.db import make_engine
from gabaguide.store.demo import demo_patient, demo_patients, load_demo_patients
from gabaguide.store.reactions import counts, mine, react, visitor_key


def test_migrations_create_the_tables_and_rerun_as_no_op(store_url: str) -> None:
    store = open_store(store_url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"settings", "reactions", "demo_patients", "alembic_version"} <= tables
    react(store, "uses", "v1", "clear")
    again = open_store(store_url)  # a restart: migrations run again and keep the data
    assert counts(again, "uses") == {"clear": 1}


def test_demo_patients_load_once_and_are_valid_json(store_url: str) -> None:
    store = open_store(store_url)
    added = load_demo_patients(store)
    assert added == len(demo_patients(store)) > 0
    assert load_demo_patients(store) == 0
    first = demo_patients(store)[0]
    data = demo_patient(store, first.id)
    assert data is not None
    assert data["patient_id"] == first.id
    assert json.loads(first.patient_json) == data
    assert demo_patient(store, "no-such") is None


def test_visitor_secret_is_made_once_and_kept(store_url: str) -> None:
    secret = open_store(store_url).secret()
    assert len(secret) == 64
    assert open_store(store_url).secret() == secret


def test_a_reaction_is_one_row_per_visitor_and_page(store_url: str) -> None:
    store = open_store(store_url)
    a, b = visitor_key("k", "cookie-a"), visitor_key("k", "cookie-b")
    assert a != b
    assert len(a) == 64
    assert "cookie" not in a
    react(store, "dosage", a, "helpful")
    react(store, "dosage", a, "worried")
    react(store, "dosage", b, "worried")
    react(store, "uses", a, "clear")
    assert counts(store, "dosage") == {"worried": 2}
    assert mine(store, "dosage", a) == "worried"
    assert mine(store, "dosage", "nobody") is None


def test_a_sqlite_files_folder_is_created(tmp_path: Path) -> None:
    open_store(f"sqlite:///{tmp_path / 'sub' / 'db.sqlite3'}")
    assert (tmp_path / "sub" / "db.sqlite3").is_file()


def test_sqlite_connections_are_durable_and_enforce_foreign_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with store.engine.connect() as c:

        def pragma(name: str) -> object:
            return c.execute(text(f"PRAGMA {name}")).scalar_one()

        assert pragma("journal_mode") == "wal"
        assert pragma("synchronous") == 2  # FULL: the WAL is synced at every commit
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 5000


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@db.example/gabaguide", "psycopg"),
        ("postgres://u:p@db.example/gabaguide", "psycopg"),
        ("postgresql+psycopg://u:p@db.example/gabaguide", "psycopg"),
        ("sqlite:///:memory:", "pysqlite"),
    ],
    ids=["bare-postgresql", "postgres-alias", "explicit-psycopg", "sqlite"],
)
def test_a_bare_postgresql_url_means_psycopg_3(url: str, driver: str) -> None:
    engine = make_engine(url)  # no connection is made
    assert engine.dialect.driver == driver
    engine.dispose()
