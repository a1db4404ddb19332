"""Shared helpers for the audit tests: writing the three input tables, and a hand-built population
whose every prescription carries the set of rules it must be flagged for.

Every patient defaults to 50 years at the start, female, 70 kg, no creatinine; every prescription
defaults to a benign gabapentinoid course (open-ended, below every dose level), so each row's
``expect`` names exactly the rules its scenario is about. The population is audited as of
``AS_OF``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gabaguide.audit.contract import COLUMNS
from gabaguide.audit.run import AuditResult, run_audit
from gabaguide.knowledge import Knowledge

Row = dict[str, Any]

AS_OF = date(2024, 6, 30)

# --- writing tables --------------------------------------------------------------------------------


def _text(v: object) -> str:
    return "" if v is None else str(v)


def write_csv(path: Path, rows: Sequence[Row], columns: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_text(r.get(c)) for c in columns])


def write_tables(
    folder: Path,
    patients: Sequence[Row],
    prescriptions: Sequence[Row],
    labs: Sequence[Row],
    *,
    fmt: str = "csv",
) -> Path:
    """The three tables as ``<name>.csv`` (every value as text; None -> empty) or ``<name>.parquet``
    (types inferred by pyarrow from the Python values) with the contract's columns in order."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("patients", patients), ("prescriptions", prescriptions), ("labs", labs)):
        columns = list(COLUMNS[name])
        extra = [c for r in rows for c in r if c not in columns and c != "expect"]
        columns += list(dict.fromkeys(extra))
        if fmt == "csv":
            write_csv(folder / f"{name}.csv", rows, columns)
        else:
            table = pa.table({c: [r.get(c) for r in rows] for c in columns}) if rows else None
            if table is None:
                table = pa.table({c: pa.array([], pa.string()) for c in columns})
            pq.write_table(table, folder / f"{name}.parquet")
    return folder


def flagged_rows(result: AuditResult) -> list[dict[str, Any]]:
    """The flagged rows (a file, or a folder of parts for Spark) as dicts."""
    rows: list[dict[str, Any]] = pq.read_table(result.flagged_path).to_pylist()
    return rows


def flagged_set(rows: Iterable[Row], rule: str) -> set[str]:
    return {str(r["rx_id"]) for r in rows if r["rule"] == rule}


# --- the hand-built population ---------------------------------------------------------------------

RULES = (
    "dose.above-max",
    "renal.above-band",
    "renal.no-creatinine",
    "overlap.opioid",
    "overlap.cns-depressant",
    "duplicate.gabapentinoid",
    "stop.abrupt",
    "elderly.high-dose",
)


def pt(pid: str, birth: str = "1974-01-01", sex: str = "female", weight: float | None = 70) -> Row:
    return {"patient_id": pid, "birth_date": birth, "sex": sex, "weight_kg": weight}


def rx(
    pid: str,
    rx_id: str,
    drug: str = "gabapentin 300 mg capsule",
    dose: float = 300,
    per_day: float = 2,
    start: str = "2024-03-01",
    end: str | None = None,
    expect: Iterable[str] = (),
    rxcui: str | None = None,
) -> Row:
    return {
        "patient_id": pid,
        "rx_id": rx_id,
        "drug_name": drug,
        "rxcui": rxcui,
        "dose_mg": dose,
        "doses_per_day": per_day,
        "start_date": start,
        "end_date": end,
        "expect": frozenset(expect),
    }


def scr(pid: str, when: str, value: float, unit: str = "mg/dL", loinc: str = "2160-0") -> Row:
    return {"patient_id": pid, "date": when, "loinc": loinc, "value": value, "unit": unit}


DOSE = "dose.above-max"
RENAL = "renal.above-band"
NO_SCR = "renal.no-creatinine"
OPIOID = "overlap.opioid"
CNS = "overlap.cns-depressant"
DUP = "duplicate.gabapentinoid"
STOP = "stop.abrupt"
ELDERLY = "elderly.high-dose"

# 80 years at 2024-03-01, female, 60 kg, creatinine 1.4 mg/dL:
# CrCl = (140 - 80) x 60 / (72 x 1.4) x 0.85 = 30.357 mL/min -> gabapentin row ">30 to 59":
# at most 1400 mg/day in 2 doses [NEU48 §2.3 Table 1].
CRCL_80_60_14 = (140 - 80) * 60 / (72 * 1.4) * 0.85
# The same patient with creatinine 0.6 mg/dL: 70.8 mL/min -> row ">=60" (3600 mg/day, 3 doses).
CRCL_80_60_06 = (140 - 80) * 60 / (72 * 0.6) * 0.85
# 70 years, female, 70 kg, creatinine 0.9 mg/dL: 64.3 mL/min -> row ">=60".
CRCL_70_70_09 = (140 - 70) * 70 / (72 * 0.9) * 0.85
OLD80 = "1944-01-01"
OLD70 = "1954-01-01"
SIXTY = "1964-01-01"

PATIENTS: list[Row] = [
    # dose.above-max: 50 years, no creatinine (so no renal row and no renal flag)
    *(pt(p) for p in ("dose-1", "dose-2", "dose-3", "dose-4", "dose-5")),
    # renal.above-band
    pt("renal-80", OLD80, weight=60),
    pt("renal-later", OLD80, weight=60),
    pt("renal-sameday", OLD80, weight=60),
    pt("renal-tie", OLD80, weight=60),
    pt("renal-umol", OLD80, weight=60),
    pt("renal-umol-low", OLD80, weight=60),
    pt("renal-male", OLD80, sex="male", weight=60),
    pt("renal-gap-30", OLD80, sex="male", weight=36),
    pt("renal-edge-60", "1956-01-01", sex="male", weight=60),
    pt("renal-prop", OLD80, weight=60),
    pt("renal-gralise", OLD80, weight=60),
    pt("renal-horizant", OLD80, weight=60),
    pt("renal-noweight", OLD80, weight=None),
    # renal.no-creatinine: 65 on the start day; 64 (birthday the day after the start)
    pt("noscr-65", "1959-03-01"),
    pt("noscr-64", "1959-03-02"),
    pt("noscr-after", OLD70),
    pt("noscr-glucose", OLD70),
    # overlap.opioid
    *(pt(p) for p in ("opi-60", "opi-union", "opi-before", "opi-seq", "opi-fentanyl")),
    *(pt(p) for p in ("opi-daybefore", "opi-lastday", "opi-open")),
    # overlap.cns-depressant
    pt("cns"),
    pt("cns-none"),
    # duplicate.gabapentinoid
    pt("dup"),
    pt("refill"),
    pt("switch-adjacent"),
    # stop.abrupt
    *(pt(p) for p in ("stop-abrupt", "stop-taper", "stop-short", "stop-renew", "stop-late")),
    *(pt(p) for p in ("stop-switch", "stop-low", "stop-900", "stop-near", "stop-judged")),
    pt("stop-preg"),
    # elderly.high-dose
    pt("old-2400", OLD70),
    pt("old-1800", OLD70),
    pt("old-preg", OLD70),
    pt("sixty-2400", SIXTY),
]

_JAN: dict[str, Any] = {"start": "2024-01-01", "end": "2024-01-31"}
_TID600: dict[str, Any] = {
    "dose": 600,
    "per_day": 3,
}  # 1800 mg/day: at or above the 900 mg/day stop level

PRESCRIPTIONS: list[Row] = [
    # --- dose.above-max: gabapentin 3600 mg/day, pregabalin 600 mg/day [audit.toml]
    rx("dose-1", "gaba-3700", dose=1850, per_day=2, expect={DOSE}),
    rx("dose-2", "gaba-3600", dose=1200, per_day=3),
    rx("dose-3", "preg-650", "pregabalin 75 mg capsule", dose=325, per_day=2, expect={DOSE}),
    rx("dose-4", "preg-600", "Lyrica", dose=300, per_day=2),
    # recognised by its RxNorm code alone (310431: gabapentin 300 mg capsule)
    rx("dose-5", "gaba-code-3800", "", dose=1900, per_day=2, rxcui="310431", expect={DOSE}),
    # --- renal.above-band at CrCl 30.4 (row >30 to 59: 1400 mg/day, 2 doses a day)
    rx("renal-80", "renal-tid", dose=300, per_day=3, expect={RENAL}),  # 900 mg/day but 3 doses
    rx("renal-80", "renal-bid", dose=400, per_day=2),  # 800 mg/day in 2 doses: within the row
    rx("renal-80", "renal-1400", dose=700, per_day=2),  # exactly the row's maximum
    rx("renal-80", "renal-1600", dose=800, per_day=2, expect={RENAL}),
    # creatinine 0.6 before the start (CrCl 70.8, TID allowed); 1.4 after it is not used
    rx("renal-later", "later-tid", dose=300, per_day=3),
    # a creatinine on the start day is "on or before" the start: 1.4 is used
    rx("renal-sameday", "sameday-tid", dose=300, per_day=3, expect={RENAL}),
    # two results on the same day: the highest (1.4) is used [D18]
    rx("renal-tie", "tie-tid", dose=300, per_day=3, expect={RENAL}),
    # 123.76 umol/L = 1.4 mg/dL (/88.4)
    rx("renal-umol", "umol-tid", dose=300, per_day=3, expect={RENAL}),
    # 53.04 umol/L = 0.6 mg/dL: row >=60; 2400 mg/day at 80 years is elderly.high-dose only
    rx("renal-umol-low", "umol-low-2400", dose=800, per_day=3, expect={ELDERLY}),
    # male: no 0.85 factor -> CrCl 35.7, still >30 to 59
    rx("renal-male", "male-tid", dose=300, per_day=3, expect={RENAL}),
    # male, 80 y, 36 kg, 1.0 mg/dL: CrCl exactly 30, between the printed rows ">15 to 29" and
    # ">30 to 59": the lower-function row (700 mg/day, once daily) [renal.toml gap_rule, D1]
    rx("renal-gap-30", "gap30-bid", dose=400, per_day=2, expect={RENAL}),
    # male, 68 y, 60 kg, 1.0 mg/dL: CrCl exactly 60, row ">=60": 900 mg/day TID is allowed
    rx("renal-edge-60", "edge60-tid", dose=300, per_day=3),
    # 4.0 mg/dL: CrCl 10.6 -> below 15, in proportion: 300 x 10.625 / 15 = 212.5 mg/day, once daily
    rx("renal-prop", "prop-200", dose=200, per_day=1),
    rx("renal-prop", "prop-250", dose=250, per_day=1, expect={RENAL}),
    # 2.0 mg/dL: CrCl 21.25 -> Gralise is not recommended below 30 [GRALISE §2.2 Table 2]
    rx("renal-gralise", "gralise-avoid", "Gralise 600 mg tablet", 600, 1, expect={RENAL}),
    # 4.0 mg/dL: CrCl 10.6 -> Horizant 300 mg every other day [HORIZ Table 2]
    rx("renal-horizant", "horizant-qod", "Horizant 300 mg tablet", 300, 0.5),
    rx("renal-horizant", "horizant-qd", "Horizant 300 mg tablet", 300, 1, expect={RENAL}),
    # no weight: CrCl not computable, no renal judgement; 2400 mg/day at 80 is elderly.high-dose
    rx("renal-noweight", "noweight-2400", dose=800, per_day=3, expect={ELDERLY}),
    # --- renal.no-creatinine (65 and over at the start, no creatinine on or before it)
    rx("noscr-65", "noscr-65", expect={NO_SCR}),
    rx("noscr-64", "noscr-64"),
    rx("noscr-after", "noscr-after", expect={NO_SCR}),  # creatinine only after the start
    rx("noscr-glucose", "noscr-glucose", expect={NO_SCR}),  # a glucose result is no creatinine
    # --- overlap.opioid (gabapentin 600 mg/day in January: no other rule)
    rx("opi-60", "opi-60-gaba", **_JAN, expect={OPIOID}),
    rx("opi-60", "opi-60-oxy", "oxycodone 10 mg tablet", 10, 4, "2024-01-10", "2024-01-20"),
    rx("opi-union", "opi-union-gaba", **_JAN, expect={OPIOID}),
    rx("opi-union", "opi-union-oxy", "oxycodone 10 mg tablet", 10, 4, "2024-01-10", "2024-01-20"),
    rx("opi-union", "opi-union-mor", "morphine 15 mg tablet", 15, 2, "2024-01-15", "2024-01-25"),
    rx("opi-before", "opi-before-gaba", **_JAN, expect={OPIOID}),
    rx("opi-before", "opi-before-oxy", "oxycodone", 10, 3, "2023-12-20", "2024-01-05"),
    rx("opi-seq", "opi-seq-gaba", **_JAN, expect={OPIOID}),
    rx("opi-seq", "opi-seq-oxy1", "oxycodone", 10, 4, "2024-01-05", "2024-01-10"),
    rx("opi-seq", "opi-seq-oxy2", "oxycodone", 10, 4, "2024-01-20", "2024-01-25"),
    rx("opi-fentanyl", "opi-fent-gaba", **_JAN, expect={OPIOID}),
    rx("opi-fentanyl", "opi-fent", "fentanyl 25 mcg/h patch", 2.5, 1 / 3, "2024-01-10", None),
    rx("opi-daybefore", "opi-daybefore-gaba", **_JAN),
    rx("opi-daybefore", "opi-daybefore-oxy", "oxycodone", 10, 4, "2023-12-01", "2023-12-31"),
    rx("opi-lastday", "opi-lastday-gaba", **_JAN, expect={OPIOID}),
    rx("opi-lastday", "opi-lastday-oxy", "oxycodone", 10, 4, "2024-01-31", "2024-02-10"),
    # both open-ended: they run to the as-of date (2024-06-21 .. 06-30 = 10 days)
    rx("opi-open", "opi-open-gaba", start="2024-06-01", expect={OPIOID}),
    rx("opi-open", "opi-open-oxy", "oxycodone", 5, 2, "2024-06-21", None),
    # --- overlap.cns-depressant
    rx("cns", "cns-gaba", **_JAN, expect={CNS}),
    rx("cns", "cns-lorazepam", "lorazepam 1 mg tablet", 1, 2, "2024-01-20", "2024-02-10"),
    rx("cns-none", "cns-none-gaba", **_JAN),
    rx("cns-none", "cns-none-lisinopril", "lisinopril 10 mg tablet", 10, 1, **_JAN),
    # --- duplicate.gabapentinoid (pregabalin 100 mg/day: below its 150 mg/day stop level)
    rx("dup", "dup-gaba", **_JAN, expect={DUP}),
    rx("dup", "dup-preg", "pregabalin", 50, 2, "2024-01-20", "2024-02-20", expect={DUP}),
    rx("refill", "refill-1", **_JAN),
    rx("refill", "refill-2", start="2024-01-25", end="2024-02-28"),
    rx("switch-adjacent", "adjacent-gaba", **_JAN),
    rx("switch-adjacent", "adjacent-preg", "pregabalin", 50, 2, "2024-02-01", None),
    # --- stop.abrupt (gabapentin level 900 mg/day; taper length 7 days; as of 2024-06-30)
    rx("stop-abrupt", "abrupt", **_JAN, **_TID600, expect={STOP}),
    rx("stop-taper", "taper-from", **_JAN, **_TID600),
    rx("stop-taper", "taper-7d", start="2024-02-01", end="2024-02-07"),  # 600 mg/day for 7 days
    rx("stop-short", "short-from", **_JAN, **_TID600, expect={STOP}),
    rx("stop-short", "short-3d", start="2024-02-01", end="2024-02-03"),  # 3 days only
    rx("stop-renew", "renew-from", **_JAN, **_TID600),
    rx("stop-renew", "renew-same", start="2024-02-01", **_TID600),  # open-ended renewal
    # a renewal 8 days after the end comes too late
    rx("stop-late", "late-from", **_JAN, **_TID600, expect={STOP}),
    rx("stop-late", "late-renew", start="2024-02-08", **_TID600),
    rx("stop-switch", "switch-from", **_JAN, **_TID600),
    rx("stop-switch", "switch-preg", "pregabalin", 50, 2, "2024-02-01", None),
    rx("stop-low", "low-600", **_JAN),  # 600 mg/day: below the level
    rx("stop-900", "at-900", **_JAN, dose=300, per_day=3, expect={STOP}),  # at the level
    # ends 2024-06-25: within 7 days of the as-of date, not judged yet
    rx("stop-near", "near-asof", start="2024-06-01", end="2024-06-25", **_TID600),
    # ends 2024-06-23: 7 days before the as-of date, judged
    rx("stop-judged", "judged", start="2024-06-01", end="2024-06-23", **_TID600, expect={STOP}),
    rx("stop-preg", "preg-150", "pregabalin", 75, 2, **_JAN, expect={STOP}),  # level 150
    # --- elderly.high-dose (65 and over; gabapentin above 1800, pregabalin above 300 mg/day)
    rx("old-2400", "old-2400", dose=800, per_day=3, expect={ELDERLY}),
    rx("old-1800", "old-1800", dose=600, per_day=3),
    rx("old-preg", "old-preg-350", "pregabalin", 175, 2, expect={ELDERLY}),
    rx("old-preg", "old-preg-300", "pregabalin", 150, 2),
    rx("sixty-2400", "sixty-2400", dose=800, per_day=3),
]

LABS: list[Row] = [
    scr("renal-80", "2024-02-01", 1.4),
    scr("renal-later", "2024-01-15", 0.6),
    scr("renal-later", "2024-03-05", 1.4),
    scr("renal-sameday", "2023-06-01", 0.6),
    scr("renal-sameday", "2024-03-01", 1.4),
    scr("renal-tie", "2024-02-01", 0.6),
    scr("renal-tie", "2024-02-01", 1.4),
    scr("renal-umol", "2024-02-01", 123.76, "umol/L", "14682-9"),
    scr("renal-umol-low", "2024-02-01", 53.04, "µmol/L", "14682-9"),
    scr("renal-male", "2024-02-01", 1.4, "mg/dl"),
    scr("renal-gap-30", "2024-02-01", 1.0),
    scr("renal-edge-60", "2024-02-01", 1.0),
    scr("renal-prop", "2024-02-01", 4.0),
    scr("renal-gralise", "2024-02-01", 2.0),
    scr("renal-horizant", "2024-02-01", 4.0),
    scr("renal-noweight", "2024-02-01", 1.4),
    scr("noscr-after", "2024-04-01", 0.9),
    # a non-creatinine result in any unit is accepted and ignored
    scr("noscr-glucose", "2024-02-01", 95, "mg%", "2345-7"),
    scr("old-2400", "2024-02-01", 0.9),
    scr("old-1800", "2024-02-01", 0.9),
    scr("old-preg", "2024-02-01", 0.9),
]


def expected(rule: str) -> set[str]:
    return {str(r["rx_id"]) for r in PRESCRIPTIONS if rule in r["expect"]}


def write_population(folder: Path, fmt: str = "csv") -> Path:
    return write_tables(folder, PATIENTS, PRESCRIPTIONS, LABS, fmt=fmt)


@pytest.fixture(scope="session")
def population_duckdb(
    k: Knowledge, tmp_path_factory: pytest.TempPathFactory
) -> tuple[AuditResult, list[dict[str, Any]]]:
    """The hand-built population audited once with DuckDB as of AS_OF."""
    base = tmp_path_factory.mktemp("population")
    result = run_audit(k, write_population(base / "in"), base / "out", as_of=AS_OF)
    return result, flagged_rows(result)
