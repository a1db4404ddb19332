"""``convert_bulk``: a FHIR Bulk Data export (NDJSON) as the audit's three Parquet tables.

The export is written by hand: three patients, gabapentin 300 mg every 8 h, oxycodone 10 mg every
6 h, pregabalin through a Medication resource, two creatinine results (LOINC 2160-0 in mg/dL,
14682-9 in umol/L) and body weights (LOINC 29463-7) in kg and in [lb_av]; plus lines the converter
must skip. The rows of each table are checked exactly, then the folder goes through the audit's own
input reader.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gabaguide.audit.contract import AuditInputError, locate, read
from gabaguide.audit.definitions import AuditDefinitions
from gabaguide.audit.fhirbulk import LOINC, RXNORM, convert_bulk
from gabaguide.knowledge import Knowledge

LB_KG = 0.45359237  # UCUM [lb_av]


def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out = {"system": system, "code": code}
    return out | {"display": display} if display else out


def patient(pid: str, birth: str | None, gender: str | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"resourceType": "Patient", "id": pid}
    if birth is not None:
        doc["birthDate"] = birth
    if gender is not None:
        doc["gender"] = gender
    return doc


def order(
    rx_id: str,
    pid: str,
    *,
    drug: dict[str, Any] | None = None,
    dosage: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rx_id,
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": "2024-01-01",
    }
    if drug is not None:
        doc["medicationCodeableConcept"] = drug
    if dosage is not None:
        doc["dosageInstruction"] = [dosage]
    return doc | extra


def dosage(
    value: float, unit: str, frequency: int | None, period: float, per: str
) -> dict[str, Any]:
    repeat: dict[str, Any] = {"period": period, "periodUnit": per}
    if frequency is not None:
        repeat["frequency"] = frequency
    return {
        "timing": {"repeat": repeat},
        "doseAndRate": [{"doseQuantity": {"value": value, "unit": unit, "code": unit}}],
    }


def result(
    oid: str, pid: str, loinc: str, value: float, unit: str, status: str = "final", **when: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": status,
        "code": {"coding": [coding(LOINC, loinc)]},
        "subject": {"reference": f"Patient/{pid}"},
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org",
                          "code": unit},
        **when,
    }  # fmt: skip


GABAPENTIN = {
    "coding": [coding(RXNORM, "310431", "gabapentin 300 MG Oral Capsule")],
    "text": "Gabapentin 300 mg capsule",
}
OXYCODONE = {"coding": [coding(RXNORM, "1049683", "oxycodone hydrochloride 10 MG Oral Tablet")]}

EXPORT: dict[str, list[dict[str, Any] | str]] = {
    "Patient.ndjson": [
        patient("p1", "1940-05-17", "female"),
        patient("p2", "1955", "male"),  # a partial birth date: its first day
        "",  # a blank line is skipped
        patient("p3", "1980-07"),
    ],
    "1.MedicationRequest.ndjson": [
        order("rx-gaba", "p1", drug=GABAPENTIN, dosage=dosage(300, "mg", 1, 8, "h"),
              dispenseRequest={"validityPeriod": {"start": "2024-01-10", "end": "2024-04-10"}}),
        order("rx-oxy", "p1", drug=OXYCODONE, dosage=dosage(10, "mg", 1, 6, "h"),
              authoredOn="2024-02-01T09:30:00Z"),
        # A Medication in a later file; 0.075 g every other day; stopped without an end.
        order("rx-pgb", "p2", dosage=dosage(0.075, "g", None, 2, "d"), status="stopped",
              medicationReference={"reference": "Medication/med-1"}),
        # A contained Medication; a dose in tablets is not a mass (dose_mg empty).
        order("rx-tab", "p3", dosage={"doseAndRate": [{"doseQuantity": {"value": 1,
                                                                         "code": "{tablet}"}}]},
              contained=[{"resourceType": "Medication", "id": "m",
                          "code": {"text": "gabapentin 600 mg tablet"}}],
              medicationReference={"reference": "#m"}),
        order("rx-draft", "p1", drug=GABAPENTIN, status="draft"),
        order("rx-error", "p1", drug=GABAPENTIN, status="entered-in-error"),
        order("rx-plan", "p1", drug=GABAPENTIN, intent="plan"),
        order("rx-dnp", "p1", drug=GABAPENTIN, doNotPerform=True),
    ],
    "Medication.ndjson": [
        {"resourceType": "Medication", "id": "med-1",
         "code": {"coding": [coding(RXNORM, "483450", "pregabalin 75 MG Oral Capsule")]}},
    ],
    "Observation.000.ndjson": [
        result("o1", "p1", "2160-0", 1.1, "mg/dL", effectiveDateTime="2024-01-05T08:00:00Z"),
        result("o2", "p2", "14682-9", 97, "umol/L", effectivePeriod={"start": "2024-02-03"}),
        result("w1", "p1", "29463-7", 70, "kg", effectiveDateTime="2023-12-01"),
        result("w2", "p1", "29463-7", 68.5, "kg", effectiveDateTime="2024-01-05"),
        result("w3", "p2", "29463-7", 180, "[lb_av]", issued="2024-02-03T10:00:00Z"),
        # Skipped: a preliminary result, a coded (not quantity) value, another resource type.
        result("o3", "p3", "2160-0", 5.0, "mg/dL", status="preliminary",
               effectiveDateTime="2024-03-01"),
        {"resourceType": "Observation", "id": "o4", "status": "final",
         "code": {"coding": [coding(LOINC, "72166-2")]}, "subject": {"reference": "Patient/p3"},
         "effectiveDateTime": "2024-03-01", "valueCodeableConcept": {"text": "Never smoker"}},
        {"resourceType": "Condition", "id": "c1"},
    ],
    # Files of other resource types are not read at all.
    "Condition.ndjson": ["{not json"],
    "MedicationStatement.ndjson": ["{not json"],
}  # fmt: skip


def write_export(folder: Path, export: dict[str, list[dict[str, Any] | str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in export.items():
        text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
        (folder / name).write_text(text + "\n", encoding="utf-8")
    return folder


def rows(out: Path, table: str) -> list[dict[str, Any]]:
    return pq.read_table(out / f"{table}.parquet").to_pylist()


@pytest.fixture
def converted(k: Knowledge, tmp_path: Path) -> tuple[dict[str, int], Path]:
    out = tmp_path / "tables"
    return convert_bulk(k, write_export(tmp_path / "export", EXPORT), out), out


def test_counts(converted: tuple[dict[str, int], Path]) -> None:
    counts, _ = converted
    assert counts == {"patients": 3, "prescriptions": 4, "labs": 5}


def test_patients(converted: tuple[dict[str, int], Path]) -> None:
    _, out = converted
    assert rows(out, "patients") == [
        # The most recent of two weights in kg.
        {"patient_id": "p1", "birth_date": date(1940, 5, 17), "sex": "female", "weight_kg": 68.5},
        {"patient_id": "p2", "birth_date": date(1955, 1, 1), "sex": "male",
         "weight_kg": pytest.approx(180 * LB_KG)},
        {"patient_id": "p3", "birth_date": date(1980, 7, 1), "sex": None, "weight_kg": None},
    ]  # fmt: skip


def test_prescriptions(converted: tuple[dict[str, int], Path]) -> None:
    _, out = converted
    common = {"end_date": None}
    assert rows(out, "prescriptions") == [
        {"patient_id": "p1", "rx_id": "rx-gaba", "drug_name": "Gabapentin 300 mg capsule",
         "rxcui": "310431", "dose_mg": 300.0, "doses_per_day": 3.0,
         "start_date": date(2024, 1, 10), "end_date": date(2024, 4, 10)},
        {"patient_id": "p1", "rx_id": "rx-oxy",
         "drug_name": "oxycodone hydrochloride 10 MG Oral Tablet", "rxcui": "1049683",
         "dose_mg": 10.0, "doses_per_day": 4.0, "start_date": date(2024, 2, 1), **common},
        {"patient_id": "p2", "rx_id": "rx-pgb", "drug_name": "pregabalin 75 MG Oral Capsule",
         "rxcui": "483450", "dose_mg": 75.0, "doses_per_day": 0.5,
         "start_date": date(2024, 1, 1), **common},
        {"patient_id": "p3", "rx_id": "rx-tab", "drug_name": "gabapentin 600 mg tablet",
         "rxcui": None, "dose_mg": None, "doses_per_day": None,
         "start_date": date(2024, 1, 1), **common},
    ]  # fmt: skip


def test_labs(converted: tuple[dict[str, int], Path]) -> None:
    _, out = converted
    assert rows(out, "labs") == [
        {"patient_id": "p1", "date": date(2024, 1, 5), "loinc": "2160-0", "value": 1.1,
         "unit": "mg/dL"},
        {"patient_id": "p2", "date": date(2024, 2, 3), "loinc": "14682-9", "value": 97.0,
         "unit": "umol/L"},
        {"patient_id": "p1", "date": date(2023, 12, 1), "loinc": "29463-7", "value": 70.0,
         "unit": "kg"},
        {"patient_id": "p1", "date": date(2024, 1, 5), "loinc": "29463-7", "value": 68.5,
         "unit": "kg"},
        {"patient_id": "p2", "date": date(2024, 2, 3), "loinc": "29463-7", "value": 180.0,
         "unit": "[lb_av]"},
    ]  # fmt: skip


def test_column_types(converted: tuple[dict[str, int], Path]) -> None:
    _, out = converted
    s, d, f = pa.string(), pa.date32(), pa.float64()
    expected = {
        "patients": [("patient_id", s), ("birth_date", d), ("sex", s), ("weight_kg", f)],
        "prescriptions": [("patient_id", s), ("rx_id", s), ("drug_name", s), ("rxcui", s),
                          ("dose_mg", f), ("doses_per_day", f), ("start_date", d),
                          ("end_date", d)],
        "labs": [("patient_id", s), ("date", d), ("loinc", s), ("value", f), ("unit", s)],
    }  # fmt: skip
    for table, fields in expected.items():
        assert pq.read_schema(out / f"{table}.parquet") == pa.schema(fields), table
    assert sorted(p.name for p in out.parent.iterdir()) == ["export", "tables"]  # no temp left


def test_conforms_to_the_audit_contract(
    k: Knowledge, converted: tuple[dict[str, int], Path]
) -> None:
    _, out = converted
    inp = read(ibis.duckdb.connect(), locate(out), AuditDefinitions(k))
    assert inp.patients.count().to_pyarrow().as_py() == 3
    assert inp.prescriptions.count().to_pyarrow().as_py() == 4
    assert inp.labs.count().to_pyarrow().as_py() == 5


@pytest.mark.parametrize(
    ("dosage_instruction", "dose_mg", "doses_per_day"),
    [
        pytest.param(dosage(300, "mg", 1, 8, "h"), 300.0, 3.0, id="300 mg q8h"),
        pytest.param(dosage(600, "mg", 3, 1, "d"), 600.0, 3.0, id="600 mg TID"),
        pytest.param(dosage(0.3, "g", 2, 1, "d"), 300.0, 2.0, id="grams"),
        pytest.param(dosage(75000, "mcg", 1, 1, "d"), 75.0, 1.0, id="micrograms"),
        pytest.param(dosage(75000, "ug", 1, 2, "d"), 75.0, 0.5, id="every other day"),
        pytest.param(dosage(300, "mg", 3, 1, "wk"), 300.0, 3 / 7, id="three a week"),
        pytest.param(dosage(5, "mL", 1, 1, "d"), None, 1.0, id="volume: no mass"),
        pytest.param(dosage(300, "mg", 1, 1, "cycle"), 300.0, None, id="unknown period unit"),
        pytest.param({"text": "as directed"}, None, None, id="text only"),
    ],
)
def test_dosage(
    k: Knowledge,
    tmp_path: Path,
    dosage_instruction: dict[str, Any],
    dose_mg: float | None,
    doses_per_day: float | None,
) -> None:
    export = {
        "Patient.ndjson": [patient("p1", "1950-01-01", "female")],
        "MedicationRequest.ndjson": [order("rx", "p1", drug=GABAPENTIN, dosage=dosage_instruction)],
    }
    out = tmp_path / "out"
    convert_bulk(k, write_export(tmp_path / "export", export), out)
    (row,) = rows(out, "prescriptions")
    assert (row["dose_mg"], row["doses_per_day"]) == (dose_mg, pytest.approx(doses_per_day))


def test_bad_json_names_file_and_line_and_writes_nothing(k: Knowledge, tmp_path: Path) -> None:
    export = dict(EXPORT)
    export["Patient.ndjson"] = [patient("p1", "1940-05-17"), "{not json"]
    source = write_export(tmp_path / "export", export)
    out = tmp_path / "out"
    with pytest.raises(AuditInputError) as err:
        convert_bulk(k, source, out)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(f"{source / 'Patient.ndjson'}:2: not JSON")
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_an_existing_output_folder_is_left_unchanged(k: Knowledge, tmp_path: Path) -> None:
    source = write_export(tmp_path / "export", EXPORT)
    out = tmp_path / "out"
    convert_bulk(k, source, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (source / "Patient.ndjson").write_text(json.dumps(patient("p9", None)) + "\n")
    with pytest.raises(AuditInputError, match=r"Patient\.ndjson:1: Patient/p9 has no birthDate"):
        convert_bulk(k, source, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_resources_missing_required_data(k: Knowledge, tmp_path: Path) -> None:
    export: dict[str, list[dict[str, Any] | str]] = {
        "Patient.ndjson": [
            patient("p1", "1950-13-01"),
            patient("p1", "1950", "woman"),
            {"resourceType": "Patient", "birthDate": "1950"},
            ["not", "a", "resource"],
        ],
        "MedicationRequest.ndjson": [
            order("rx1", "p1", drug=GABAPENTIN) | {"subject": {"reference": "Group/g"}},
            order("rx2", "p1", drug=GABAPENTIN, authoredOn=None),
            order("rx3", "p1"),
            order("rx4", "p1", medicationReference={"reference": "Medication/nowhere"}),
            order("rx5", "p1", medicationReference={"reference": "Medication/nowhere",
                                                    "display": "gabapentin"}),  # fine
        ],
        "Observation.ndjson": [result("o1", "p1", "2160-0", 1.0, "mg/dL")],
    }  # fmt: skip
    source = write_export(tmp_path / "export", export)
    with pytest.raises(AuditInputError) as err:
        convert_bulk(k, source, tmp_path / "out")
    pat, rx, obs = (
        str(source / f"{t}.ndjson") for t in ("Patient", "MedicationRequest", "Observation")
    )
    assert err.value.problems == [  # files in name order, then drugs resolved at the end
        f"{rx}:1: MedicationRequest/rx1 subject is not a Patient reference",
        f"{rx}:2: MedicationRequest/rx2 has neither dispenseRequest.validityPeriod.start nor "
        "authoredOn",
        f"{rx}:3: MedicationRequest/rx3 names no drug (no RxNorm code, text, display or Medication)",
        f"{obs}:1: Observation/o1 has no effectiveDateTime, effectivePeriod.start, effectiveInstant "
        "or issued",
        f"{pat}:1: Patient/p1 birthDate must be a date (YYYY, YYYY-MM or YYYY-MM-DD, optionally "
        "with a time); got '1950-13-01'",
        f"{pat}:2: Patient/p1 gender must be one of female, male, other, unknown; got 'woman'",
        f"{pat}:3: Patient has no id",
        f"{pat}:4: not a FHIR resource (no resourceType)",
        f"{rx}:4: MedicationRequest/rx4 names no drug (Medication/nowhere is not in the export, or "
        "has no code, and the reference has no display)",
    ]
    assert not (tmp_path / "out").exists()


def test_problems_are_capped(k: Knowledge, tmp_path: Path) -> None:
    source = write_export(tmp_path / "export", {"Patient.ndjson": ["{"] * 25})
    with pytest.raises(AuditInputError) as err:
        convert_bulk(k, source, tmp_path / "out")
    assert len(err.value.problems) == 21
    assert err.value.problems[-1] == "... and 5 more"


@pytest.mark.parametrize(
    ("files", "message"),
    [
        pytest.param(None, "not a folder", id="missing folder"),
        pytest.param({}, "no .ndjson files", id="empty folder"),
        pytest.param({"Condition.ndjson": ["{}"]}, "no .ndjson files", id="other types only"),
    ],
)
def test_no_export(
    k: Knowledge, tmp_path: Path, files: dict[str, list[dict[str, Any] | str]] | None, message: str
) -> None:
    source = tmp_path / "export"
    if files is not None:
        write_export(source, files)
    with pytest.raises(AuditInputError, match=message):
        convert_bulk(k, source, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_csv_table_in_the_output_folder_is_refused(k: Knowledge, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "labs.csv").write_text("patient_id\n")
    with pytest.raises(AuditInputError, match=r"labs\.csv: would sit beside"):
        convert_bulk(k, write_export(tmp_path / "export", EXPORT), out)
    assert [p.name for p in out.iterdir()] == ["labs.csv"]
