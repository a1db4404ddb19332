"""The ``gabaguide`` command: parse input, call the core, render. Nothing clinical happens here.

Exit codes: 0 done; 2 bad input (one line per problem on stderr, nothing on stdout); 1 a bug.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from datetime import UTC, date, datetime
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console

from gabaguide.auditcli import audit_app
from gabaguide.clinical.assess import assess as assess_patient
from gabaguide.clinical.assess import check_patient
from gabaguide.clinical.checks import interaction_check, schedule_report
from gabaguide.domain import (
    Assessment,
    InteractionsRequest,
    Patient,
    Routine,
    input_problems,
    parse_patient,
)
from gabaguide.errors import GabaguideError, InputError, KnowledgeError
from gabaguide.interop.ical import calendar_ics
from gabaguide.knowledge import Knowledge, load_knowledge
from gabaguide.knowledge.catalogue import search
from gabaguide.pkcli import fail, pk_app, simulate
from gabaguide.textreport import (
    DISCLAIMER,
    assessment_view,
    dispensing_table,
    facts_table,
    findings_table,
    schedule_table,
)

app = typer.Typer(
    name="gabaguide",
    help=(
        "Gabapentin therapy decision support: cited renal dosing, titration, taper and switch "
        "plans, interactions, safety screens, dose times and calendars."
    ),
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
            check_patient(k, patient)
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
    text = _read_source(source)
    k = load_knowledge()
    try:
        patients, single = read_patients(text, k)
    except InputError as exc:
        fail(exc.problems)
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


_DRUG_ARG = re.compile(r"^(?P<name>[^@]+?)(?:@(?P<dose>[0-9]+(?:\.[0-9]+)?)x(?P<times>[0-9]+))?$")


def _medication(arg: str, n: int) -> dict[str, object]:
    """'oxycodone', 'oxycodone@10x3' (10 mg three times a day) or an RxNorm code '1049621'."""
    m = _DRUG_ARG.match(arg.strip())
    if m is None or not m.group("name").strip() or ("@" in arg and not m.group("dose")):
        raise InputError([f"DRUG {n} must be NAME, NAME@MGxTIMES or an RxNorm code; got {arg!r}"])
    name = m.group("name").strip()
    med: dict[str, object] = {"name": name}
    if name.isdigit():
        med["rxcui"] = name
    if m.group("dose"):
        med["dose_mg"] = float(m.group("dose"))
        med["times_per_day"] = int(m.group("times"))
    return med


@app.command()
def interactions(
    drugs: Annotated[
        list[str],
        typer.Argument(
            help="Medicines: a name or brand ('Norco'), NAME@MGxTIMES for opioid MME "
            "('oxycodone@10x3'), or an RxNorm code."
        ),
    ],
    product: Annotated[str, typer.Option(help="Gabapentinoid to check against.")] = "gabapentin",
    alcohol: Annotated[bool, typer.Option("--alcohol", help="The patient drinks alcohol.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Quick interaction check of other medicines (and alcohol) with gabapentin."""
    k = load_knowledge()
    problems: list[str] = []
    meds = []
    for n, arg in enumerate(drugs, 1):
        try:
            meds.append(_medication(arg, n))
        except InputError as exc:
            problems.extend(exc.problems)
    request: InteractionsRequest | None = None
    try:
        request = InteractionsRequest.model_validate(
            {"medications": meds, "product": product, "alcohol_use": alcohol or None}
        )
        check = interaction_check(k, request)
    except ValidationError as exc:
        problems.extend(input_problems(exc))
    except InputError as exc:
        problems.extend(exc.problems)
    if problems or request is None:
        fail(problems)
    if as_json:
        print(check.model_dump_json(indent=2, exclude={"mme_parts"}))
        return
    console = Console()
    if check.mme_parts:
        total = "unknown" if check.mme_daily is None else f"{check.mme_daily:g}"
        console.print(f"Opioids: {total} MME/day " + "; ".join(check.mme_parts))
    if check.findings:
        console.print(findings_table(check.findings))
    else:
        console.print(
            f"No interactions with {k.product_by_id[check.product].name} in the knowledge base."
        )
    console.print(DISCLAIMER)


@app.command()
def schedule(
    source: Annotated[str, typer.Argument(help="One patient JSON file, or '-' for stdin.")],
    ics: Annotated[
        Path | None, typer.Option("--ics", help="Also write the doses to this iCalendar file.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Day 1 as YYYY-MM-DD (overrides routine.start_date).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of a table.")] = False,
) -> None:
    """Clock times for every planned dose, what to dispense, and an optional calendar file."""
    k = load_knowledge()
    if start is not None:
        try:
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", start):
                raise ValueError(start)
            date.fromisoformat(start)
        except ValueError:
            fail([f"--start must be a real calendar date YYYY-MM-DD; got {start!r}"])
    text = _read_source(source)
    try:
        patients, single = read_patients(text, k)
        if not single:
            raise InputError(["schedule takes one patient (a JSON object), not JSON Lines"])
        patient = patients[0]
        if start is not None:
            routine = (patient.routine or Routine()).model_dump() | {"start_date": start}
            patient = parse_patient(patient.model_dump(exclude_none=True) | {"routine": routine})
    except InputError as exc:
        fail(exc.problems)
    a = assess_patient(patient, k)
    if ics is not None and a.schedule:
        if any(d.date is None for d in a.schedule):
            fail(["--ics needs a start date: give routine.start_date or --start YYYY-MM-DD"])
        names = {p.id: p.name for p in k.products}
        stamp = datetime.now(UTC).replace(microsecond=0)
        data = calendar_ics(a.schedule, names, k.dosing.scheduling.reminder_minutes_before, stamp)
        try:
            ics.write_bytes(data)
        except OSError as exc:
            fail([f"--ics could not be written: {exc}"])
    if as_json:
        print(schedule_report(a).model_dump_json(indent=2))
        return
    console = Console()
    if not a.schedule:
        console.print("No doses planned for this patient; see `gabaguide assess` for why.")
        return
    console.print(schedule_table(a.schedule))
    console.print(dispensing_table(a.dispensing))
    notes = [f for f in a.findings if f.code.startswith(("schedule.", "interaction.antacid"))]
    if notes:
        console.print(findings_table(notes))
    if ics is not None:
        console.print(f"Calendar written to {ics} ({len(a.schedule)} doses).")
    console.print(DISCLAIMER)


def _read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        fail([f"FILE must be a readable file or '-'; got {source!r}"])
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail([f"FILE could not be read as UTF-8 text: {exc}"])


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
    found = search(k, query, kind)
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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[
        int, typer.Option(help="Worker processes (one core each; 1 = one process).", min=1, max=64)
    ] = 1,
) -> None:
    """Run the web app: assessment pages, education pages, JSON API, CDS Hooks (settings:
    GABAGUIDE_* env)."""
    # Imported here: the web stack costs every other command its start-up time.
    import uvicorn

    from gabaguide.web import Settings, create_app
    from gabaguide.web.security import access_log_config

    try:
        settings = Settings.from_env()
    except InputError as exc:
        fail(exc.problems)
    print(f"gabaguide: serving on http://{host}:{port} (database {settings.database_url})")
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "server_header": False,
        "log_config": access_log_config(),
    }
    if workers == 1:
        uvicorn.run(create_app(settings), **common)
    else:  # each worker builds the app from the same environment
        uvicorn.run("gabaguide.web.app:create_app", factory=True, workers=workers, **common)


app.add_typer(pk_app, name="pk")
app.add_typer(audit_app, name="audit")
app.command()(simulate)


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
