"""The store: migrations bring any database to the newest schema, once; demo patients load once."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import inspect

from gabaguide.store import open_store
from gabaguide.store.demo import demo_patient, demo_patients, load_demo_patients
from gabaguide.store.reactions import counts, mine, react, visitor_key


def test_migrations_create_the_tables_and_rerun_as_no_op(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'db.sqlite3'}"
    store = open_store(url)
    tables = set(inspect(store.engine).get_table_names())
    assert {"settings", "reactions", "demo_patients", "alembic_version"} <= tables
    react(store, "uses", "v1", "clear")
    again = open_store(url)  # a restart: migrations run again and keep the data
    assert counts(again, "uses") == {"clear": 1}


def test_demo_patients_load_once_and_are_valid_json(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    added = load_demo_patients(store)
    assert added == len(demo_patients(store)) > 0
    assert load_demo_patients(store) == 0
    first = demo_patients(store)[0]
    data = demo_patient(store, first.id)
    assert data is not None
    assert data["patient_id"] == first.id
    assert json.loads(first.patient_json) == data
    assert demo_patient(store, "no-such") is None


def test_visitor_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    secret = open_store(url).secret()
    assert len(secret) == 64
    assert open_store(url).secret() == secret


def test_a_reaction_is_one_row_per_visitor_and_page(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite3'}")
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
