"""A large population is audited in parts (ranges of patient ids): the parts' results together must
be exactly the one-part result, no patient lost or counted twice, and a problem found in a later
part still stops the run with nothing written."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide.audit.contract import AuditInputError, Inputs
from gabaguide.audit.parts import split
from gabaguide.audit.run import AuditResult, run_audit
from gabaguide.audit.synth import synthesise
from gabaguide.knowledge import Knowledge
from tests.audit.conftest import (
    AS_OF,
    RULES,
    expected,
    flagged_rows,
    flagged_set,
    write_population,
    write_tables,
)

PART_ROWS = "GABAGUIDE_AUDIT_PART_ROWS"


def _comparable(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if k != "outputs"}


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (r["patient_id"], r["rx_id"], r["rule"]))


def _parts(result: AuditResult) -> list[Path]:
    return sorted(result.flagged_path.glob("*.parquet"))


@pytest.fixture(scope="module")
def generated(k: Knowledge, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("parts")
    synthesise(k, 1200, 77, base / "in", chunk=400)
    return base


def test_parts_give_the_one_part_result(
    generated: Path, k: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = run_audit(k, generated / "in", generated / "whole")
    monkeypatch.setenv(PART_ROWS, "700")
    parted = run_audit(k, generated / "in", generated / "parted")
    assert len(_parts(whole)) == 1
    assert len(_parts(parted)) >= 5
    assert _comparable(parted.summary) == _comparable(whole.summary)
    assert _sorted(flagged_rows(parted)) == _sorted(flagged_rows(whole))
    for rule in RULES:
        assert parted.summary["rules"][rule]["flagged_prescriptions"] > 0, rule


def test_flagged_parts_follow_patient_order(
    generated: Path, k: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each part file holds a range of patient ids; the files follow each other in id order."""
    monkeypatch.setenv(PART_ROWS, "700")
    result = run_audit(k, generated / "in", generated / "ordered")
    ranges = []
    for part in _parts(result):
        ids = pq.read_table(part).column("patient_id").to_pylist()
        if ids:
            ranges.append((min(ids), max(ids)))
    assert len(ranges) >= 5
    assert all(a[1] < b[0] for a, b in pairwise(ranges))


def test_hand_built_population_in_parts(
    tmp_path: Path, k: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Text patient ids, cut into parts of about three prescriptions."""
    monkeypatch.setenv(PART_ROWS, "3")
    result = run_audit(k, write_population(tmp_path / "in"), tmp_path / "out", as_of=AS_OF)
    assert len(_parts(result)) > 5
    rows = flagged_rows(result)
    for rule in RULES:
        assert flagged_set(rows, rule) == expected(rule), rule


def test_repeated_id_in_a_later_part_stops_the_run(
    tmp_path: Path, k: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    patients = [
        {"patient_id": i, "birth_date": "1970-01-01", "sex": "female", "weight_kg": 70}
        for i in range(1, 41)
    ]
    rx = [
        {
            "patient_id": i,
            "rx_id": 1,
            "drug_name": "gabapentin 300 mg capsule",
            "dose_mg": 300,
            "doses_per_day": 3,
            "start_date": "2024-01-01",
        }
        for i in range(1, 41)
    ]
    rx.append({**rx[-1], "dose_mg": 600})  # the last patient's rx_id 1 twice
    folder = write_tables(tmp_path / "in", patients, rx, [])
    monkeypatch.setenv(PART_ROWS, "5")
    with pytest.raises(AuditInputError) as e:
        run_audit(k, folder, tmp_path / "out", as_of=AS_OF)
    (problem,) = e.value.problems
    assert "prescriptions.csv" in problem
    assert "'rx_id'" in problem
    assert "more than once" in problem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


@settings(max_examples=40, deadline=None)
@given(
    ids=st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=60, unique=True),
    rows=st.integers(1, 25),
    text=st.booleans(),
)
def test_every_patient_is_in_exactly_one_part(ids: list[int], rows: int, text: bool) -> None:
    con = ibis.duckdb.connect()
    keys: list[Any] = [f"p{i}" for i in ids] if text else ids
    # Two prescriptions and one lab per patient, and rows of patients not in the patients table.
    strays: list[Any] = ["zz", "#"] if text else [max(ids) + 1, min(ids) - 1]
    rx_ids = keys + keys + strays
    inp = Inputs(
        con.create_table("p", pa.table({"patient_id": keys})),
        con.create_table("r", pa.table({"patient_id": rx_ids})),
        con.create_table("l", pa.table({"patient_id": keys})),
    )
    seen: dict[str, list[Any]] = {"patients": [], "prescriptions": [], "labs": []}
    for part in split(inp, rows):
        for name in seen:
            seen[name] += getattr(part, name).patient_id.to_pyarrow().to_pylist()
    assert sorted(seen["patients"]) == sorted(keys)
    assert sorted(seen["prescriptions"]) == sorted(rx_ids)
    assert sorted(seen["labs"]) == sorted(keys)
