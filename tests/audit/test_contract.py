"""The audit's input contract: bad input is an AuditInputError with one message per problem, each
naming the table's file and the column, and nothing is written; good input is read from CSV,
Parquet or a folder of part files alike."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gabaguide.audit.contract import COLUMNS, AuditInputError
from gabaguide.audit.run import run_audit
from gabaguide.knowledge import Knowledge
from tests.audit.conftest import (
    AS_OF,
    LABS,
    OLD70,
    PATIENTS,
    PRESCRIPTIONS,
    RULES,
    expected,
    flagged_rows,
    flagged_set,
    pt,
    rx,
    scr,
    write_csv,
    write_population,
    write_tables,
)

Row = dict[str, Any]
Tables = tuple[list[Row], list[Row], list[Row]]

# A small valid population: a 70-year-old with a creatinine result, and a 50-year-old.
GOOD: Tables = (
    [pt("a"), pt("b", OLD70)],
    [rx("a", "r1"), rx("b", "r2", start="2024-01-01", end="2024-01-31")],
    [scr("b", "2023-12-01", 0.9)],
)


def _edits(*edits: tuple[int, int, dict[str, Any]]) -> Tables:
    """GOOD with (table, row, {column: value}) changes."""
    tables: list[list[Row]] = [[dict(r) for r in t] for t in GOOD]
    for table, index, changes in edits:
        tables[table][index].update(changes)
    return tables[0], tables[1], tables[2]


def _edit(table: int, index: int, **changes: Any) -> Tables:
    return _edits((table, index, changes))


def _problems(folder: Path, out: Path, k: Knowledge) -> list[str]:
    with pytest.raises(AuditInputError) as caught:
        run_audit(k, folder, out, as_of=AS_OF)
    assert str(caught.value) == "\n".join(caught.value.problems)
    return caught.value.problems


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


P, R, L = 0, 1, 2

# (tables, format, file, column, words in the message)
BAD_VALUES = [
    # CSV values are text converted to the column's type
    pytest.param(_edit(R, 0, dose_mg="ten"), "csv", "prescriptions.csv", "dose_mg", "not numbers",
                 id="dose-not-a-number"),
    pytest.param(_edit(R, 0, doses_per_day="thrice"), "csv", "prescriptions.csv",
                 "doses_per_day", "not numbers", id="doses-per-day-not-a-number"),
    pytest.param(_edit(R, 1, end_date="31/01/2024"), "csv", "prescriptions.csv", "end_date",
                 "not dates", id="end-date-not-iso"),
    pytest.param(_edit(P, 0, weight_kg="heavy"), "csv", "patients.csv", "weight_kg",
                 "not numbers", id="weight-not-a-number"),
    # ranges
    pytest.param(_edit(P, 0, weight_kg=0), "csv", "patients.csv", "weight_kg", "outside",
                 id="weight-zero"),
    pytest.param(_edit(P, 0, sex="F"), "csv", "patients.csv", "sex", "not one of",
                 id="sex-unknown"),
    pytest.param(_edit(R, 0, dose_mg=-5), "csv", "prescriptions.csv", "dose_mg", "not above 0",
                 id="dose-negative"),
    pytest.param(_edit(R, 0, doses_per_day=0), "csv", "prescriptions.csv", "doses_per_day",
                 "not above 0", id="doses-per-day-zero"),
    pytest.param(_edit(R, 1, end_date="2023-12-31"), "csv", "prescriptions.csv", "end_date",
                 "end before start_date", id="end-before-start"),
    # creatinine: unit and plausibility (in mg/dL after conversion)
    pytest.param(_edit(L, 0, unit="mg%"), "csv", "labs.csv", "unit", "unit not known",
                 id="creatinine-unit-unknown"),
    pytest.param(_edit(L, 0, value=40), "csv", "labs.csv", "value", "outside 0.1 to 25 mg/dL",
                 id="creatinine-too-high"),
    # 5 umol/L = 0.057 mg/dL
    pytest.param(_edit(L, 0, value=5, unit="umol/L", loinc="14682-9"), "csv", "labs.csv",
                 "value", "outside 0.1 to 25 mg/dL", id="creatinine-umol-too-low"),
    # required values
    pytest.param(_edit(R, 0, rx_id=""), "csv", "prescriptions.csv", "rx_id", "empty",
                 id="rx-id-empty"),
    pytest.param(_edit(P, 1, patient_id=""), "csv", "patients.csv", "patient_id", "empty",
                 id="patient-id-empty"),
    pytest.param(_edit(L, 0, patient_id=""), "csv", "labs.csv", "patient_id", "empty",
                 id="lab-patient-id-empty"),
    pytest.param(_edit(R, 0, drug_name="", rxcui=""), "csv", "prescriptions.csv", "drug_name",
                 "name no drug", id="no-drug"),
    # Parquet: a string column where a number belongs is converted, and fails where it is no number
    pytest.param(_edits((R, 0, {"dose_mg": "ten"}), (R, 1, {"dose_mg": "300"})), "parquet",
                 "prescriptions.parquet", "dose_mg", "not numbers", id="parquet-dose-string"),
]  # fmt: skip

BAD_REQUIRED = [
    pytest.param(_edit(P, 0, birth_date="yesterday"), "csv", "patients.csv", "birth_date",
                 "not dates", id="birth-date-not-a-date"),
    pytest.param(_edit(R, 0, start_date="soon"), "csv", "prescriptions.csv", "start_date",
                 "not dates", id="start-date-not-a-date"),
    pytest.param(_edit(L, 0, value="high"), "csv", "labs.csv", "value", "not numbers",
                 id="lab-value-not-a-number"),
]  # fmt: skip


@pytest.mark.parametrize(("tables", "fmt", "file", "column", "words"), BAD_VALUES + BAD_REQUIRED)
def test_bad_value_is_one_message_naming_file_and_column(
    tmp_path: Path, k: Knowledge, tables: Tables, fmt: str, file: str, column: str, words: str
) -> None:
    folder = write_tables(tmp_path / "in", *tables, fmt=fmt)
    problems = _problems(folder, tmp_path / "out", k)
    assert len(problems) == 1, problems
    assert str(folder / file) in problems[0]
    assert f"column {column!r}" in problems[0]
    assert words in problems[0]
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_message_shows_the_bad_value(tmp_path: Path, k: Knowledge) -> None:
    folder = write_tables(tmp_path / "in", *_edit(R, 0, dose_mg="ten"))
    (problem,) = _problems(folder, tmp_path / "out", k)
    assert "1 values" in problem
    assert "'ten'" in problem


def test_two_problems_are_two_messages(tmp_path: Path, k: Knowledge) -> None:
    patients, prescriptions, labs = _edit(R, 0, dose_mg="ten")
    labs[0]["unit"] = "mg%"
    folder = write_tables(tmp_path / "in", patients, prescriptions, labs)
    problems = _problems(folder, tmp_path / "out", k)
    assert len(problems) == 2, problems
    assert any("prescriptions.csv" in p and "'dose_mg'" in p for p in problems)
    assert any("labs.csv" in p and "'unit'" in p for p in problems)


def test_the_same_problem_on_many_rows_is_one_message(tmp_path: Path, k: Knowledge) -> None:
    patients, prescriptions, labs = GOOD
    many = [dict(r, dose_mg="ten") for r in prescriptions]
    folder = write_tables(tmp_path / "in", patients, many, labs)
    (problem,) = _problems(folder, tmp_path / "out", k)
    assert "2 values are not numbers" in problem


def test_non_creatinine_lab_rows_take_any_unit_and_value(tmp_path: Path, k: Knowledge) -> None:
    labs = [
        *GOOD[L],
        scr("b", "2024-01-01", 95, "mg%", "2345-7"),  # glucose
        scr("b", "2024-01-01", 4000, "whatever", "1234-5"),
        scr("b", "2024-01-01", 7, "", "4548-4"),  # HbA1c with no unit
    ]
    folder = write_tables(tmp_path / "in", GOOD[P], GOOD[R], labs)
    result = run_audit(k, folder, tmp_path / "out", as_of=AS_OF)
    assert result.summary["input"]["labs"] == 4


# A patient listed twice, or a prescription id given twice, would be counted twice: reported.


@pytest.mark.parametrize(
    ("tables", "file", "column"),
    [
        pytest.param(
            ([pt("a"), pt("a")], [rx("a", "r1", dose=1900, per_day=2)], []),
            "patients.csv",
            "patient_id",
            id="patient-twice",
        ),
        pytest.param(
            ([pt("a")], [rx("a", "r1", dose=1900, per_day=2), rx("a", "r1", dose=100)], []),
            "prescriptions.csv",
            "rx_id",
            id="rx-id-twice",
        ),
    ],
)
def test_duplicate_ids_are_reported_or_counted_once(
    tmp_path: Path, k: Knowledge, tables: Tables, file: str, column: str
) -> None:
    folder = write_tables(tmp_path / "in", *tables)
    try:
        result = run_audit(k, folder, tmp_path / "out", as_of=AS_OF)
    except AuditInputError as e:
        problems = e.problems
    else:
        problems = []
    if problems:
        assert any(str(folder / file) in p and repr(column) in p for p in problems), problems
        return
    assert result.summary["population"]["gabapentinoid_prescriptions"] == 1
    assert len(flagged_rows(result)) == 1


# --- missing columns and tables ---------------------------------------------------------------------


def _drop_column(folder: Path, table: str, column: str) -> None:
    path = folder / f"{table}.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    i = header.index(column)
    path.write_text("\n".join(",".join(c for j, c in enumerate(ln.split(",")) if j != i)
                              for ln in lines) + "\n")  # fmt: skip


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("prescriptions", "dose_mg"),
        ("patients", "birth_date"),
        ("patients", "weight_kg"),  # optional values, but the column is part of the contract
        ("labs", "unit"),
    ],
)
def test_missing_column(tmp_path: Path, k: Knowledge, table: str, column: str) -> None:
    folder = write_tables(tmp_path / "in", *GOOD)
    _drop_column(folder, table, column)
    (problem,) = _problems(folder, tmp_path / "out", k)
    assert str(folder / f"{table}.csv") in problem
    assert f"column {column!r} is missing" in problem
    assert not (tmp_path / "out").exists()


def test_two_missing_columns_are_two_messages(tmp_path: Path, k: Knowledge) -> None:
    folder = write_tables(tmp_path / "in", *GOOD)
    _drop_column(folder, "prescriptions", "dose_mg")
    _drop_column(folder, "labs", "loinc")
    problems = _problems(folder, tmp_path / "out", k)
    assert len(problems) == 2, problems
    assert "'dose_mg'" in problems[0] or "'dose_mg'" in problems[1]


@pytest.mark.parametrize("table", ["patients", "prescriptions", "labs"])
def test_missing_table(tmp_path: Path, k: Knowledge, table: str) -> None:
    folder = write_tables(tmp_path / "in", *GOOD)
    (folder / f"{table}.csv").unlink()
    (problem,) = _problems(folder, tmp_path / "out", k)
    assert problem.startswith(f"{table}: no {table}.parquet, {table}.csv or {table}/ folder")
    assert str(folder) in problem
    assert not (tmp_path / "out").exists()


def test_table_given_both_as_csv_and_parquet(tmp_path: Path, k: Knowledge) -> None:
    folder = write_tables(tmp_path / "in", *GOOD)
    write_tables(tmp_path / "pq", *GOOD, fmt="parquet")
    shutil.copy(tmp_path / "pq" / "labs.parquet", folder / "labs.parquet")
    (problem,) = _problems(folder, tmp_path / "out", k)
    assert problem.startswith("labs: found more than one of")
    assert str(folder / "labs.csv") in problem
    assert str(folder / "labs.parquet") in problem


def test_part_folder_mixing_formats(tmp_path: Path, k: Knowledge) -> None:
    folder = write_tables(tmp_path / "in", *GOOD)
    parts = folder / "labs"
    parts.mkdir()
    (folder / "labs.csv").rename(parts / "part-0.csv")
    write_tables(tmp_path / "pq", *GOOD, fmt="parquet")
    shutil.copy(tmp_path / "pq" / "labs.parquet", parts / "part-1.parquet")
    (problem,) = _problems(folder, tmp_path / "out", k)
    assert str(parts) in problem
    assert "mix .parquet and .csv" in problem


def test_input_that_is_not_a_folder(tmp_path: Path, k: Knowledge) -> None:
    (problem,) = _problems(tmp_path / "nowhere", tmp_path / "out", k)
    assert "not a folder" in problem
    assert "nowhere" in problem


def test_out_that_is_a_file(tmp_path: Path, k: Knowledge) -> None:
    folder = write_tables(tmp_path / "in", *GOOD)
    (tmp_path / "out").write_text("mine")
    (problem,) = _problems(folder, tmp_path / "out", k)
    assert "exists and is not a folder" in problem
    assert (tmp_path / "out").read_text() == "mine"


def test_earlier_results_are_kept_when_the_input_is_bad(tmp_path: Path, k: Knowledge) -> None:
    good = write_tables(tmp_path / "good", *GOOD)
    out = tmp_path / "out"
    run_audit(k, good, out, as_of=AS_OF)
    before = _snapshot(out)
    assert {"flagged.parquet/part-00000.parquet", "summary.json"} <= set(before)
    bad = write_tables(tmp_path / "bad", *_edit(L, 0, unit="mg%"))
    _problems(bad, out, k)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "good", "out"]


# --- formats ---------------------------------------------------------------------------------------


def _population_csv(folder: Path) -> Path:
    return write_population(folder)


def _population_parquet(folder: Path) -> Path:
    return write_population(folder, fmt="parquet")


def _population_parts(folder: Path) -> Path:
    """Each table as a folder of two CSV part files."""
    for name, rows in (("patients", PATIENTS), ("prescriptions", PRESCRIPTIONS), ("labs", LABS)):
        half = len(rows) // 2
        columns = list(COLUMNS[name])
        write_csv(folder / name / "part-0.csv", rows[:half], columns)
        write_csv(folder / name / "part-1.csv", rows[half:], columns)
    return folder


def _population_typed_parquet(folder: Path) -> Path:
    """Parquet with real date and double columns, as a database export would write them."""
    folder.mkdir(parents=True)
    src = write_population(folder.parent / f"{folder.name}-src", fmt="parquet")
    dates = {"birth_date", "start_date", "end_date", "date"}
    for name in ("patients", "prescriptions", "labs"):
        t = pq.read_table(src / f"{name}.parquet")
        cols = {c: (t[c].cast(pa.date32()) if c in dates else t[c]) for c in t.column_names}
        pq.write_table(pa.table(cols), folder / f"{name}.parquet")
    return folder


def _population_parquet_parts(folder: Path) -> Path:
    src = _population_typed_parquet(folder.parent / f"{folder.name}-typed")
    for name in ("patients", "prescriptions", "labs"):
        t = pq.read_table(src / f"{name}.parquet")
        (folder / name).mkdir(parents=True)
        half = t.num_rows // 2
        pq.write_table(t.slice(0, half), folder / name / "part-00000.parquet")
        pq.write_table(t.slice(half), folder / name / "part-00001.parquet")
    return folder


@pytest.mark.parametrize(
    "make",
    [
        _population_csv,
        _population_parquet,
        _population_typed_parquet,
        _population_parts,
        _population_parquet_parts,
    ],
    ids=["csv", "parquet-text", "parquet-typed", "csv-parts", "parquet-parts"],
)
def test_formats_give_the_same_flags(
    tmp_path: Path, k: Knowledge, make: Callable[[Path], Path]
) -> None:
    folder = make(tmp_path / "in")
    result = run_audit(k, folder, tmp_path / "out", as_of=AS_OF)
    rows = flagged_rows(result)
    for rule in RULES:
        assert flagged_set(rows, rule) == expected(rule), rule
    assert result.summary["input"]["prescriptions"] == len(PRESCRIPTIONS)
    assert result.summary["input"]["labs"] == len(LABS)


def test_integer_and_text_ids_join_across_formats(tmp_path: Path, k: Knowledge) -> None:
    # patients.parquet with integer ids, prescriptions and labs as CSV text: ids are compared as text
    folder = tmp_path / "in"
    folder.mkdir()
    pq.write_table(
        pa.table(
            {
                "patient_id": pa.array([7], pa.int64()),
                "birth_date": pa.array(["1944-01-01"]),
                "sex": pa.array(["female"]),
                "weight_kg": pa.array([60.0]),
            }
        ),
        folder / "patients.parquet",
    )
    write_tables(
        folder,
        [],
        [rx("7", "70", dose=300, per_day=3)],
        [scr("7", "2024-02-01", 1.4)],
    )
    (folder / "patients.csv").unlink()
    result = run_audit(k, folder, tmp_path / "out", as_of=AS_OF)
    rows = flagged_rows(result)
    assert [(r["rule"], r["patient_id"], r["rx_id"]) for r in rows] == [
        ("renal.above-band", "7", "70")
    ]
