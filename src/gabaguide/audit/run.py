"""One audit run: read and check the folder, assess every gabapentinoid prescription, then write
the flagged rows (Parquet), the summary (JSON) and, if asked, the HTML report -- all or nothing."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from gabaguide.audit.backends import Backend, connect
from gabaguide.audit.contract import AuditInputError, locate, read
from gabaguide.audit.definitions import AuditDefinitions
from gabaguide.audit.rules import KEY, RULE_COLUMNS, as_of_day, assess_population
from gabaguide.knowledge import Knowledge

FLAGGED_COLUMNS = (
    "rule", "patient_id", "rx_id", "drug_name", "rxcui", "product", "start_date", "end_date",
    "dose_mg", "doses_per_day", "daily_mg", "age_years", "sex", "weight_kg", "scr_mg_dl",
    "scr_date", "crcl_ml_min", "kidney_band", "renal_max_mg", "renal_max_doses", "label_max_mg",
    "opioid_days", "peak_mme", "mme_tier", "cns_days", "dup_days", "taper_days",
)  # fmt: skip
ELDERLY_RULES = ("renal.no-creatinine", "elderly.high-dose")
DIMENSIONS = ("age_band", "kidney_band", "month")
_EPOCH = date(1970, 1, 1)

Step = Callable[[str], None]


@dataclass
class AuditResult:
    summary: dict[str, Any]
    flagged_path: Path
    report_path: Path | None = None


def run_audit(
    k: Knowledge,
    folder: Path,
    out: Path,
    *,
    backend: Backend = "duckdb",
    report: Path | None = None,
    as_of: date | None = None,
    step: Step | None = None,
) -> AuditResult:
    """Run every rule over the folder's data; AuditInputError (nothing written) on bad input."""
    say = step or (lambda _: None)
    defs = AuditDefinitions(k)
    sources = locate(folder)
    if out.exists() and not out.is_dir():
        raise AuditInputError([f"--out {out}: exists and is not a folder"])
    say("reading and checking the input")
    con = connect(backend)
    inp = read(con, sources, defs)
    cutoff = (as_of - _EPOCH).days if as_of is not None else as_of_day(inp)
    say("assessing gabapentinoid prescriptions")
    assessed = assess_population(con, inp, defs, cutoff).cache()
    with _Staging(out) as stage:
        say("writing the flagged prescriptions")
        flagged = _flagged(assessed)
        flagged_name = "flagged.parquet"
        con.to_parquet(flagged, stage / flagged_name)
        say("summarising")
        summary = _summary(con, inp, assessed, defs, backend, folder, cutoff)
        summary["outputs"] = {
            "flagged": str(out / flagged_name),
            "summary": str(out / "summary.json"),
        }
        if report is not None:
            summary["outputs"]["report"] = str(report)
        (stage / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
        if report is not None:
            say("drawing the report")
            from gabaguide.audit.report import render_report

            html = render_report(summary, defs)
            tmp = report.with_name(f".{report.name}.tmp")
            tmp.write_text(html, encoding="utf-8")
            tmp.replace(report)
    return AuditResult(summary, out / flagged_name, report)


class _Staging:
    """A sibling temporary folder whose files replace ``out``'s only when everything is written."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def __enter__(self) -> Path:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.", dir=self.out.parent))
        return self.tmp

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return
        self.out.mkdir(exist_ok=True)
        for item in self.tmp.iterdir():
            target = self.out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
        self.tmp.rmdir()


def _flagged(a: ir.Table) -> ir.Table:
    parts = [
        a.filter(a[col]).mutate(rule=ibis.literal(rule), kidney_band=a.kidney_band)
        for rule, col in RULE_COLUMNS.items()
    ]
    flagged = ibis.union(*parts).select(*FLAGGED_COLUMNS)
    return flagged.order_by(["rule", *KEY])


def _summary(
    con: ibis.BaseBackend,
    inp: Any,
    a: ir.Table,
    defs: AuditDefinitions,
    backend: str,
    folder: Path,
    cutoff: int,
) -> dict[str, Any]:
    elderly = a.age_years >= defs.elderly_age
    aggs: dict[str, ir.Value] = {
        "gabapentinoid_prescriptions": a.count(),
        "gabapentinoid_patients": a.patient_id.nunique(),
        "elderly_prescriptions": elderly.fill_null(False).cast("int64").sum(),
        "renal_checked_prescriptions": a.renal_max_mg.notnull().cast("int64").sum(),
        "no_creatinine_prescriptions": a.scr_mg_dl.isnull().cast("int64").sum(),
    }
    for col in RULE_COLUMNS.values():
        aggs[f"{col}__rx"] = a[col].cast("int64").sum()
        aggs[f"{col}__pt"] = a.patient_id.nunique(where=a[col])
    row = a.aggregate(**aggs).to_pyarrow().to_pylist()[0]
    counts = {
        name: inp_table.count().to_pyarrow().as_py()
        for name, inp_table in (
            ("patients", inp.patients),
            ("prescriptions", inp.prescriptions),
            ("labs", inp.labs),
        )
    }
    rules: dict[str, Any] = {}
    titles = {d.id: d.title for d in defs.definitions()}
    for rule, col in RULE_COLUMNS.items():
        n_rx = int(row[f"{col}__rx"] or 0)
        denominator = (
            "elderly_prescriptions" if rule in ELDERLY_RULES else ("gabapentinoid_prescriptions")
        )
        base = int(row[denominator] or 0)
        rules[rule] = {
            "title": titles[rule],
            "flagged_patients": int(row[f"{col}__pt"] or 0),
            "flagged_prescriptions": n_rx,
            "rate": round(n_rx / base, 6) if base else None,
            "denominator": denominator,
        }
    tiers = a.filter(a.f_overlap_opioid).group_by("mme_tier").aggregate(n=lambda t: t.count())
    summary: dict[str, Any] = {
        "backend": backend,
        "input": {
            "folder": str(folder),
            **counts,
            "as_of": (_EPOCH + timedelta(days=cutoff)).isoformat(),
        },
        "population": {k: int(v or 0) for k, v in row.items() if "__" not in k},
        "rules": rules,
        "mme_tiers": {r["mme_tier"]: r["n"] for r in tiers.to_pyarrow().to_pylist()},
    }
    for dim in DIMENSIONS:
        summary[f"by_{dim}"] = _by(a, dim)
    return summary


def _by(a: ir.Table, dim: str) -> list[dict[str, Any]]:
    aggs = {"prescriptions": a.count()}
    aggs |= {rule: a[col].cast("int64").sum() for rule, col in RULE_COLUMNS.items()}
    rows = a.group_by(dim).aggregate(**aggs).order_by(dim).to_pyarrow().to_pylist()

    def label(v: object) -> str | None:
        if v is None:
            return None
        return str(v)[:7] if dim == "month" else str(v)

    return [{**r, dim: label(r[dim])} for r in rows]
