"""The ``gabaguide`` command: parse input, call the core, render. Nothing clinical happens here.

Exit codes: 0 done; 2 bad input (one line per problem on stderr, nothing on stdout); 1 a bug.
"""

from __future__ import annotations

import gc
import json
import sys
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from gabaguide.clinical.assess import assess as assess_patient
from gabaguide.clinical.assess import resolve_products
from gabaguide.domain import Assessment, Patient, input_problems
from gabaguide.errors import GabaguideError, InputError, KnowledgeError
from gabaguide.knowledge import Knowledge, load_knowledge
from gabaguide.textreport import DISCLAIMER, assessment_view, facts, facts_table

app = typer.Typer(
    name="gabaguide",
    help="Gabapentin therapy decision support: cited renal dosing, titration and taper plans.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    json = "json"
    table = "table"


class SchemaName(StrEnum):
    patient = "patient"
    assessment = "assessment"


def _fail(problems: tuple[str, ...] | list[str]) -> NoReturn:
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    raise typer.Exit(2)


def read_patients(text: str, k: Knowledge) -> tuple[list[Patient], bool]:
    """One JSON object, or JSON Lines (one patient per line), each validated and its product
    references checked: (patients, whether the input was a single object). InputError lists every
    problem, with line numbers for JSON Lines."""
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise InputError(
            ["input is empty: give one JSON object or JSON Lines (one patient per line)"]
        )
    single = len(lines) == 1
    if not single:
        try:
            json.loads(text)
            single = True
        except json.JSONDecodeError:
            single = False
    chunks = [(None, text)] if single else lines
    patients: list[Patient] = []
    problems: list[str] = []
    for n, chunk in chunks:
        where = "" if n is None else f"line {n}: "
        try:
            patient = Patient.model_validate_json(chunk)
            resolve_products(k, patient)
            patients.append(patient)
        except ValidationError as exc:
            problems.extend(where + p for p in input_problems(exc))
        except InputError as exc:
            problems.extend(where + p for p in exc.problems)
    if problems:
        raise InputError(problems)
    return patients, single


@app.command()
def assess(
    source: Annotated[
        str, typer.Argument(help="Patient JSON file, JSON Lines file, or '-' for stdin.")
    ],
    output_format: Annotated[
        OutputFormat, typer.Option("--format", help="json or table.")
    ] = OutputFormat.json,
) -> None:
    """Assess patients: kidney function, label band, titration, maximum, taper, cited findings."""
    if source == "-":
        text = sys.stdin.read()
    else:
        path = Path(source)
        if not path.is_file():
            _fail([f"FILE must be a readable file or '-'; got {source!r}"])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail([f"FILE could not be read as UTF-8 text: {exc}"])
    k = load_knowledge()
    try:
        patients, single = read_patients(text, k)
    except InputError as exc:
        _fail(exc.problems)
    # Everything is validated: nothing below can be bad input. The parsed batch stays alive to
    # the end, so take it out of the garbage collector's scans (measured: about 40 % of batch time).
    gc.freeze()
    if output_format is OutputFormat.table:
        console = Console()
        for patient in patients:
            console.print(assessment_view(assess_patient(patient, k)))
    elif single:
        sys.stdout.write(assess_patient(patients[0], k).model_dump_json(indent=2) + "\n")
    else:
        write = sys.stdout.write
        for patient in patients:
            write(assess_patient(patient, k).model_dump_json() + "\n")


@app.command()
def schema(name: Annotated[SchemaName, typer.Argument(help="patient or assessment")]) -> None:
    """Print the JSON Schema of the patient input or of the assessment output."""
    model = Patient if name is SchemaName.patient else Assessment
    print(json.dumps(model.model_json_schema(), indent=2))


@app.command()
def kb(
    query: Annotated[
        str | None, typer.Argument(help="Words to search for (all must match).")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="Only this kind, e.g. renal, dosing, warning, pk.")
    ] = None,
    sources: Annotated[bool, typer.Option("--sources", help="List the sources instead.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON Lines instead of a table.")] = False,
) -> None:
    """List and search the knowledge base: every fact with its sources."""
    k = load_knowledge()
    if sources:
        rows = [s.model_dump() for s in k.sources]
        if as_json:
            sys.stdout.writelines(json.dumps(r) + "\n" for r in rows)
        else:
            for s in k.sources:
                print(f"{s.id}\t[{s.kind}] {s.title}. {s.document}. {s.url or ''}".rstrip())
        return
    words = (query or "").lower().split()
    found = [
        f
        for f in facts(k)
        if (kind is None or f.kind == kind)
        and all(w in f"{f.kind} {f.id} {f.text}".lower() for w in words)
    ]
    if as_json:
        sys.stdout.writelines(
            json.dumps(
                {
                    "kind": f.kind,
                    "id": f.id,
                    "text": f.text,
                    "citations": [c.model_dump() for c in f.citations],
                }
            )
            + "\n"
            for f in found
        )
        return
    Console().print(facts_table(found, k))
    print(f"{len(found)} fact(s)")


@app.command()
def demo() -> None:
    """Assess the bundled example patients and show them as tables."""
    text = (files("gabaguide.examples") / "patients.jsonl").read_text(encoding="utf-8")
    k = load_knowledge()
    results = [assess_patient(p, k) for p in read_patients(text, k)[0]]
    console = Console()
    console.print(
        "[bold]gabaguide demo[/bold]: the bundled example patients "
        "(src/gabaguide/examples/patients.jsonl), assessed with `gabaguide assess --format table`."
    )
    for a in results:
        console.print(assessment_view(a))
    console.print(DISCLAIMER)


def main() -> None:
    """Console-script entry point: errors become messages and exit codes, never tracebacks."""
    try:
        app()
    except KnowledgeError as exc:  # the packaged knowledge is broken: a bug, not bad input
        for p in exc.problems:
            print(f"internal error (knowledge base): {p}", file=sys.stderr)
        sys.exit(1)
    except GabaguideError as exc:  # pragma: no cover - commands translate their own
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        print(
            f"internal error (a bug in gabaguide, please report it): {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        sys.exit(1)
