"""The audit's input contract: three tables in a folder, found, typed and checked before any rule runs.

A folder holds ``patients``, ``prescriptions`` and ``labs``, each as ``<name>.parquet``,
``<name>.csv`` or a sub-folder ``<name>/`` of part files of one of those formats. Parquet columns keep
their types where they fit (integer ids stay integers); CSV columns are read as text and converted.
Every problem is reported at once, naming the table's file and the column; nothing is written when
there is one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from gabaguide.audit.definitions import AuditDefinitions
from gabaguide.domain import CREATININE_LIMITS, DOSE_MG_RANGE, WEIGHT_KG_RANGE

Kind = Literal["id", "date", "number", "text"]

COLUMNS: Mapping[str, Mapping[str, Kind]] = {
    "patients": {"patient_id": "id", "birth_date": "date", "sex": "text", "weight_kg": "number"},
    "prescriptions": {
        "patient_id": "id",
        "rx_id": "id",
        "drug_name": "text",
        "rxcui": "id",
        "dose_mg": "number",
        "doses_per_day": "number",
        "start_date": "date",
        "end_date": "date",
    },
    "labs": {"patient_id": "id", "date": "date", "loinc": "id", "value": "number", "unit": "text"},
}
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "patients": ("patient_id", "birth_date"),
    "prescriptions": ("patient_id", "rx_id", "start_date"),
    "labs": ("patient_id", "date", "loinc", "value"),
}
SEXES = ("female", "male", "other", "unknown")
# Input plausibility (not clinical advice): at most one dose an hour.
MAX_DOSES_PER_DAY = 24.0
_EXAMPLES = 3


class AuditInputError(Exception):
    """The input cannot be audited; ``problems`` holds one message per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Source:
    """Where one table's data are: a file, or a folder of part files, of one format."""

    name: str
    path: Path
    format: Literal["parquet", "csv"]

    @property
    def files(self) -> list[Path]:
        if self.path.is_file():
            return [self.path]
        return sorted(self.path.glob(f"*.{self.format}"))

    def __str__(self) -> str:
        return f"{self.name} ({self.path})"


def locate(folder: Path) -> dict[str, Source]:
    """Each table's source in the folder, or AuditInputError naming what is missing."""
    if not folder.is_dir():
        raise AuditInputError([f"{folder}: not a folder"])
    problems: list[str] = []
    found: dict[str, Source] = {}
    for name in COLUMNS:
        candidates = [
            Source(name, folder / f"{name}.{fmt}", fmt)
            for fmt in ("parquet", "csv")
            if (folder / f"{name}.{fmt}").is_file()
        ]
        sub = folder / name
        if sub.is_dir():
            formats = {p.suffix[1:] for p in sub.iterdir() if p.suffix in (".parquet", ".csv")}
            if len(formats) > 1:
                problems.append(f"{name} ({sub}): part files mix .parquet and .csv")
                continue
            if formats:
                candidates.append(Source(name, sub, formats.pop()))  # type: ignore[arg-type]
        if not candidates:
            problems.append(
                f"{name}: no {name}.parquet, {name}.csv or {name}/ folder of part files in {folder}"
            )
        elif len(candidates) > 1:
            problems.append(
                f"{name}: found more than one of " + ", ".join(str(c.path) for c in candidates)
            )
        else:
            found[name] = candidates[0]
    if problems:
        raise AuditInputError(problems)
    return found


@dataclass(frozen=True)
class Inputs:
    """The three tables, typed as the rules expect them."""

    patients: ir.Table
    prescriptions: ir.Table
    labs: ir.Table


def read(con: ibis.BaseBackend, sources: Mapping[str, Source], defs: AuditDefinitions) -> Inputs:
    """Read, type and check the tables; AuditInputError with every problem found. Repeated ids
    are looked for part by part during the run (``duplicate_ids``)."""
    raw = {name: _read_raw(con, src) for name, src in sources.items()}
    problems = [p for name, t in raw.items() for p in _missing_columns(sources[name], t)]
    if problems:
        raise AuditInputError(problems)
    id_type = _id_type(raw)
    typed = {}
    for name, t in raw.items():
        columns = _typed_columns(t, COLUMNS[name], id_type)
        problems += _check(sources[name], t, columns, defs)
        typed[name] = t.select(**columns)
    if problems:
        raise AuditInputError(problems)
    return Inputs(typed["patients"], typed["prescriptions"], typed["labs"])


def _read_raw(con: ibis.BaseBackend, src: Source) -> ir.Table:
    files = [str(f) for f in src.files]
    if not files:
        raise AuditInputError([f"{src}: the folder holds no .{src.format} files"])
    try:
        if src.format == "parquet":
            return con.read_parquet(files if con.name == "duckdb" else str(src.path))
        if con.name == "duckdb":
            return con.read_csv(files, all_varchar=True)
        return con.read_csv(files, inferSchema=False, header=True)
    except Exception as exc:  # any reader failure is the file's problem
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise AuditInputError([f"{src}: cannot be read as {src.format}: {first}"]) from None


def _missing_columns(src: Source, t: ir.Table) -> list[str]:
    have = set(t.columns)
    return [
        f"{src}: column {c!r} is missing (expected columns: {', '.join(COLUMNS[src.name])})"
        for c in COLUMNS[src.name]
        if c not in have
    ]


def _id_type(raw: Mapping[str, ir.Table]) -> dt.DataType:
    """Integer ids stay integers (faster joins) when every id column is an integer; else text."""
    kinds = [
        t.schema()[c]
        for name, t in raw.items()
        for c, k in COLUMNS[name].items()
        if k == "id" and c != "rxcui" and c != "loinc"
    ]
    return dt.int64 if all(k.is_integer() for k in kinds) else dt.string


def _typed_columns(
    t: ir.Table, columns: Mapping[str, Kind], id_type: dt.DataType
) -> dict[str, ir.Value]:
    out: dict[str, ir.Value] = {}
    for c, kind in columns.items():
        col = t[c]
        target = {
            "id": id_type if c not in ("rxcui", "loinc") else dt.string,
            "date": dt.date,
            "number": dt.float64,
            "text": dt.string,
        }[kind]
        if col.type() == target:
            out[c] = col
        elif kind == "text" or (target.is_string() and col.type().is_integer()):
            out[c] = col.cast(target)
        else:
            if col.type().is_string():
                col = col.strip().nullif("")
            out[c] = col.try_cast(target)
    return out


def _check(
    src: Source, raw: ir.Table, columns: Mapping[str, ir.Value], defs: AuditDefinitions
) -> list[str]:
    """One scan of the table counting each kind of problem; examples fetched only for those found."""
    typed = raw.select(**columns, **{f"raw__{c}": raw[c] for c in columns})
    tests: dict[str, tuple[ir.BooleanValue, str, str]] = {}
    for c, kind in COLUMNS[src.name].items():
        original = typed[f"raw__{c}"]
        if kind in ("date", "number", "id") and typed[c].type() != original.type():
            allowed = {"date": "dates (YYYY-MM-DD)", "number": "numbers", "id": "integers or text"}
            tests[f"type:{c}"] = (
                original.notnull() & (original.cast(dt.string).strip() != "") & typed[c].isnull(),
                c,
                f"values are not {allowed[kind]}",
            )
    for c in REQUIRED[src.name]:
        # Empty as given: a value that failed conversion is reported once, as the wrong type.
        original = typed[f"raw__{c}"]
        empty = original.isnull()
        if original.type().is_string():
            empty = empty | (original.strip() == "")
        tests[f"null:{c}"] = (empty, c, "values are empty (the column is required)")
    for key, (cond, column, message) in _range_tests(src.name, typed, defs).items():
        tests[key] = (cond, column, message)
    counts = (
        typed.aggregate(
            **{
                _alias(k): cond.fill_null(False).cast("int64").sum()
                for k, (cond, _, _) in tests.items()
            }
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    problems = []
    for key, (cond, column, message) in tests.items():
        n = counts[_alias(key)] or 0
        if n:
            shown = _examples(typed, cond, column)
            problems.append(f"{src}: column {column!r}: {n} {message}; e.g. {shown}")
    return problems


# The key of each table whose rows must be unique (labs may repeat a result).
UNIQUE: Mapping[str, tuple[str, ...]] = {
    "patients": ("patient_id",),
    "prescriptions": ("patient_id", "rx_id"),
}


def duplicate_ids(inp: Inputs) -> dict[str, list[object]]:
    """A few ids given more than once, per table: a patient or prescription given twice would be
    counted twice. Ids are unique per patient, so a part of the patients holds every copy."""
    found: dict[str, list[object]] = {}
    for name, key in UNIQUE.items():
        t: ir.Table = getattr(inp, name)
        repeated = t.group_by(list(key)).aggregate(n=lambda g: g.count()).filter(lambda g: g.n > 1)
        rows = repeated.limit(_EXAMPLES).to_pyarrow().to_pylist()
        if rows:
            found[name] = [r[key[-1]] for r in rows]
    return found


def duplicate_problems(
    sources: Mapping[str, Source], found: Mapping[str, Sequence[object]]
) -> list[str]:
    """One message per table with repeated ids (reported, not guessed)."""
    return [
        f"{sources[name]}: column {UNIQUE[name][-1]!r}: ids appear more than once (each must be "
        f"unique{' per patient_id' if len(UNIQUE[name]) > 1 else ''}); e.g. "
        + ", ".join(repr(v) for v in examples[:_EXAMPLES])
        for name, examples in found.items()
        if examples
    ]


def _range_tests(
    name: str, t: ir.Table, defs: AuditDefinitions
) -> dict[str, tuple[ir.BooleanValue, str, str]]:
    lo_w, hi_w = WEIGHT_KG_RANGE
    hi_d = DOSE_MG_RANGE[1]
    if name == "patients":
        return {
            "range:weight_kg": (
                ~t.weight_kg.between(lo_w, hi_w),
                "weight_kg",
                f"values outside {lo_w:g} to {hi_w:g} kg",
            ),
            "range:sex": (
                ~t.sex.lower().isin(SEXES),
                "sex",
                "values are not one of " + ", ".join(SEXES),
            ),
        }
    if name == "prescriptions":
        return {
            # Other medicines' doses can be far below a gabapentinoid's (alprazolam 0.25 mg).
            "range:dose_mg": (
                (t.dose_mg <= 0) | (t.dose_mg > hi_d),
                "dose_mg",
                f"values not above 0 and at most {hi_d:g} mg",
            ),
            "range:doses_per_day": (
                (t.doses_per_day <= 0) | (t.doses_per_day > MAX_DOSES_PER_DAY),
                "doses_per_day",
                f"values not above 0 and at most {MAX_DOSES_PER_DAY:g}",
            ),
            "range:end_date": (t.end_date < t.start_date, "end_date", "end before start_date"),
            "null:drug_name": (
                t.drug_name.isnull() & t.rxcui.isnull(),
                "drug_name",
                "rows name no drug (drug_name and rxcui both empty)",
            ),
        }
    units = defs.creatinine_units()
    creatinine = t.loinc.isin(defs.creatinine_loinc)
    mg_dl = t.value * _unit_factor(t.unit, units)
    lo_c, hi_c = CREATININE_LIMITS["mg/dL"]
    return {
        "unit:unit": (
            creatinine & ~t.unit.isin(list(units)),
            "unit",
            "creatinine results in a unit not known (known: " + ", ".join(units) + ")",
        ),
        "range:value": (
            creatinine & t.unit.isin(list(units)) & ~mg_dl.between(lo_c, hi_c),
            "value",
            f"creatinine results outside {lo_c:g} to {hi_c:g} mg/dL",
        ),
    }


def _unit_factor(unit: ir.StringValue, units: Mapping[str, float]) -> ir.FloatingValue:
    cases = [(unit == u, f) for u, f in units.items()]
    return ibis.cases(*cases, else_=ibis.null(dt.float64))


def creatinine_mg_dl(labs: ir.Table, defs: AuditDefinitions) -> ir.Table:
    """Serum creatinine results in mg/dL: (patient_id, date, scr_mg_dl)."""
    keep = labs.filter(labs.loinc.isin(defs.creatinine_loinc))
    factor = _unit_factor(keep.unit, defs.creatinine_units())
    return keep.select("patient_id", "date", scr_mg_dl=keep.value * factor)


def _examples(typed: ir.Table, cond: ir.BooleanValue, column: str) -> str:
    bad = typed.filter(cond.fill_null(False)).select(v=typed[f"raw__{column}"].cast(dt.string))
    values = bad.limit(_EXAMPLES).to_pyarrow().column("v").to_pylist()
    return ", ".join(repr(v) for v in values)


def _alias(key: str) -> str:
    return key.replace(":", "__").replace(".", "_")
