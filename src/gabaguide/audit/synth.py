"""A seeded, vectorised generator of audit input: patients on a gabapentinoid with their other
prescriptions and creatinine results, written as Parquet part files in chunks of patients.

The data are invented to exercise every rule at realistic rates: ages, sex and weight; kidney
function (creatinine rising with age, some chronic kidney disease, some patients never tested, a
share in umol/L); courses of renewals at common daily doses (a few above the maximum); courses that
run on, are tapered (some too quickly) or stop abruptly; a second gabapentinoid now and then; opioids
(some without a convertible dose), benzodiazepines and other CNS depressants, and unrelated
medicines. The same seed and patient count always give the same files. Nothing here is advice:
these numbers make test data, the rules' numbers are in the knowledge base.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gabaguide.knowledge import Knowledge

CHUNK_PATIENTS = 500_000
_EPOCH = date(1970, 1, 1)
_FIRST_START = (date(2023, 1, 1) - _EPOCH).days
_LAST_START = (date(2025, 6, 30) - _EPOCH).days
_REFERENCE = (date(2024, 6, 30) - _EPOCH).days
_SLOTS = 16  # rx_id = patient_id * _SLOTS + slot


@dataclass(frozen=True)
class Drug:
    name: str
    rxcui: str
    doses_mg: tuple[float, ...]
    doses_per_day: tuple[float, ...]


# Invented prescribing patterns of the test data (names as pharmacies write them).
_OPIOIDS = (
    Drug("oxycodone 5 mg tablet", "", (5, 10, 15), (2, 3, 4)),
    Drug("tramadol 50 mg tablet", "", (50, 100), (2, 3, 4)),
    Drug("morphine sulfate ER 30 mg tablet", "", (15, 30, 60), (2,)),
    Drug("hydrocodone/acetaminophen 10/325 tablet", "", (5, 10), (3, 4)),
    Drug("fentanyl 25 mcg/h patch", "", (25,), (1 / 3,)),
)
_CNS = (
    Drug("lorazepam 1 mg tablet", "", (0.5, 1, 2), (1, 2, 3)),
    Drug("alprazolam 0.5 mg tablet", "", (0.25, 0.5, 1), (1, 2, 3)),
    Drug("zolpidem 10 mg tablet", "", (5, 10), (1,)),
    Drug("diazepam 5 mg tablet", "", (2, 5, 10), (1, 2)),
    Drug("amitriptyline 25 mg tablet", "", (10, 25, 50), (1,)),
)
_OTHER = (
    Drug("lisinopril 10 mg tablet", "", (10, 20), (1,)),
    Drug("metformin 500 mg tablet", "", (500, 1000), (2,)),
    Drug("atorvastatin 20 mg tablet", "", (20, 40), (1,)),
    Drug("omeprazole 20 mg capsule", "", (20,), (1,)),
)
# product id, share of courses, daily doses (mg/day) and their shares, doses per day and shares
_COURSES = (
    ("gabapentin", 0.84, (300, 600, 900, 1200, 1800, 2400, 3600, 4800),
     (0.10, 0.18, 0.22, 0.16, 0.18, 0.08, 0.06, 0.02), (1, 2, 3, 4), (0.12, 0.23, 0.60, 0.05)),
    ("pregabalin", 0.12, (75, 150, 300, 450, 600, 900),
     (0.15, 0.35, 0.30, 0.10, 0.08, 0.02), (1, 2, 3), (0.2, 0.6, 0.2)),
    ("gralise", 0.02, (1200, 1800), (0.3, 0.7), (1,), (1.0,)),
    ("horizant", 0.02, (600, 1200), (0.4, 0.6), (1, 2), (0.5, 0.5)),
)  # fmt: skip


def synthesise(
    k: Knowledge,
    patients: int,
    seed: int,
    out: Path,
    chunk: int = CHUNK_PATIENTS,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write ``patients``, ``prescriptions`` and ``labs`` part files under ``out``; row counts."""
    names = {p: _product_names(k, p) for p, *_ in _COURSES}
    for table in ("patients", "prescriptions", "labs"):
        (out / table).mkdir(parents=True, exist_ok=True)
    rows = {"patients": 0, "prescriptions": 0, "labs": 0}
    for i, first in enumerate(range(0, patients, chunk)):
        n = min(chunk, patients - first)
        rng = np.random.default_rng([seed, i])
        tables = _chunk(rng, first, n, names)
        for table, data in tables.items():
            pq.write_table(data, out / table / f"part-{i:05d}.parquet", compression="snappy")
            rows[table] += data.num_rows
        if progress is not None:
            progress(n)
    return rows


def _product_names(k: Knowledge, product: str) -> tuple[tuple[str, str], ...]:
    """(drug_name, rxcui) of the product's forms; some rows of the data will carry no code."""
    p = k.product_by_id[product]
    return tuple((f"{p.ingredient} {f.strength_mg:g} mg {f.form}", f.rxcui[0]) for f in p.forms)


def _chunk(
    rng: np.random.Generator, first: int, n: int, names: dict[str, tuple[tuple[str, str], ...]]
) -> dict[str, pa.Table]:
    pid = np.arange(first, first + n, dtype=np.int64)
    age = np.where(
        rng.random(n) < 0.03, rng.uniform(12, 18, n), np.clip(rng.normal(58, 16, n), 18, 97)
    )
    birth = (_REFERENCE - age * 365.25).astype(np.int64)
    female = rng.random(n) < 0.6
    weight = np.where(female, rng.normal(72, 15, n), rng.normal(86, 16, n)).clip(38, 200).round(1)
    weight_null = rng.random(n) < 0.03
    patients = pa.table(
        {
            "patient_id": pid,
            "birth_date": _dates(birth),
            "sex": pa.array(np.where(female, "female", "male")),
            "weight_kg": pa.array(weight, mask=weight_null),
        }
    )
    rx = _prescriptions(rng, pid, names)
    labs = _labs(rng, pid, age, female)
    return {"patients": patients, "prescriptions": rx, "labs": labs}


def _prescriptions(
    rng: np.random.Generator, pid: np.ndarray, names: dict[str, tuple[tuple[str, str], ...]]
) -> pa.Table:
    n = len(pid)
    parts: list[dict[str, np.ndarray]] = []
    # the gabapentinoid course: 1 to 4 consecutive prescriptions of 30, 60 or 90 days
    which = rng.choice(len(_COURSES), n, p=[c[1] for c in _COURSES])
    daily = np.zeros(n)
    per_day = np.zeros(n)
    for i, (_, _, doses, dp, freqs, fp) in enumerate(_COURSES):
        m = which == i
        daily[m] = rng.choice(doses, m.sum(), p=dp)
        per_day[m] = rng.choice(freqs, m.sum(), p=fp)
    start = rng.integers(_FIRST_START, _LAST_START, n)
    renewals = np.minimum(1 + rng.poisson(1.2, n), 4)
    ending = rng.choice(4, n, p=[0.4, 0.3, 0.1, 0.2])  # runs on, tapered, taper too short, abrupt
    s = start.copy()
    for slot in range(4):
        m = renewals > slot
        length = rng.choice((30, 60, 90), n)
        last = renewals == slot + 1
        end = s + length - 1
        parts.append(
            _rows(
                pid[m],
                slot,
                which[m],
                names,
                rng,
                s[m],
                np.where((last & (ending == 0))[m], -1, end[m]),
                daily[m] / per_day[m],
                per_day[m],
            )
        )
        s = np.where(m, end + 1, s)
    course_end = s - 1
    for kind, days, slot in ((1, (7, 22), 4), (2, (2, 6), 4)):
        m = ending == kind
        length = rng.integers(*days, n)
        parts.append(
            _rows(
                pid[m],
                slot,
                which[m],
                names,
                rng,
                (course_end + 1)[m],
                (course_end + length)[m],
                (daily / 2 / per_day)[m],
                per_day[m],
            )
        )
    # a second gabapentinoid of another product, overlapping the course
    m = rng.random(n) < 0.05
    other = np.where(which == 0, 1, 0)
    dup_start = start + rng.integers(0, 60, n)
    parts.append(
        _rows(
            pid[m],
            5,
            other[m],
            names,
            rng,
            dup_start[m],
            (dup_start + 29)[m],
            np.full(m.sum(), 150.0),
            np.full(m.sum(), 2.0),
        )
    )
    for drugs, share, count, slot in (
        (_OPIOIDS, 0.25, 3, 6),
        (_CNS, 0.15, 2, 9),
        (_OTHER, 0.9, 2, 11),
    ):
        k_rows = np.where(rng.random(n) < share, 1 + rng.integers(0, count, n), 0)
        for j in range(count):
            m = k_rows > j
            parts.append(
                _other_rows(rng, pid[m], slot + j, drugs, (start + rng.integers(-60, 150, n))[m])
            )
    cols = {c: np.concatenate([p[c] for p in parts]) for c in parts[0]}
    end = cols["end"]
    return pa.table(
        {
            "patient_id": cols["patient_id"],
            "rx_id": cols["rx_id"],
            "drug_name": pa.array(cols["drug_name"]),
            "rxcui": pa.array(cols["rxcui"], mask=cols["rxcui"] == ""),
            "dose_mg": cols["dose_mg"].round(2),
            "doses_per_day": cols["doses_per_day"],
            "start_date": _dates(cols["start"]),
            "end_date": pa.array(end.astype(np.int32), type=pa.date32(), mask=end < 0),
        }
    )


def _rows(
    pid: np.ndarray,
    slot: int,
    which: np.ndarray,
    names: dict[str, tuple[tuple[str, str], ...]],
    rng: np.random.Generator,
    start: np.ndarray,
    end: np.ndarray,
    dose: np.ndarray,
    per_day: np.ndarray,
) -> dict[str, np.ndarray]:
    """Gabapentinoid rows: a product form's name; a code on four rows in five."""
    drug = np.empty(len(pid), dtype=object)
    code = np.empty(len(pid), dtype=object)
    for i, (product, *_) in enumerate(_COURSES):
        m = which == i
        forms = names[product]
        pick = rng.integers(0, len(forms), m.sum())
        drug[m] = [forms[f][0] for f in pick]
        code[m] = [forms[f][1] for f in pick]
    code[rng.random(len(pid)) < 0.2] = ""
    return {
        "patient_id": pid,
        "rx_id": pid * _SLOTS + slot,
        "drug_name": drug,
        "rxcui": code,
        "dose_mg": dose,
        "doses_per_day": per_day,
        "start": start,
        "end": end,
    }


def _other_rows(
    rng: np.random.Generator, pid: np.ndarray, slot: int, drugs: tuple[Drug, ...], start: np.ndarray
) -> dict[str, np.ndarray]:
    n = len(pid)
    which = rng.integers(0, len(drugs), n)
    dose = np.array(
        [
            drugs[w].doses_mg[i % len(drugs[w].doses_mg)]
            for w, i in zip(which, rng.integers(0, 3, n), strict=True)
        ],
        dtype=float,
    )
    per_day = np.array(
        [
            drugs[w].doses_per_day[i % len(drugs[w].doses_per_day)]
            for w, i in zip(which, rng.integers(0, 3, n), strict=True)
        ],
        dtype=float,
    )
    open_ended = rng.random(n) < 0.2
    end = np.where(open_ended, -1, start + rng.choice((7, 14, 30, 90), n) - 1)
    return {
        "patient_id": pid,
        "rx_id": pid * _SLOTS + slot,
        "drug_name": np.array([drugs[w].name for w in which], dtype=object),
        "rxcui": np.array([drugs[w].rxcui for w in which], dtype=object),
        "dose_mg": dose,
        "doses_per_day": per_day,
        "start": start,
        "end": end,
    }


def _labs(
    rng: np.random.Generator, pid: np.ndarray, age: np.ndarray, female: np.ndarray
) -> pa.Table:
    n = len(pid)
    count = np.where(rng.random(n) < 0.2, 0, 1 + rng.poisson(0.8, n))
    idx = np.repeat(np.arange(n), count)
    m = len(idx)
    base = np.where(female[idx], 0.75, 0.95) * np.exp(rng.normal(0, 0.15, m))
    ageing = 1 + np.maximum(0, age[idx] - 50) * 0.012
    ckd = np.where(rng.random(m) < 0.1, rng.uniform(1.8, 4.0, m), 1.0)
    scr = (base * ageing * ckd).round(2)
    umol = rng.random(m) < 0.15
    when = rng.integers(_FIRST_START - 700, _LAST_START + 120, m)
    return pa.table(
        {
            "patient_id": pid[idx],
            "date": _dates(when),
            "loinc": pa.array(np.where(umol, "14682-9", "2160-0")),
            "value": np.where(umol, (scr * 88.4).round(0), scr),
            "unit": pa.array(np.where(umol, "umol/L", "mg/dL")),
        }
    )


def _dates(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype(np.int32), type=pa.date32())
