"""One audit run: read and check the folder, assess every gabapentinoid prescription part by part
(ranges of patients, see ``parts.py``), then write the flagged rows (Parquet part files), the
summary (JSON) and, if asked, the HTML report -- all or nothing."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from gabaguide.audit.backends import Backend, connect
from gabaguide.audit.contract import (
    AuditInputError,
    Inputs,
    duplicate_ids,
    duplicate_problems,
    locate,
    read,
)
from gabaguide.audit.definitions import AuditDefinitions
from gabaguide.audit.parts import rows_per_part, split
from gabaguide.audit.rules import (
    MEASURE_COLUMNS,
    RULE_COLUMNS,
    as_of_day,
    assess_population,
    rule_tables,
)
from gabaguide.knowledge import Knowledge

FLAGGED_COLUMNS = ("rule", *MEASURE_COLUMNS)
ELDERLY_RULES = ("renal.no-creatinine", "elderly.high-dose")
DIMENSIONS = ("age_band", "kidney_band", "month")
FLAGGED = "flagged.parquet"
_EPOCH = date(1970, 1, 1)

Step = Callable[[str, int, int], None]
"""Told each step as it starts: what, how many steps are done, how many there are in all."""


@dataclass
class AuditResult:
    summary: dict[str, Any]
    flagged_path: Path
    """A folder of Parquet part files (read it as one data set: ``pyarrow.parquet.read_table``,
    ``pandas.read_parquet``, DuckDB ``read_parquet('.../*.parquet')``, Spark)."""
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
    say = step or (lambda *_: None)
    defs = AuditDefinitions(k)
    sources = locate(folder)
    if out.exists() and not out.is_dir():
        raise AuditInputError([f"--out {out}: exists and is not a folder"])
    say("reading and checking the input", 0, 1)
    con = connect(backend)
    inp = read(con, sources, defs)
    cutoff = (as_of - _EPOCH).days if as_of is not None else as_of_day(inp)
    tables = rule_tables(con, inp.prescriptions, defs)
    parts = split(inp, rows_per_part()) if backend == "duckdb" else [inp]
    steps = 1 + len(parts) + 1 + (report is not None)
    tally = _Tally()
    repeated: dict[str, list[object]] = {}
    with _Staging(out) as stage:
        (stage / FLAGGED).mkdir()
        for i, part in enumerate(parts):
            say(f"assessing prescriptions, part {i + 1} of {len(parts)}", 1 + i, steps)
            for name, ids in duplicate_ids(part).items():
                repeated.setdefault(name, []).extend(ids)
            if repeated:  # the remaining parts are only checked
                continue
            with assess_population(part, defs, tables, cutoff) as assessed:
                con.to_parquet(_flagged(assessed), stage / FLAGGED / f"part-{i:05d}.parquet")
                tally.add(assessed, defs)
        if repeated:
            raise AuditInputError(duplicate_problems(sources, repeated))
        say("summarising", 1 + len(parts), steps)
        summary = _summary(inp, tally, defs, backend, folder, cutoff)
        summary["outputs"] = {"flagged": str(out / FLAGGED), "summary": str(out / "summary.json")}
        if report is not None:
            summary["outputs"]["report"] = str(report)
        (stage / "summary.json").write_text(json.dumps(summary, indent=1, default=str) + "\n")
        if report is not None:
            say("drawing the report", steps - 1, steps)
            from gabaguide.audit.report import render_report

            html = render_report(summary, defs)
            tmp = report.with_name(f".{report.name}.tmp")
            tmp.write_text(html, encoding="utf-8")
            tmp.replace(report)
    return AuditResult(summary, out / FLAGGED, report)


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
    parts = [a.filter(a[col]).mutate(rule=ibis.literal(rule)) for rule, col in RULE_COLUMNS.items()]
    # Not sorted: sorting the wide rows took 40% of this step. Each part file holds a range of
    # patient ids, and the files follow each other in id order.
    return ibis.union(*parts).select(*FLAGGED_COLUMNS)


@dataclass
class _Tally:
    """The summary's counts added up over the parts (no patient is in two parts)."""

    population: Counter[str] = field(default_factory=Counter)
    tiers: Counter[str] = field(default_factory=Counter)
    by: dict[str, dict[str | None, Counter[str]]] = field(
        default_factory=lambda: {dim: {} for dim in DIMENSIONS}
    )

    def add(self, a: ir.Table, defs: AuditDefinitions) -> None:
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
        self.population.update(_counts(a.aggregate(**aggs).to_pyarrow().to_pylist()[0]))
        tiers = a.filter(a.f_overlap_opioid).group_by("mme_tier").aggregate(n=lambda t: t.count())
        for r in tiers.to_pyarrow().to_pylist():
            self.tiers[r["mme_tier"]] += r["n"]
        for dim in DIMENSIONS:
            counts = {"prescriptions": a.count()}
            counts |= {rule: a[col].cast("int64").sum() for rule, col in RULE_COLUMNS.items()}
            for r in a.group_by(dim).aggregate(**counts).to_pyarrow().to_pylist():
                label = r.pop(dim)
                key = None if label is None else str(label)[:7] if dim == "month" else str(label)
                self.by[dim].setdefault(key, Counter()).update(_counts(r))


def _counts(row: dict[str, Any]) -> dict[str, int]:
    return {k: int(v or 0) for k, v in row.items()}


def _summary(
    inp: Inputs,
    tally: _Tally,
    defs: AuditDefinitions,
    backend: str,
    folder: Path,
    cutoff: int,
) -> dict[str, Any]:
    row = tally.population
    counts = {
        name: table.count().to_pyarrow().as_py()
        for name, table in (
            ("patients", inp.patients),
            ("prescriptions", inp.prescriptions),
            ("labs", inp.labs),
        )
    }
    rules: dict[str, Any] = {}
    titles = {d.id: d.title for d in defs.definitions()}
    for rule, col in RULE_COLUMNS.items():
        n_rx = row[f"{col}__rx"]
        denominator = (
            "elderly_prescriptions" if rule in ELDERLY_RULES else ("gabapentinoid_prescriptions")
        )
        base = row[denominator]
        rules[rule] = {
            "title": titles[rule],
            "flagged_patients": row[f"{col}__pt"],
            "flagged_prescriptions": n_rx,
            "rate": round(n_rx / base, 6) if base else None,
            "denominator": denominator,
        }
    summary: dict[str, Any] = {
        "backend": backend,
        "input": {
            "folder": str(folder),
            **counts,
            "as_of": (_EPOCH + timedelta(days=cutoff)).isoformat(),
        },
        "population": {k: v for k, v in row.items() if "__" not in k},
        "rules": rules,
        "mme_tiers": dict(tally.tiers),
    }
    for dim in DIMENSIONS:
        by = tally.by[dim]
        ordered = sorted(by, key=lambda v: (v is None, v or ""))  # as SQL orders: nulls last
        summary[f"by_{dim}"] = [{dim: v, **by[v]} for v in ordered]
    return summary
