"""The ``gabaguide audit`` commands: generate data, convert a FHIR Bulk export, run the audit."""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from gabaguide.audit.contract import AuditInputError
from gabaguide.knowledge import load_knowledge
from gabaguide.pkcli import fail

audit_app = typer.Typer(
    help="Population audit: the same rules over a health system's prescriptions.",
    no_args_is_help=True,
)


class BackendName(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


def _progress(enabled: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )


@audit_app.command()
def synth(
    patients: Annotated[int, typer.Option(min=1, max=100_000_000, help="Patients to generate.")],
    out: Annotated[Path, typer.Option(help="Folder to write patients/, prescriptions/, labs/.")],
    seed: Annotated[int, typer.Option(min=0, help="Random seed (same seed, same data).")] = 1,
    chunk: Annotated[int, typer.Option(min=1000, help="Patients per Parquet part file.")] = 500_000,
) -> None:
    """Generate a realistic, seeded test population as Parquet part files."""
    from gabaguide.audit.synth import synthesise

    if out.exists() and any(out.iterdir()):
        fail([f"--out {out}: the folder exists and is not empty"])
    with _progress(sys.stderr.isatty()) as bar:
        task = bar.add_task("generating", total=patients)
        rows = synthesise(
            load_knowledge(), patients, seed, out, chunk, lambda n: bar.advance(task, n)
        )
    print(json.dumps({"out": str(out), "seed": seed, "rows": rows}))


@audit_app.command("from-fhir")
def from_fhir(
    source: Annotated[Path, typer.Argument(help="Folder of a FHIR Bulk Data export (NDJSON).")],
    out: Annotated[Path, typer.Option(help="Folder to write the audit's three tables.")],
) -> None:
    """Convert a FHIR Bulk Data export (Patient, MedicationRequest, Observation) to the input."""
    from gabaguide.audit.fhirbulk import convert_bulk

    try:
        rows = convert_bulk(load_knowledge(), source, out)
    except AuditInputError as exc:
        fail(exc.problems)
    print(json.dumps({"out": str(out), "rows": rows}))


@audit_app.command()
def run(
    folder: Annotated[Path, typer.Argument(help="Folder with patients, prescriptions and labs.")],
    backend: Annotated[BackendName, typer.Option(help="duckdb (embedded) or spark.")] = (
        BackendName.duckdb
    ),
    out: Annotated[Path, typer.Option(help="Folder for flagged.parquet and summary.json.")] = Path(
        "audit-results"
    ),
    report: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    as_of: Annotated[
        str | None, typer.Option(help="Data as of YYYY-MM-DD (default: the latest date in it).")
    ] = None,
) -> None:
    """Run every rule over the folder's data; bad input changes nothing (exit 2)."""
    from gabaguide.audit.run import run_audit

    problems = []
    cutoff = None
    if as_of is not None:
        try:
            cutoff = date.fromisoformat(as_of)
        except ValueError:
            problems.append(f"--as-of must be a date YYYY-MM-DD; got {as_of!r}")
    if report is not None and report.suffix.lower() != ".html":
        problems.append(f"--report must end in .html; got {report.name!r}")
    if report is not None and not report.parent.is_dir():
        problems.append(f"--report {report}: the folder {report.parent} does not exist")
    if problems:
        fail(problems)
    with _progress(sys.stderr.isatty()) as bar:
        task = bar.add_task("audit", total=None)

        def step(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        try:
            result = run_audit(
                load_knowledge(),
                folder,
                out,
                backend=backend.value,
                report=report,
                as_of=cutoff,
                step=step,
            )
        except AuditInputError as exc:
            fail(exc.problems)
        bar.update(task, description="done", completed=bar.tasks[0].total)
    if as_json:
        print(json.dumps(result.summary, indent=1, default=str))
        return
    _print_summary(result.summary)


def _print_summary(summary: dict[str, object]) -> None:
    table = Table(title="Gabapentinoid prescribing audit")
    for col in ("rule", "patients", "prescriptions", "rate"):
        table.add_column(col, justify="left" if col == "rule" else "right")
    rules = summary["rules"]
    assert isinstance(rules, dict)
    for rid, r in rules.items():
        rate = "n/a" if r["rate"] is None else f"{100 * r['rate']:.2f}%"
        table.add_row(rid, f"{r['flagged_patients']:,}", f"{r['flagged_prescriptions']:,}", rate)
    console = Console()
    console.print(table)
    outputs = summary["outputs"]
    assert isinstance(outputs, dict)
    for name, path in outputs.items():
        console.print(f"{name}: {path}")
