"""`gabaguide audit` as an analyst runs it: generate, run, read the outputs; bad input exits 2 and
writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from gabaguide.audit.rules import RULE_COLUMNS
from tests.test_cli import cli


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pop") / "data"
    r = cli("audit", "synth", "--patients", "1200", "--seed", "3", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["rows"]["patients"] == 1200
    return out


def test_run_writes_summary_flagged_rows_and_report(population: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "results", tmp_path / "audit.html"
    r = cli("audit", "run", str(population), "--out", str(out), "--report", str(report), "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert set(summary["rules"]) == set(RULE_COLUMNS)
    assert summary == json.loads((out / "summary.json").read_text())
    flagged = pq.read_table(out / "flagged.parquet").to_pylist()
    for rule, counts in summary["rules"].items():
        rows = [f for f in flagged if f["rule"] == rule]
        assert counts["flagged_prescriptions"] == len({(f["patient_id"], f["rx_id"]) for f in rows})
        assert counts["flagged_patients"] == len({f["patient_id"] for f in rows})
        assert counts["flagged_prescriptions"] > 0, rule
    html = report.read_text()
    assert "Definitions and sources" in html
    assert "<svg" in html
    assert all(rule in html for rule in RULE_COLUMNS)
    assert "dailymed.nlm.nih.gov" in html  # the label is linked from the definitions


def test_table_on_the_terminal(population: Path, tmp_path: Path) -> None:
    r = cli("audit", "run", str(population), "--out", str(tmp_path / "r"))
    assert r.returncode == 0, r.stderr
    assert "stop.abrupt" in r.stdout
    assert "flagged:" in r.stdout


def test_bad_input_exits_2_names_file_and_column_and_writes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "patients.csv").write_text(
        "patient_id,birth_date,sex,weight_kg\n1,1950-01-01,female,60\n"
    )
    (data / "prescriptions.csv").write_text(
        "patient_id,rx_id,drug_name,rxcui,dose_mg,doses_per_day,start_date,end_date\n"
        "1,a,gabapentin 300 mg,,ten,3,2024-01-01,\n"
    )
    (data / "labs.csv").write_text(
        "patient_id,date,loinc,value,unit\n1,2024-01-01,2160-0,1.0,mg%\n"
    )
    out, report = tmp_path / "results", tmp_path / "audit.html"
    r = cli("audit", "run", str(data), "--out", str(out), "--report", str(report))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2, r.stderr
    assert any("prescriptions.csv" in e and "'dose_mg'" in e for e in errors)
    assert any("labs.csv" in e and "'unit'" in e and "mg%" in e for e in errors)
    assert not out.exists()
    assert not report.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "yesterday"], "--as-of must be a date"),
        (["--report", "out.pdf"], "--report must end in .html"),
        (["--backend", "oracle"], "oracle"),
    ],
)
def test_bad_options_exit_2(
    population: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    r = cli("audit", "run", str(population), "--out", str(tmp_path / "r"), *args)
    assert r.returncode == 2
    assert message in r.stderr
    assert not (tmp_path / "r").exists()


def test_missing_folder_and_non_empty_synth_target(population: Path, tmp_path: Path) -> None:
    r = cli("audit", "run", str(tmp_path / "nowhere"))
    assert r.returncode == 2
    assert "not a folder" in r.stderr
    r = cli("audit", "synth", "--patients", "10", "--out", str(population))
    assert r.returncode == 2
    assert "not empty" in r.stderr
