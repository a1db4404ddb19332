"""Population audit at scale: DuckDB on ``--rows`` prescriptions against the same rules in plain
pandas on a ``--sample``, measured in the same run (Spark local mode on the sample for reference).

What it measures
    1. Data: ``gabaguide.audit.synth.synthesise`` writes a large population (``--rows``, default
       100 M prescription rows; patients = rows / 4.7) and a separate sample population
       (``--sample``, default 5 M rows: whole patients, same generator and seed) as Parquet part
       files under ``--data`` (default /tmp/gabaguide-bench-audit), in ``<patients>-<seed>/``.
       Each set is generated once and reused while its marker file ``.complete.json`` exists.
    2. Every timed audit runs in its own subprocess (this file with ``--child``), so that its peak
       memory is its own: the child reports its ``VmHWM`` (peak resident set, /proc) and the time
       of the audit call alone (``audit s``: reading, checking, every rule, summary, flagged
       Parquet written); the parent times the whole process too (``process s``: interpreter
       start-up, imports and loading the knowledge base included) and samples the size of
       DuckDB's spill folder.
       - pandas (baseline, on the sample): the same rules written again in plain pandas (merge,
         groupby; no DuckDB, no Ibis), reading the same Parquet with pyarrow -> pandas, classifying
         drugs with ``AuditDefinitions.drug_rows`` on the distinct (rxcui, drug_name) pairs and
         using its product levels, renal stretches and numbers, checking the input the way the
         contract does, and writing the same summary and flagged rows. It must reproduce the
         DuckDB summary on the sample exactly (per rule flagged prescriptions and patients; also the
         population counts, MME tiers, the by-age/kidney/month tables and the flagged row count):
         otherwise it is not the same work and the benchmark exits 1.
       - duckdb on the sample (like for like with pandas: the >=10x goal is judged here) and on
         the large set (the 60 s / 4 GiB goals). DuckDB's memory cap is whatever
         ``gabaguide.audit.backends.connect`` sets (``GABAGUIDE_DUCKDB_MEMORY`` if set, else DuckDB's
         default); beyond it DuckDB spills to ``.tmp`` in the child's working folder. To judge the
         4 GiB goal under a cap: ``GABAGUIDE_DUCKDB_MEMORY=3GB bash scripts/bench audit``.
       - spark local mode on the sample (reference only; its time includes starting the local
         session and JVM; its memory is the sampled proportional set size (PSS) of the
         process tree, JVM included).
    Each case runs once (the data are in the page cache after generation); a case still running
    after ``--timeout`` seconds (default 900) is stopped and reported as not finished.

Goals (from the issue): 100 M rows in <= 60 s on 2 cores with peak memory <= 4 GiB; >= 10x pandas.

How to run
    bash scripts/bench audit                               # 100 M rows, 5 M sample
    python benchmarks/bench_audit.py --rows 10M --sample 1M   # a quick run
    python benchmarks/bench_audit.py --skip-big --skip-spark  # sample only: pandas vs DuckDB
Results are printed and written as JSON to ``<data>/results.json``.

Exit status: 0 when every run succeeded and pandas reproduced DuckDB's summary (whether or not the
goals are met), 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_assess import cpu_model, git_rev

ROWS_PER_PATIENT = 4.7
GOAL_SECONDS = 60.0
GOAL_GIB = 4.0
GOAL_RATIO = 10.0
GOAL_ROWS = 100_000_000
MIB = 1024.0 * 1024.0
MARKER = ".complete.json"
KEY = ["patient_id", "rx_id"]


# --- sizes and data ---------------------------------------------------------------------------------


def parse_count(text: str) -> int:
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMgG]?)\s*", text)
    if m is None:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (e.g. 100M, 5M, 500k, 20000)")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[m.group(2).lower()]
    n = round(float(m.group(1)) * scale)
    if n < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return n


def ensure_data(base: Path, patients: int, seed: int) -> tuple[Path, dict[str, Any]]:
    """The data set's folder, generated unless a complete one is already there."""
    from gabaguide.audit.synth import synthesise
    from gabaguide.knowledge import load_knowledge

    folder = base / f"{patients}-{seed}"
    marker = folder / MARKER
    if marker.exists():
        info = json.loads(marker.read_text())
        print(f"  reusing {folder}: {info['rows']['prescriptions']:,} prescription rows")
        return folder, info
    if folder.exists():
        shutil.rmtree(folder)
    print(f"  generating {patients:,} patients (seed {seed}) in {folder} ...", flush=True)
    done = [0, time.perf_counter()]

    def progress(n: int) -> None:
        done[0] += n
        if time.perf_counter() - done[1] > 20:
            done[1] = time.perf_counter()
            print(f"    {done[0]:,} / {patients:,} patients", flush=True)

    start = time.perf_counter()
    rows = synthesise(load_knowledge(), patients, seed, folder, progress=progress)
    seconds = time.perf_counter() - start
    size = sum(f.stat().st_size for f in folder.rglob("*.parquet"))
    info = {
        "patients": patients,
        "seed": seed,
        "rows": rows,
        "bytes": size,
        "generate_seconds": round(seconds, 1),
    }
    marker.write_text(json.dumps(info, indent=1) + "\n")
    print(
        f"  generated {rows['prescriptions']:,} prescription rows, {rows['labs']:,} labs "
        f"({size / 1e9:.2f} GB) in {seconds:.0f} s"
    )
    return folder, info


# --- the pandas baseline ----------------------------------------------------------------------------


def _read(folder: Path, name: str) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(folder / name)
    return table.to_pandas(date_as_object=False)


def _days(s: Any) -> Any:
    """Day numbers since 1970-01-01 of a datetime column (NaN where missing)."""
    import pandas as pd

    return (s - pd.Timestamp(0)) // pd.Timedelta(days=1)


def _check_input(pat: Any, rx: Any, labs: Any, defs: Any) -> list[str]:
    """The contract's checks (required values, plausible ranges, creatinine units), as counts."""
    from gabaguide.audit.contract import MAX_DOSES_PER_DAY, REQUIRED, SEXES
    from gabaguide.domain import CREATININE_LIMITS, DOSE_MG_RANGE, WEIGHT_KG_RANGE

    tests: dict[str, Any] = {}
    for name, t in (("patients", pat), ("prescriptions", rx), ("labs", labs)):
        for c in REQUIRED[name]:
            tests[f"{name}.{c} empty"] = t[c].isna()
    lo_w, hi_w = WEIGHT_KG_RANGE
    tests["weight_kg range"] = pat.weight_kg.notna() & ~pat.weight_kg.between(lo_w, hi_w)
    tests["sex"] = pat.sex.notna() & ~pat.sex.str.lower().isin(SEXES)
    tests["dose_mg range"] = (rx.dose_mg <= 0) | (rx.dose_mg > DOSE_MG_RANGE[1])
    tests["doses_per_day range"] = (rx.doses_per_day <= 0) | (rx.doses_per_day > MAX_DOSES_PER_DAY)
    tests["end before start"] = rx.end_date < rx.start_date
    tests["no drug"] = rx.drug_name.isna() & rx.rxcui.isna()
    units = defs.creatinine_units()
    creat = labs.loinc.isin(defs.creatinine_loinc)
    known = labs.unit.isin(list(units))
    mg_dl = labs.value * labs.unit.map(units).astype("float64")
    lo_c, hi_c = CREATININE_LIMITS["mg/dL"]
    tests["creatinine unit"] = creat & ~known
    tests["creatinine range"] = creat & known & ~mg_dl.between(lo_c, hi_c)
    return [f"{k}: {int(v.sum())} rows" for k, v in tests.items() if v.any()]


def _pairs(a: Any, b: Any, different_product: bool = False) -> Any:
    """(gabapentinoid, other prescription) pairs of a patient that share at least one day."""
    p = a.merge(b, left_on="patient_id", right_on="o_patient")
    keep = (p.o_sd <= p.g_ed) & (p.o_ed >= p.g_sd) & (p.rx_id != p.o_rx)
    if different_product:
        keep &= p["product"] != p.o_product
    return p[keep]


def _overlap_days(p: Any, name: str) -> Any:
    """Per prescription: the union of the overlapping days and the number of other prescriptions."""
    import numpy as np

    p = p.assign(s=np.maximum(p.g_sd, p.o_sd), e=np.minimum(p.g_ed, p.o_ed))
    p = p.sort_values([*KEY, "s", "e", "o_rx"])
    prev_end = p.groupby(KEY, sort=False).e.cummax().groupby([p.patient_id, p.rx_id]).shift(1)
    start = np.maximum(p.s, (prev_end + 1).fillna(p.s))
    p = p.assign(new_days=np.maximum(p.e - start + 1, 0))
    return (
        p.groupby(KEY, sort=False)
        .agg(**{f"{name}_days": ("new_days", "sum"), f"{name}_count": ("o_rx", "nunique")})
        .reset_index()
    )


def pandas_audit(k: Any, folder: Path, out: Path) -> dict[str, Any]:
    """The audit's rules (rules.py) and summary (run.py) again, in plain pandas."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from gabaguide.audit.definitions import AuditDefinitions
    from gabaguide.audit.rules import RULE_COLUMNS
    from gabaguide.audit.run import DIMENSIONS, ELDERLY_RULES, FLAGGED_COLUMNS

    defs = AuditDefinitions(k)
    pat, rx, labs = (_read(folder, n) for n in ("patients", "prescriptions", "labs"))
    problems = _check_input(pat, rx, labs, defs)
    if problems:
        raise ValueError("input problems: " + "; ".join(problems))
    counts = {"patients": len(pat), "prescriptions": len(rx), "labs": len(labs)}
    as_of = int(max(_days(rx.start_date).max(), _days(rx.end_date).max()))

    # classified: drugs recognised once per distinct (rxcui, drug_name), joined back
    rx = rx.assign(rxcui_k=rx.rxcui.fillna(""), name_k=rx.drug_name.fillna(""))
    pairs = rx[["rxcui_k", "name_k"]].drop_duplicates()
    drugs = pd.DataFrame(
        defs.drug_rows(zip(pairs.rxcui_k, pairs.name_k, strict=True)),
        columns=["rxcui", "drug_name", "product", "is_opioid", "is_cns_depressant", "mme_per_mg"],
    ).rename(columns={"rxcui": "rxcui_k", "drug_name": "name_k"})
    drugs["mme_per_mg"] = drugs.mme_per_mg.astype("float64")
    drugs = drugs[drugs["product"].notna() | drugs.is_opioid | drugs.is_cns_depressant]
    meds = rx.merge(drugs, on=["rxcui_k", "name_k"]).drop(columns=["rxcui_k", "name_k"])
    meds["daily_mg"] = meds.dose_mg * meds.doses_per_day
    meds["mme_day"] = meds.dose_mg * meds.doses_per_day * meds.mme_per_mg
    meds["sd"] = _days(meds.start_date)
    meds["ed"] = _days(meds.end_date).fillna(as_of)
    del rx

    # gabapentinoids with their product levels and patient
    g = meds[meds["product"].notna()]
    g = g.merge(pd.DataFrame(defs.product_rows()), on="product", how="left")
    g = g.merge(pat[["patient_id", "birth_date", "sex", "weight_kg"]], on="patient_id", how="left")
    sdt, bdt = g.start_date.dt, g.birth_date.dt
    before = (sdt.month * 100 + sdt.day) < (bdt.month * 100 + bdt.day)
    g["age_years"] = (sdt.year - bdt.year - before.astype("int64")).astype("float64")
    g["sex"] = g.sex.str.lower()

    # renal: the latest creatinine on or before the start, Cockcroft-Gault, the renal stretch
    units = defs.creatinine_units()
    scr = labs[labs.loinc.isin(defs.creatinine_loinc)]
    scr = pd.DataFrame(
        {
            "patient_id": scr.patient_id,
            "scr_date": scr.date,
            "lab_day": _days(scr.date),
            "scr_mg_dl": scr.value * scr.unit.map(units).astype("float64"),
        }
    )
    j = g[[*KEY, "sd"]].merge(scr, on="patient_id")
    j = j[j.lab_day <= j.sd].sort_values(
        [*KEY, "lab_day", "scr_mg_dl"], ascending=[True, True, False, False], na_position="last"
    )
    latest = j.drop_duplicates(KEY)[[*KEY, "scr_date", "scr_mg_dl"]]
    g = g.merge(latest, on=KEY, how="left")
    del j, latest
    cg = defs.k.renal.cockcroft_gault
    raw = (cg.age_offset_years - g.age_years) * g.weight_kg / (cg.denominator * g.scr_mg_dl)
    crcl = raw * np.where(g.sex == "female", cg.female_factor, 1.0)
    crcl = crcl.where(~(crcl < 0), 0.0)
    g["crcl_ml_min"] = crcl.where(g.age_years >= defs.renal_min_age)
    st = pd.DataFrame([asdict(s) for s in defs.renal_stretches()]).astype(
        {
            "max_mg_per_day": "float64",
            "max_doses_per_day": "float64",
            "proportional_to_crcl": "float64",
        }
    )
    c = g.loc[g.crcl_ml_min.notna(), [*KEY, "product", "crcl_ml_min"]].merge(st, on="product")
    x = c.crcl_ml_min
    hit = ((x > c.lo) | (c.lo_inclusive & (x == c.lo))) & (
        (x < c.hi) | (c.hi_inclusive & (x == c.hi))
    )
    c = c[hit]
    c = c.assign(
        renal_label=c.label,
        renal_avoid=c.avoid.astype("boolean"),
        renal_max_mg=np.where(
            c.proportional_to_crcl.notna(),
            c.max_mg_per_day * c.crcl_ml_min / c.proportional_to_crcl,
            c.max_mg_per_day,
        ).astype("float64"),
        renal_max_doses=c.max_doses_per_day.astype("float64"),
    )
    g = g.merge(
        c[[*KEY, "renal_label", "renal_avoid", "renal_max_mg", "renal_max_doses"]],
        on=KEY,
        how="left",
    )
    del c

    # overlaps with opioids, CNS depressants and another gabapentinoid product
    a = g[[*KEY, "product", "sd", "ed"]].rename(columns={"sd": "g_sd", "ed": "g_ed"})

    def other(frame: Any) -> Any:
        return frame[["patient_id", "rx_id", "product", "sd", "ed", "mme_day"]].rename(
            columns={
                "patient_id": "o_patient",
                "rx_id": "o_rx",
                "product": "o_product",
                "sd": "o_sd",
                "ed": "o_ed",
                "mme_day": "o_mme",
            }
        )

    opioids = meds[meds.is_opioid]
    p_op = _pairs(a, other(opioids))
    extras = [
        _overlap_days(p_op, "opioid"),
        _overlap_days(_pairs(a, other(meds[meds.is_cns_depressant])), "cns"),
        _overlap_days(_pairs(a, other(meds[meds["product"].notna()]), True), "dup"),
    ]

    # peak MME: the total at the gabapentinoid's start or at an overlapping opioid's start
    o = opioids[["patient_id", "rx_id", "sd", "ed", "mme_day"]]
    o2 = o.rename(columns={"patient_id": "p2", "sd": "sd2", "ed": "ed2", "mme_day": "mme2"})
    oo = o.merge(o2.drop(columns="rx_id"), left_on="patient_id", right_on="p2")
    oo = oo[(oo.sd2 <= oo.sd) & (oo.ed2 >= oo.sd)]
    # SQL's SUM: null when every value is null (hence the count of values)
    at_start = (
        oo.assign(unk=oo.mme2.isna().astype("int64"))
        .groupby(["rx_id", "patient_id"], sort=False)
        .agg(total=("mme2", "sum"), known=("mme2", "count"), unknown_at_start=("unk", "sum"))
        .reset_index()
        .rename(columns={"rx_id": "o_rx", "patient_id": "o_patient"})
    )
    at_start["total_at_start"] = at_start.total.where(at_start.known > 0)
    del oo
    p = p_op.merge(at_start, on=["o_patient", "o_rx"], how="left")
    later_start = p.o_sd > p.g_sd
    p = p.assign(
        running=np.where(later_start, 0.0, p.o_mme),
        later=p.total_at_start.where(later_start),
        unk=p.o_mme.isna().astype("int64")
        + p.unknown_at_start.where(later_start, 0).fillna(0).astype("int64"),
    )
    mme = (
        p.groupby(KEY, sort=False)
        .agg(
            at_g=("running", "sum"),
            known=("running", "count"),
            later=("later", "max"),
            unk=("unk", "sum"),
        )
        .reset_index()
    )
    peak = np.fmax(mme.at_g.where(mme.known > 0), mme.later.fillna(0.0))
    mme["peak_mme"] = peak.where(mme.unk == 0)
    extras.append(mme[[*KEY, "peak_mme"]])
    del p, p_op

    # abrupt stops: ends at or above the stop level with neither a continuation nor a taper
    taper = defs.taper_days
    cand = g[g.end_date.notna() & (g.daily_mg >= g.stop_level_mg) & (g.ed + taper <= as_of)]
    cand = cand[[*KEY, "product", "ed", "daily_mg"]].rename(
        columns={"product": "c_product", "ed": "c_ed", "daily_mg": "c_daily"}
    )
    q = pd.DataFrame(
        {
            "q_patient": g.patient_id,
            "q_rx": g.rx_id,
            "q_product": g["product"],
            "q_sd": g.sd,
            "q_open": g.end_date.isna(),
            "q_ed": g.ed,
            "q_daily": g.daily_mg,
        }
    )
    jq = cand.merge(q, left_on="patient_id", right_on="q_patient")
    jq = jq[
        (jq.rx_id != jq.q_rx) & (jq.q_sd <= jq.c_ed + taper) & ((jq.q_ed > jq.c_ed) | jq.q_open)
    ]
    continues = (
        jq.q_open | (jq.q_product != jq.c_product) | jq.q_daily.isna() | (jq.q_daily >= jq.c_daily)
    )
    agg = (
        jq.assign(cont=continues.astype("int64"))
        .groupby(KEY, sort=False)
        .agg(continued=("cont", "sum"), last_day=("q_ed", "max"))
        .reset_index()
    )
    stop = cand.merge(agg, on=KEY, how="left")
    stop["taper_days"] = (stop.last_day - stop.c_ed).fillna(0.0)
    stop["abrupt"] = (stop.continued.fillna(0) == 0) & (stop.taper_days < taper)
    extras.append(stop[[*KEY, "taper_days", "abrupt"]])
    del jq, q, cand

    for extra in extras:
        g = g.merge(extra, on=KEY, how="left")

    # the rules' flags and the report's dimensions
    elderly = g.age_years >= defs.elderly_age
    g["f_dose_above_max"] = g.daily_mg > g.label_max_mg
    g["f_renal_above_band"] = (
        g.renal_avoid.fillna(False).astype(bool)
        | (g.daily_mg > g.renal_max_mg)
        | (g.doses_per_day > g.renal_max_doses)
    )
    g["f_renal_no_creatinine"] = elderly & g.scr_mg_dl.isna()
    g["f_overlap_opioid"] = g.opioid_days > 0
    g["f_overlap_cns_depressant"] = g.cns_days > 0
    g["f_duplicate_gabapentinoid"] = g.dup_days > 0
    g["f_stop_abrupt"] = g.abrupt.fillna(False).astype(bool)
    g["f_elderly_high_dose"] = elderly & (g.daily_mg > g.elderly_level_mg)
    tiers = list(reversed(defs.mme_tiers))
    g["mme_tier"] = np.select(
        [g.opioid_days.isna(), g.peak_mme.isna(), *(g.peak_mme >= t for t, _ in tiers)],
        [None, "MME not computable", *(f"{t:g}+ MME/day" for t, _ in tiers)],
        default=f"below {defs.mme_tiers[0][0]:g} MME/day",
    )
    bands = list(reversed(defs.population.age_bands))
    g["age_band"] = np.select(
        [g.age_years >= b.min for b in bands], [b.label for b in bands], default="unknown"
    )
    g["kidney_band"] = np.select(
        [g.renal_label.notna(), g.scr_mg_dl.isna(), g.crcl_ml_min.isna()],
        [g.renal_label, "no creatinine", "not computable"],
        default="no renal table",
    )
    g["month"] = g.start_date.dt.strftime("%Y-%m")

    # summary (as run._summary) and the flagged rows (as run._flagged)
    population = {
        "gabapentinoid_prescriptions": len(g),
        "gabapentinoid_patients": int(g.patient_id.nunique()),
        "elderly_prescriptions": int(elderly.sum()),
        "renal_checked_prescriptions": int(g.renal_max_mg.notna().sum()),
        "no_creatinine_prescriptions": int(g.scr_mg_dl.isna().sum()),
    }
    rules: dict[str, Any] = {}
    for rule, col in RULE_COLUMNS.items():
        flag = g[col]
        n_rx = int(flag.sum())
        denominator = (
            "elderly_prescriptions" if rule in ELDERLY_RULES else "gabapentinoid_prescriptions"
        )
        base = population[denominator]
        rules[rule] = {
            "flagged_patients": int(g.patient_id[flag].nunique()),
            "flagged_prescriptions": n_rx,
            "rate": round(n_rx / base, 6) if base else None,
            "denominator": denominator,
        }
    mme_tiers = g.mme_tier[g.f_overlap_opioid].value_counts().to_dict()
    summary: dict[str, Any] = {
        "backend": "pandas",
        "input": {**counts},
        "population": population,
        "rules": rules,
        "mme_tiers": {str(t): int(n) for t, n in mme_tiers.items()},
    }
    flags = g[list(RULE_COLUMNS.values())].astype("int64")
    for dim in DIMENSIONS:
        by = flags.groupby(g[dim]).sum()
        sizes = g.groupby(dim).size()
        summary[f"by_{dim}"] = [
            {
                dim: str(label),
                "prescriptions": int(sizes[label]),
                **{rule: int(by.loc[label, col]) for rule, col in RULE_COLUMNS.items()},
            }
            for label in sorted(sizes.index)
        ]
    parts = [g[g[col]].assign(rule=rule) for rule, col in RULE_COLUMNS.items()]
    flagged = pd.concat(parts, ignore_index=True)[list(FLAGGED_COLUMNS)]
    flagged = flagged.sort_values(["rule", *KEY])
    out.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(flagged, preserve_index=False), out / "flagged.parquet")
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
    return summary


# --- the child: one timed audit in its own process --------------------------------------------------


def peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(case: str, folder: Path, out: Path, result: Path) -> None:
    from gabaguide.knowledge import load_knowledge

    k = load_knowledge()
    if out.exists():
        shutil.rmtree(out)
    steps: list[tuple[str, float]] = []

    def step(what: str, done: int, total: int) -> None:
        steps.append((what.split(", part ")[0], time.perf_counter()))  # parts summed below

    start = time.perf_counter()
    if case == "pandas":
        summary = pandas_audit(k, folder, out)
    else:
        from gabaguide.audit.run import run_audit

        summary = run_audit(k, folder, out, backend=case, step=step).summary  # type: ignore[arg-type]
    seconds = time.perf_counter() - start
    ends = [t for _, t in steps[1:]] + [start + seconds]
    stages: dict[str, float] = {}
    for (what, t), end in zip(steps, ends, strict=False):
        stages[what] = round(stages.get(what, 0.0) + end - t, 3)
    if case == "spark":
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:
            active.stop()
    import pyarrow.dataset as ds

    flagged_rows = ds.dataset(out / "flagged.parquet").count_rows()  # a file, or Spark's folder
    result.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "vmhwm_kib": peak_rss_kib(),
                "flagged_rows": flagged_rows,
                "stages": stages,
                "summary": summary,
            },
            default=str,
        )
    )


# --- the parent: run each case in a subprocess, sampling its process tree --------------------------


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def _rss_kib(pid: int) -> int:
    """The process's proportional set size (shared pages split between their users), else RSS."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    except (OSError, IndexError, ValueError):
        return 0


def _dir_bytes(path: Path) -> int:
    total = 0
    try:
        for root, _, files in os.walk(path):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.stat(os.path.join(root, name)).st_size
    except OSError:
        pass
    return total


def run_case(
    case: str, folder: Path, rows: int, base: Path, label: str, timeout: float
) -> dict[str, Any]:
    """Run one audit in a fresh subprocess; its times, memory and summary. A run longer than
    ``timeout`` seconds is stopped (its process group) and reported as timed out."""
    work = base / f"work-{label}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    result = work / "result.json"
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        case,
        "--folder",
        str(folder),
        "--out",
        str(work / "out"),
        "--result",
        str(result),
    ]
    print(f"  {label}: {case} on {rows:,} rows ...", flush=True)
    peak = {"tree_kib": 0, "spill": 0}
    start = time.perf_counter()
    log = (work / "child.log").open("wb")
    proc = subprocess.Popen(
        cmd, cwd=work, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            peak["tree_kib"] = max(peak["tree_kib"], sum(_rss_kib(p) for p in _tree(proc.pid)))
            peak["spill"] = max(peak["spill"], _dir_bytes(work / ".tmp"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    finally:  # timed out, or this process is being stopped: stop the child's own session
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the child and its JVM, if any
            proc.wait()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    log.close()
    peak_tree = round(peak["tree_kib"] / 1024, 1)
    if seconds >= timeout:
        print(f"    TIMEOUT: stopped after {seconds:.0f} s (peak tree RSS {peak_tree:,.0f} MiB)")
        return {
            "case": case,
            "label": label,
            "rows": rows,
            "failed": f"timeout after {seconds:.0f} s",
            "peak_tree_rss_mib_sampled": peak_tree,
            "peak_spill_mib_sampled": round(peak["spill"] / MIB, 1),
        }
    if proc.returncode != 0 or not result.exists():
        lines = (work / "child.log").read_text("utf-8", "replace").strip().splitlines()
        print(f"FAILED: {label} exited {proc.returncode}", file=sys.stderr)
        for line in [x for x in lines if x.strip()][-25:]:
            print(f"  {line}", file=sys.stderr)
        error = next((x for x in reversed(lines) if "Error" in x or "Exception" in x), "")
        return {
            "case": case,
            "label": label,
            "rows": rows,
            "failed": f"exit {proc.returncode} after {seconds:.0f} s: {error.strip()[:160]}",
            "peak_tree_rss_mib_sampled": peak_tree,
            "peak_spill_mib_sampled": round(peak["spill"] / MIB, 1),
        }
    r = json.loads(result.read_text())
    audit_s = r["seconds"]
    out = {
        "case": case,
        "label": label,
        "rows": rows,
        "audit_seconds": round(audit_s, 3),
        "process_seconds": round(seconds, 3),
        "rows_per_s": round(rows / audit_s, 1),
        "peak_rss_mib": round(r["vmhwm_kib"] / 1024, 1),
        "peak_tree_rss_mib_sampled": peak_tree,
        "peak_spill_mib_sampled": round(peak["spill"] / MIB, 1),
        "flagged_rows": r["flagged_rows"],
        "stages_seconds": r["stages"],
        "summary": r["summary"],
    }
    print(
        f"    audit {audit_s:.1f} s, process {seconds:.1f} s, peak RSS "
        f"{out['peak_rss_mib']:,.0f} MiB (tree {out['peak_tree_rss_mib_sampled']:,.0f} MiB), "
        f"spill {out['peak_spill_mib_sampled']:,.0f} MiB",
        flush=True,
    )
    if r["stages"]:
        print("    stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in r["stages"].items()))
    shutil.rmtree(work / "out", ignore_errors=True)
    return out


def compare(ref: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Differences between two runs' summaries (and flagged row counts); empty when identical."""
    a, b = ref["summary"], got["summary"]
    diffs = []
    for rule, r in a["rules"].items():
        for field in ("flagged_prescriptions", "flagged_patients"):
            if b["rules"][rule][field] != r[field]:
                diffs.append(f"{rule} {field}: {b['rules'][rule][field]} != {r[field]}")
    for section in ("population", "mme_tiers"):
        if a[section] != b[section]:
            diffs.append(f"{section}: {b[section]} != {a[section]}")
    for name in ("patients", "prescriptions", "labs"):
        if a["input"][name] != b["input"][name]:
            diffs.append(f"input {name}: {b['input'][name]} != {a['input'][name]}")
    for dim in ("age_band", "kidney_band", "month"):
        ra = {str(r[dim]): r for r in a[f"by_{dim}"]}
        rb = {str(r[dim]): r for r in b[f"by_{dim}"]}
        if ra != rb:
            diffs.append(f"by_{dim} differs")
    if ref["flagged_rows"] != got["flagged_rows"]:
        diffs.append(f"flagged rows: {got['flagged_rows']} != {ref['flagged_rows']}")
    return diffs


def bench(args: argparse.Namespace) -> dict[str, Any]:
    base: Path = args.data
    base.mkdir(parents=True, exist_ok=True)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    print("data")
    sample_patients = max(1, round(args.sample / ROWS_PER_PATIENT))
    sample_dir, sample_info = ensure_data(base, sample_patients, args.seed)
    sample_rows = sample_info["rows"]["prescriptions"]
    big_dir = big_info = None
    if not args.skip_big:
        big_patients = max(1, round(args.rows / ROWS_PER_PATIENT))
        big_dir, big_info = ensure_data(base, big_patients, args.seed)

    print("runs (each in its own process)")
    runs = [run_case("pandas", sample_dir, sample_rows, base, "pandas-sample", args.timeout)]
    runs.append(run_case("duckdb", sample_dir, sample_rows, base, "duckdb-sample", args.timeout))
    if not args.skip_spark:
        runs.append(run_case("spark", sample_dir, sample_rows, base, "spark-sample", args.timeout))
    if big_dir is not None and big_info is not None:
        big_rows = big_info["rows"]["prescriptions"]
        runs.append(run_case("duckdb", big_dir, big_rows, base, "duckdb-big", args.timeout))

    by = {r["label"]: r for r in runs}
    ok = all("failed" not in r for r in runs)
    checks: dict[str, list[str] | None] = {}
    duck = by["duckdb-sample"]
    for other in ("pandas-sample", "spark-sample"):
        if other in by and "failed" not in by[other] and "failed" not in duck:
            checks[other] = compare(duck, by[other])
    pandas = by["pandas-sample"]
    for r in runs:
        if "failed" not in r and "failed" not in pandas:
            r["x_pandas_rows_per_s"] = round(r["rows_per_s"] / pandas["rows_per_s"], 2)
    goals: dict[str, Any] = {}
    if "failed" not in duck and "failed" not in pandas:
        ratio = pandas["audit_seconds"] / duck["audit_seconds"]
        goals["duckdb_vs_pandas_on_sample"] = {
            "ratio": round(ratio, 2),
            "goal": GOAL_RATIO,
            "pass": ratio >= GOAL_RATIO,
        }
    else:
        goals["duckdb_vs_pandas_on_sample"] = {"ratio": None, "goal": GOAL_RATIO, "pass": False}
    big = by.get("duckdb-big")
    if big is not None:
        done = "failed" not in big
        goals["duckdb_big_seconds"] = {
            "value": big["audit_seconds"] if done else None,
            "process_seconds": big["process_seconds"] if done else None,
            "goal": GOAL_SECONDS,
            "rows": big["rows"],
            "goal_rows": GOAL_ROWS,
            "pass": (done and big["audit_seconds"] <= GOAL_SECONDS)
            if big["rows"] >= GOAL_ROWS or not done
            else None,  # finished, but on fewer rows than the goal's: not judged
            "failed": big.get("failed"),
        }
        peak_mib = big["peak_rss_mib"] if done else big["peak_tree_rss_mib_sampled"]
        goals["duckdb_big_peak_gib"] = {
            "value": round(peak_mib / 1024, 3),
            "goal": GOAL_GIB,
            "pass": (done and peak_mib / 1024 <= GOAL_GIB)
            if big["rows"] >= GOAL_ROWS or not done
            else None,
        }
    return {
        "ok": ok and all(not d for d in checks.values()),
        "args": {
            "rows": args.rows,
            "sample": args.sample,
            "seed": args.seed,
            "data": str(base),
            "skip_spark": args.skip_spark,
            "skip_big": args.skip_big,
            "timeout": args.timeout,
        },
        "data": {"sample": sample_info, "big": big_info},
        "duckdb_memory_limit": os.environ.get("GABAGUIDE_DUCKDB_MEMORY")
        or "not set (gabaguide's default)",
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "runs": runs,
        "checks_vs_duckdb_sample": checks,
        "goals": goals,
        "machine": {
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "git": git_rev(),
            "date": time.strftime("%Y-%m-%d"),
        },
    }


def report(r: dict[str, Any]) -> None:
    m = r["machine"]
    print()
    print(
        f"gabaguide audit benchmark ({m['date']}, git {m['git']}): {m['cpu']}, {m['cores']} cores; "
        f"{m['python']}"
    )
    print(
        f"GABAGUIDE_DUCKDB_MEMORY: {r['duckdb_memory_limit']}; load average at start"
        f" {r['load_average_at_start'][0]}, at end {r['load_average_at_end'][0]} (other work on the"
        " machine slows every case)"
    )
    head = (
        f"{'case':<15} {'rows':>12} {'audit s':>9} {'process s':>10} {'peak RSS MiB':>13} "
        f"{'rows/s':>12} {'x pandas':>9}"
    )
    print(head)
    print("-" * len(head))
    for x in r["runs"]:
        if "failed" in x:
            print(f"{x['label']:<15} {x['rows']:>12,} FAILED ({x['failed']})")
            continue
        rss = f"{x['peak_rss_mib']:,.0f}"
        if x["case"] == "spark":
            rss = f"~{x['peak_tree_rss_mib_sampled']:,.0f}*"
        ratio = x.get("x_pandas_rows_per_s")
        print(
            f"{x['label']:<15} {x['rows']:>12,} {x['audit_seconds']:>9.2f} "
            f"{x['process_seconds']:>10.2f} {rss:>13} {x['rows_per_s']:>12,.0f} "
            f"{(f'{ratio:.2f}' if ratio is not None else '-'):>9}"
        )
    print(
        "audit s: the audit call alone (read, check, rules, summary, flagged Parquet); process s:"
        " with interpreter start-up, imports, KB load.\nx pandas: rows/s over pandas' rows/s"
        " (pandas and DuckDB on the same sample; the large run is a different size)."
    )
    if any(x["case"] == "spark" and "failed" not in x for x in r["runs"]):
        print(
            "* Spark: time includes starting the local session (JVM); memory is the sampled PSS of"
            " the process tree (Python driver + JVM)."
        )
    spills = [x for x in r["runs"] if x.get("peak_spill_mib_sampled")]
    for x in spills:
        print(f"DuckDB spill ({x['label']}): up to ~{x['peak_spill_mib_sampled']:,.0f} MiB on disk")
    print()
    for other, diffs in r["checks_vs_duckdb_sample"].items():
        if diffs:
            print(f"{other} vs duckdb-sample: MISMATCH")
            for d in diffs:
                print(f"  {d}")
        else:
            print(
                f"{other} vs duckdb-sample: identical (8 rules x flagged prescriptions and patients;"
                " population, MME tiers, by age/kidney/month, flagged row count)"
            )
    duck = next((x for x in r["runs"] if x["label"] == "duckdb-sample" and "failed" not in x), None)
    if duck is not None:
        print("per rule on the sample (flagged prescriptions / patients):")
        for rule, v in duck["summary"]["rules"].items():
            print(f"  {rule:<26} {v['flagged_prescriptions']:>10,} {v['flagged_patients']:>10,}")
    g = r["goals"]
    print()

    def verdict(ok: bool | None) -> str:
        return "not judged" if ok is None else "PASS" if ok else "FAIL"

    x = g["duckdb_vs_pandas_on_sample"]
    ratio = f"{x['ratio']:.1f}x" if x["ratio"] is not None else "not measured (a run failed)"
    print(f"goal DuckDB >= {x['goal']:g}x pandas (sample): {ratio}  {verdict(x['pass'])}")
    if "duckdb_big_seconds" in g:
        x = g["duckdb_big_seconds"]
        note = (
            ""
            if x["rows"] >= x["goal_rows"]
            else f" (on {x['rows']:,} rows; the goal is for 100 M)"
        )
        took = (
            f"{x['value']:.1f} s (process {x['process_seconds']:.1f} s)"
            if x["value"] is not None
            else f"did not finish ({x['failed']})"
        )
        print(f"goal 100 M rows <= {x['goal']:g} s on 2 cores: {took}  {verdict(x['pass'])}{note}")
        y = g["duckdb_big_peak_gib"]
        print(f"goal peak memory <= {y['goal']:g} GiB: {y['value']:.2f} GiB  {verdict(y['pass'])}")


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run_case then stops its child
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=parse_count, default=GOAL_ROWS, help="prescription rows (default 100M)"
    )
    parser.add_argument(
        "--sample", type=parse_count, default=5_000_000, help="sample rows (default 5M)"
    )
    parser.add_argument(
        "--data", type=Path, default=Path("/tmp/gabaguide-bench-audit"), help="data folder"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--skip-spark", action="store_true", help="no Spark run")
    parser.add_argument("--skip-big", action="store_true", help="no large data set, no large run")
    parser.add_argument(
        "--timeout", type=float, default=900.0, help="stop a run after this many s (default 900)"
    )
    parser.add_argument("--child", choices=("pandas", "duckdb", "spark"), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.folder, args.out, args.result)
        return
    args.data = args.data.resolve()
    results = bench(args)
    report(results)
    path = args.data / "results.json"
    path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"\nresults: {path}")
    if not results["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
