"""The seeded generator of audit input: reproducible, plausible, and accepted by the contract."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from gabaguide.audit.contract import COLUMNS, MAX_DOSES_PER_DAY
from gabaguide.audit.definitions import AuditDefinitions
from gabaguide.audit.run import AuditResult, run_audit
from gabaguide.audit.synth import synthesise
from gabaguide.domain import CREATININE_LIMITS
from gabaguide.knowledge import Knowledge
from tests.audit.conftest import RULES

TABLES = ("patients", "prescriptions", "labs")
# The generator's reference date for ages (synth._REFERENCE).
REFERENCE = date(2024, 6, 30)


def _tables(folder: Path) -> dict[str, pa.Table]:
    return {t: pq.read_table(folder / t) for t in TABLES}


@pytest.fixture(scope="module")
def generated(
    k: Knowledge, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, int], dict[str, pa.Table], AuditResult]:
    """3000 patients in chunks of 1000, audited with DuckDB."""
    base = tmp_path_factory.mktemp("synth")
    counts = synthesise(k, 3000, 11, base / "in", chunk=1000)
    result = run_audit(k, base / "in", base / "out")
    return counts, _tables(base / "in"), result


def test_same_seed_and_size_give_identical_tables(tmp_path: Path, k: Knowledge) -> None:
    a = synthesise(k, 700, 3, tmp_path / "a", chunk=300)
    b = synthesise(k, 700, 3, tmp_path / "b", chunk=300)
    assert a == b
    ta, tb = _tables(tmp_path / "a"), _tables(tmp_path / "b")
    for t in TABLES:
        assert ta[t].equals(tb[t]), t
    assert sorted(p.name for p in (tmp_path / "a" / "prescriptions").iterdir()) == [
        "part-00000.parquet",
        "part-00001.parquet",
        "part-00002.parquet",
    ]


def test_another_seed_gives_other_tables(tmp_path: Path, k: Knowledge) -> None:
    synthesise(k, 300, 3, tmp_path / "a")
    synthesise(k, 300, 4, tmp_path / "b")
    ta, tb = _tables(tmp_path / "a"), _tables(tmp_path / "b")
    for t in TABLES:
        assert not ta[t].equals(tb[t]), t


def test_counts_and_columns(generated: tuple[dict[str, int], dict[str, pa.Table], Any]) -> None:
    counts, tables, _ = generated
    assert counts["patients"] == 3000
    for t in TABLES:
        assert tables[t].num_rows == counts[t]
        assert tables[t].column_names == list(COLUMNS[t])
    assert pc.count_distinct(tables["patients"]["patient_id"]).as_py() == 3000
    rx = tables["prescriptions"]
    assert pc.count_distinct(rx["rx_id"]).as_py() == rx.num_rows


def test_patients_are_plausible(generated: tuple[dict[str, int], dict[str, pa.Table], Any]) -> None:
    p = generated[1]["patients"]
    births = p["birth_date"].to_pylist()
    ages = [(REFERENCE - b).days / 365.25 for b in births]
    assert min(ages) >= 12
    assert max(ages) <= 98
    assert 45 < sum(ages) / len(ages) < 70
    assert set(p["sex"].to_pylist()) == {"female", "male"}
    weights = [w for w in p["weight_kg"].to_pylist() if w is not None]
    assert min(weights) >= 38
    assert max(weights) <= 200
    assert 0 < p["weight_kg"].null_count < 0.1 * p.num_rows


def test_labs_are_creatinine_in_known_units(
    k: Knowledge, generated: tuple[dict[str, int], dict[str, pa.Table], Any]
) -> None:
    defs = AuditDefinitions(k)
    labs = generated[1]["labs"]
    units = defs.creatinine_units()
    assert set(labs["loinc"].to_pylist()) <= set(defs.creatinine_loinc)
    assert set(labs["unit"].to_pylist()) == {"mg/dL", "umol/L"}
    assert set(labs["unit"].to_pylist()) <= set(units)
    lo, hi = CREATININE_LIMITS["mg/dL"]
    mg_dl = [
        v * units[u]
        for v, u in zip(labs["value"].to_pylist(), labs["unit"].to_pylist(), strict=True)
    ]
    assert lo <= min(mg_dl)
    assert max(mg_dl) <= hi
    # some patients are never tested
    assert pc.count_distinct(labs["patient_id"]).as_py() < generated[0]["patients"]


def test_prescriptions_are_plausible(
    k: Knowledge, generated: tuple[dict[str, int], dict[str, pa.Table], Any]
) -> None:
    rx = generated[1]["prescriptions"]
    assert pc.min(rx["dose_mg"]).as_py() > 0
    per_day = rx["doses_per_day"].to_pylist()
    assert min(per_day) > 0
    assert max(per_day) <= MAX_DOSES_PER_DAY
    for s, e in zip(rx["start_date"].to_pylist(), rx["end_date"].to_pylist(), strict=True):
        assert e is None or e >= s
    assert 0 < rx["end_date"].null_count < rx.num_rows
    assert 0 < rx["rxcui"].null_count < rx.num_rows
    # every generated drug name is recognised as what it is meant to be
    defs = AuditDefinitions(k)
    pairs = {
        (c or "", n)
        for c, n in zip(rx["rxcui"].to_pylist(), rx["drug_name"].to_pylist(), strict=True)
    }
    rows = defs.drug_rows(sorted(pairs))
    products = {r["product"] for r in rows if r["product"] is not None}
    assert products == {"gabapentin", "pregabalin", "gralise", "horizant"}
    assert any(r["is_opioid"] for r in rows)
    assert any(r["is_cns_depressant"] for r in rows)


def test_generated_folder_passes_the_contract_and_every_rule_flags(
    generated: tuple[dict[str, int], dict[str, pa.Table], AuditResult],
) -> None:
    counts, _, result = generated
    s = result.summary
    assert {t: s["input"][t] for t in TABLES} == counts
    # every patient is on a gabapentinoid
    assert s["population"]["gabapentinoid_patients"] == counts["patients"]
    for rule in RULES:
        n = s["rules"][rule]["flagged_prescriptions"]
        assert 0 < n < s["population"]["gabapentinoid_prescriptions"], rule
    # the tiers of the opioid overlap all occur, and some MME cannot be computed
    assert {"MME not computable", "50+ MME/day", "90+ MME/day"} <= set(s["mme_tiers"])
