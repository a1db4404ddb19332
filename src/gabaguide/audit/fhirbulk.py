"""Convert a FHIR Bulk Data export (NDJSON files) into the audit's three tables.

The export is a folder of ``.ndjson`` files named by resource type (``Patient.ndjson``,
``Patient.000.ndjson``, ``1.Observation.ndjson``, ...). Files whose name holds ``Patient``,
``MedicationRequest``, ``Medication`` or ``Observation`` as a word are read line by line; each line
is handled by its own ``resourceType`` (lines of other types are skipped). The result is
``patients.parquet``, ``prescriptions.parquet`` and ``labs.parquet`` in the output folder, typed as
``contract.COLUMNS`` says (ids and text as strings, dates as date32, numbers as float64).

How each table is filled:

- **patients** from Patient: ``id``, ``birthDate``, ``gender``. A partial birth date (``1950`` or
  ``1950-06``) is written as the first day of that year or month. ``weight_kg`` is the most recent
  body-weight Observation of the patient (the LOINC codes and unit factors of
  ``cds.toml [observations.weight]``; ties within a day go to the later time as written); empty
  when there is none.
- **prescriptions** from MedicationRequest, except those ``entered-in-error`` or ``draft``, those
  whose intent is not an order (``plan``, ``proposal``, ``option``) and ``doNotPerform`` ones. The
  drug is the RxNorm coding and the text (or a coding's display) of
  ``medicationCodeableConcept``, or of the Medication a ``medicationReference`` points to (in the
  export or contained), else the reference's display. Dose and frequency come from the first
  ``dosageInstruction``: ``doseAndRate[0].doseQuantity`` in mg, g, mcg or ug (any other unit leaves
  ``dose_mg`` empty) and ``timing.repeat`` frequency per period (frequency 1 when only a period is
  given; ``frequencyMax``, ``periodMax``, ``timing.code`` and later entries are not read).
  ``start_date`` is ``dispenseRequest.validityPeriod.start``, else ``authoredOn``; ``end_date`` is
  ``validityPeriod.end``, else empty (open-ended, also for a stopped or completed order without an
  end).
- **labs** from every Observation with status final, amended or corrected, a LOINC coding and a
  numeric ``valueQuantity``: the date of ``effectiveDateTime``, ``effectivePeriod.start``,
  ``effectiveInstant`` or ``issued`` (the date as written, before any time zone), the value, and
  the unit's ``code`` (else its ``unit`` text) as written.

A line that is not JSON, or a resource missing what its row requires (an id, a Patient subject, a
birth date, a start date, a drug, a date), is a problem naming the file and line; all problems are
raised at once as :class:`AuditInputError` and nothing is written. The three files are written to a
temporary folder beside the output folder and moved in only when all are written.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

import pyarrow as pa
import pyarrow.parquet as pq

from gabaguide.audit.contract import COLUMNS, SEXES, AuditInputError
from gabaguide.interop.fhirdosage import DAYS_PER_UNIT, MG_PER_UNIT  # unit arithmetic (UCUM)
from gabaguide.knowledge import Knowledge

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
RESOURCE_TYPES = ("Patient", "MedicationRequest", "Medication", "Observation")
ORDER_INTENTS = frozenset(
    {"order", "original-order", "reflex-order", "filler-order", "instance-order"}
)
SKIPPED_ORDER_STATUSES = frozenset({"entered-in-error", "draft"})
RESULT_STATUSES = frozenset({"final", "amended", "corrected"})
MAX_PROBLEMS = 20

_FILE_NAME = re.compile(r"(?<![a-z])(?:" + "|".join(RESOURCE_TYPES) + r")(?![a-z])", re.IGNORECASE)
_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(?:T.*)?")
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9.\-]{1,64})(?:/_history/[^/]*)?")
_ARROW_TYPES = {"id": "string", "date": "date32", "number": "float64", "text": "string"}


def convert_bulk(k: Knowledge, source: Path, out: Path) -> dict[str, int]:
    """Convert the NDJSON export in ``source`` into the audit's tables in ``out``; returns rows
    written per table. AuditInputError (nothing written) lists every problem found."""
    files = _export_files(source)
    _check_out(out)
    export = _Export(k.cds.observations.weight.loinc, _weight_factors(k))
    for path in files:
        export.read_file(path)
    tables = export.tables()
    if export.problems:
        raise AuditInputError(export.report())
    _write(tables, out)
    return {name: len(columns["patient_id"]) for name, columns in tables.items()}


def _export_files(source: Path) -> list[Path]:
    if not source.is_dir():
        raise AuditInputError([f"{source}: not a folder"])
    files = sorted(
        p
        for p in source.iterdir()
        if p.is_file() and p.name.endswith(".ndjson") and _FILE_NAME.search(p.name)
    )
    if not files:
        raise AuditInputError(
            [f"{source}: no .ndjson files of " + ", ".join(RESOURCE_TYPES) + " resources"]
        )
    return files


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise AuditInputError([f"{out}: exists and is not a folder"])
    clashes = [
        str(out / other)
        for name in COLUMNS
        for other in (f"{name}.csv", name)
        if (out / other).exists()
    ]
    if clashes:
        raise AuditInputError(
            [
                f"{c}: would sit beside the converted table (the audit reads only one)"
                for c in clashes
            ]
        )


def _weight_factors(k: Knowledge) -> dict[str, float]:
    """Unit as written -> factor to kg."""
    return {
        unit: rule.factor
        for rule in k.cds.observations.weight.units
        if rule.to == "kg"
        for unit in rule.ucum
    }


class _ResourceError(Exception):
    """A resource that cannot be converted; the message says what is wrong with it."""


def _bad(message: str) -> NoReturn:
    raise _ResourceError(message)


@dataclass
class _Pending:
    """A prescription whose drug is a Medication resource, resolved once the export is read."""

    row: int
    medication: str
    display: str | None
    where: str


@dataclass
class _Export:
    """The export as read so far: column lists, the lookups to resolve at the end, problems."""

    weight_loinc: tuple[str, ...]
    weight_factors: dict[str, float]
    patients: dict[str, list[Any]] = field(default_factory=lambda: _columns("patients"))
    prescriptions: dict[str, list[Any]] = field(default_factory=lambda: _columns("prescriptions"))
    labs: dict[str, list[Any]] = field(default_factory=lambda: _columns("labs"))
    patient_ids: set[str] = field(default_factory=set)
    rx_ids: set[str] = field(default_factory=set)
    medications: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    weights: dict[str, tuple[date, str, float]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    n_problems: int = 0

    def problem(self, message: str) -> None:
        self.n_problems += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(message)

    def report(self) -> list[str]:
        more = self.n_problems - len(self.problems)
        return self.problems + ([f"... and {more} more"] if more else [])

    def read_file(self, path: Path) -> None:
        handlers: dict[str, Callable[[dict[str, Any], str], None]] = {
            "Patient": self.patient,
            "MedicationRequest": self.medication_request,
            "Medication": self.medication,
            "Observation": self.observation,
        }
        with path.open("rb") as lines:
            for n, raw in enumerate(lines, 1):
                if not raw.strip():
                    continue
                where = f"{path}:{n}"
                try:
                    doc = json.loads(raw, parse_float=Decimal)
                except json.JSONDecodeError as exc:
                    self.problem(f"{where}: not JSON ({exc.msg} at column {exc.colno})")
                    continue
                except ValueError as exc:  # not UTF-8
                    self.problem(f"{where}: not JSON ({exc})")
                    continue
                if not isinstance(doc, dict) or not isinstance(doc.get("resourceType"), str):
                    self.problem(f"{where}: not a FHIR resource (no resourceType)")
                    continue
                handler = handlers.get(doc["resourceType"])
                if handler is None:
                    continue
                try:
                    handler(doc, where)
                except _ResourceError as exc:
                    self.problem(f"{where}: {exc}")

    # --- resources --------------------------------------------------------------------------------

    def patient(self, doc: dict[str, Any], where: str) -> None:
        pid = _text(doc.get("id")) or _bad("Patient has no id")
        name = f"Patient/{pid}"
        birth = _date(doc.get("birthDate"), f"{name} birthDate") or _bad(f"{name} has no birthDate")
        sex = doc.get("gender")
        if sex is not None and sex not in SEXES:
            _bad(f"{name} gender must be one of {', '.join(SEXES)}; got {sex!r}")
        if pid in self.patient_ids:
            _bad(f"{name} appears more than once in the export")
        self.patient_ids.add(pid)
        _append(self.patients, patient_id=pid, birth_date=birth, sex=sex, weight_kg=None)

    def medication(self, doc: dict[str, Any], where: str) -> None:
        mid = _text(doc.get("id"))
        if mid is not None:
            self.medications[mid] = _drug(doc.get("code"))

    def medication_request(self, doc: dict[str, Any], where: str) -> None:
        if _text(doc.get("status")) in SKIPPED_ORDER_STATUSES or doc.get("doNotPerform") is True:
            return
        intent = _text(doc.get("intent"))
        if intent is not None and intent not in ORDER_INTENTS:
            return
        rx_id = _text(doc.get("id")) or _bad("MedicationRequest has no id")
        name = f"MedicationRequest/{rx_id}"
        pid = _patient_ref(doc.get("subject")) or _bad(f"{name} subject is not a Patient reference")
        if rx_id in self.rx_ids:
            _bad(f"{name} appears more than once in the export")
        validity = _obj(_obj(doc.get("dispenseRequest")).get("validityPeriod"))
        start = (
            _date(validity.get("start"), f"{name} dispenseRequest.validityPeriod.start")
            or _date(doc.get("authoredOn"), f"{name} authoredOn")
            or _bad(f"{name} has neither dispenseRequest.validityPeriod.start nor authoredOn")
        )
        end = _date(validity.get("end"), f"{name} dispenseRequest.validityPeriod.end")
        rxcui, drug_name = _drug(doc.get("medicationCodeableConcept"))
        pending: _Pending | None = None
        if rxcui is None and drug_name is None:
            ref = _obj(doc.get("medicationReference"))
            target = _text(ref.get("reference")) or ""
            display = _text(ref.get("display"))
            if target.startswith("#"):
                rxcui, drug_name = _contained_drug(doc, target[1:])
                drug_name = drug_name or display
            elif target.startswith("Medication/") or "/Medication/" in target:
                row = len(self.prescriptions["rx_id"])
                pending = _Pending(row, target.rsplit("Medication/", 1)[1], display, where)
            else:
                drug_name = display
            if rxcui is None and drug_name is None and pending is None:
                _bad(f"{name} names no drug (no RxNorm code, text, display or Medication)")
        dosage = _first(doc.get("dosageInstruction"))
        timing = _obj(_obj(dosage.get("timing")).get("repeat"))
        self.rx_ids.add(rx_id)
        if pending is not None:
            self.pending.append(pending)
        _append(
            self.prescriptions,
            patient_id=pid,
            rx_id=rx_id,
            drug_name=drug_name,
            rxcui=rxcui,
            dose_mg=_dose_mg(_obj(_first(dosage.get("doseAndRate")).get("doseQuantity"))),
            doses_per_day=_doses_per_day(timing),
            start_date=start,
            end_date=end,
        )

    def observation(self, doc: dict[str, Any], where: str) -> None:
        if _text(doc.get("status")) not in RESULT_STATUSES:
            return
        loinc = _text(_coding(doc.get("code"), LOINC).get("code"))
        quantity = _obj(doc.get("valueQuantity"))
        value = _number(quantity.get("value"))
        if loinc is None or value is None:
            return
        name = f"Observation/{_text(doc.get('id')) or '(no id)'}"
        pid = _patient_ref(doc.get("subject")) or _bad(f"{name} subject is not a Patient reference")
        day, when = _effective(doc, name)
        code_unit, text_unit = _text(quantity.get("code")), _text(quantity.get("unit"))
        unit = code_unit or text_unit
        _append(self.labs, patient_id=pid, date=day, loinc=loinc, value=float(value), unit=unit)
        if loinc in self.weight_loinc:
            factor = self.weight_factors.get(
                code_unit or "", self.weight_factors.get(text_unit or "")
            )
            latest = self.weights.get(pid)
            if factor is not None and (latest is None or (day, when) >= latest[:2]):
                self.weights[pid] = (day, when, float(value) * factor)

    # --- the end ----------------------------------------------------------------------------------

    def tables(self) -> dict[str, dict[str, list[Any]]]:
        """The three tables, once every line is read: drugs and weights filled in."""
        rx = self.prescriptions
        for p in self.pending:
            rxcui, drug_name = self.medications.get(p.medication, (None, None))
            drug_name = drug_name or p.display
            if rxcui is None and drug_name is None:
                self.problem(
                    f"{p.where}: MedicationRequest/{rx['rx_id'][p.row]} names no drug (Medication/"
                    f"{p.medication} is not in the export, or has no code, and the reference has "
                    "no display)"
                )
            rx["rxcui"][p.row], rx["drug_name"][p.row] = rxcui, drug_name
        self.patients["weight_kg"] = [
            w[2] if (w := self.weights.get(pid)) is not None else None
            for pid in self.patients["patient_id"]
        ]
        return {"patients": self.patients, "prescriptions": rx, "labs": self.labs}


def _columns(table: str) -> dict[str, list[Any]]:
    return {c: [] for c in COLUMNS[table]}


def _append(columns: dict[str, list[Any]], **row: Any) -> None:
    for c, values in columns.items():
        values.append(row[c])


def _write(tables: dict[str, dict[str, list[Any]]], out: Path) -> None:
    """Write the tables to a sibling temporary folder, then move them into ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for name, columns in tables.items():
            kinds = COLUMNS[name]
            schema = pa.schema([(c, getattr(pa, _ARROW_TYPES[kinds[c]])()) for c in columns])
            pq.write_table(pa.table(columns, schema=schema), tmp / f"{name}.parquet")
        out.mkdir(exist_ok=True)
        for name in tables:
            (tmp / f"{name}.parquet").replace(out / f"{name}.parquet")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- reading FHIR JSON tolerantly -----------------------------------------------------------------


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first(value: Any) -> dict[str, Any]:
    return _obj(value[0]) if isinstance(value, list) and value else {}


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _number(value: Any) -> Decimal | int | None:
    return value if isinstance(value, Decimal | int) and not isinstance(value, bool) else None


def _codes(concept: Any) -> list[dict[str, Any]]:
    codings = _obj(concept).get("coding")
    return [_obj(c) for c in codings] if isinstance(codings, list) else []


def _coding(concept: Any, system: str) -> dict[str, Any]:
    """The first coding of ``system`` with a code; empty if none."""
    return next(
        (c for c in _codes(concept) if c.get("system") == system and _text(c.get("code"))), {}
    )


def _date(value: Any, what: str) -> date | None:
    """The date part of a FHIR date or dateTime; a partial date is its first day."""
    if value is None:
        return None
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    if match is not None:
        year, month, day = match.groups()
        try:
            return date(int(year), int(month or 1), int(day or 1))
        except ValueError:
            pass
    _bad(
        f"{what} must be a date (YYYY, YYYY-MM or YYYY-MM-DD, optionally with a time); got {value!r}"
    )


def _effective(doc: dict[str, Any], name: str) -> tuple[date, str]:
    """The Observation's date, and the dateTime it came from (to order results of one day)."""
    for key, value in (
        ("effectiveDateTime", doc.get("effectiveDateTime")),
        ("effectivePeriod.start", _obj(doc.get("effectivePeriod")).get("start")),
        ("effectiveInstant", doc.get("effectiveInstant")),
        ("issued", doc.get("issued")),
    ):
        day = _date(value, f"{name} {key}")
        if day is not None:
            return day, str(value)
    _bad(f"{name} has no effectiveDateTime, effectivePeriod.start, effectiveInstant or issued")


def _patient_ref(reference: Any) -> str | None:
    match = _PATIENT_REF.search(_text(_obj(reference).get("reference")) or "")
    return match.group(1) if match is not None else None


def _drug(concept: Any) -> tuple[str | None, str | None]:
    """(rxcui, name) of a CodeableConcept: its RxNorm code, its text or else a coding's display."""
    codings = _codes(concept)
    rxnorm = _coding(concept, RXNORM)
    name = _text(_obj(concept).get("text")) or _text(rxnorm.get("display"))
    name = name or next((d for c in codings if (d := _text(c.get("display")))), None)
    return _text(rxnorm.get("code")), name


def _contained_drug(doc: dict[str, Any], local_id: str) -> tuple[str | None, str | None]:
    contained = doc.get("contained")
    for res in contained if isinstance(contained, list) else []:
        if _obj(res).get("resourceType") == "Medication" and res.get("id") == local_id:
            return _drug(res.get("code"))
    return None, None


def _dose_mg(quantity: dict[str, Any]) -> float | None:
    value = _number(quantity.get("value"))
    for unit in (_text(quantity.get("code")), _text(quantity.get("unit"))):
        factor = MG_PER_UNIT.get((unit or "").lower())
        if value is not None and factor is not None:
            return float(Fraction(value) * factor)
    return None


def _doses_per_day(repeat: dict[str, Any]) -> float | None:
    """``frequency`` per ``period`` ``periodUnit``, per day (1 per 8 h = 3; 1 per 2 d = 0.5)."""
    frequency = _number(repeat.get("frequency"))
    period = _number(repeat.get("period"))
    days = DAYS_PER_UNIT.get(_text(repeat.get("periodUnit")) or "")
    if period is None or period <= 0 or days is None:
        return None
    return float(Fraction(frequency if frequency is not None else 1) / (Fraction(period) * days))
