"""Demo patients: the bundled examples, loaded into an empty store on first start."""

from __future__ import annotations

import json
from importlib.resources import files

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gabaguide.store.db import Store
from gabaguide.store.tables import DemoPatient


def load_demo_patients(store: Store) -> int:
    """Add the bundled example patients when there are none; return how many were added."""
    if store.has(DemoPatient):
        return 0
    text = (files("gabaguide.examples") / "patients.jsonl").read_text(encoding="utf-8")
    rows: list[DemoPatient] = []
    for line in filter(str.strip, text.splitlines()):
        data = json.loads(line)
        pid = str(data.get("patient_id") or f"example-{len(rows) + 1}")
        rows.append(DemoPatient(id=pid, title=_title(data), patient_json=json.dumps(data)))
    try:
        with store.session.begin() as s:
            s.add_all(rows)
    except IntegrityError:  # another worker process loaded them at the same moment
        return 0
    return len(rows)


def demo_patients(store: Store) -> list[DemoPatient]:
    with store.session() as s:
        return list(s.execute(select(DemoPatient).order_by(DemoPatient.id)).scalars())


def demo_patient(store: Store, pid: str) -> dict[str, object] | None:
    with store.session() as s:
        row = s.get(DemoPatient, pid)
    return None if row is None else dict(json.loads(row.patient_json))


def _title(data: dict[str, object]) -> str:
    parts = [
        f"{data['age_years']} y" if "age_years" in data else None,
        str(data["sex"]) if "sex" in data else None,
        str(data["indication"]) if "indication" in data else None,
        f"goal: {data['goal']}" if "goal" in data else None,
    ]
    return ", ".join(p for p in parts if p) or "example patient"
