"""The ``gabaguide pk`` commands and ``gabaguide simulate``: parse, call :mod:`gabaguide.pk`, write."""

from __future__ import annotations

import json
import math
import re
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console

from gabaguide.errors import InputError
from gabaguide.interop.nmcsv import columns, read_table, write_table
from gabaguide.knowledge import load_knowledge
from gabaguide.pk import simulate_regimen
from gabaguide.pk.dataset import read_dataset, run_dataset
from gabaguide.pk.summary import simulations_document
from gabaguide.textreport import DISCLAIMER, simulation_view

pk_app = typer.Typer(help="NONMEM-style data sets through the PK engine.", no_args_is_help=True)

_PARAM = re.compile(r"^(?P<name>[A-Za-z]+)=(?P<value>.+)$")
PK_RUN_PARAMS = ("CL", "V", "KA")
PLOT_SUFFIXES = (".png", ".svg", ".html")


class DrugName(StrEnum):
    gabapentin = "gabapentin"
    pregabalin = "pregabalin"


class SexName(StrEnum):
    female = "female"
    male = "male"


def fail(problems: tuple[str, ...] | list[str]) -> NoReturn:
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    raise typer.Exit(2)


def _params(given: list[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    seen: set[str] = set()
    problems = []
    for text in given:
        m = _PARAM.match(text.strip())
        name = m["name"].upper() if m else ""
        if not m or name not in PK_RUN_PARAMS:
            problems.append(f"--param must be NAME=VALUE with NAME one of CL, V, KA; got {text!r}")
            continue
        seen.add(name)
        try:
            values[name] = float(m["value"])
        except ValueError:
            problems.append(f"--param {name} must be a number; got {m['value']!r}")
    problems += [f"--param {name}=… is required" for name in PK_RUN_PARAMS if name not in seen]
    problems += [
        f"--param {name} must be more than 0; got {value:g}"
        for name, value in values.items()
        if not (math.isfinite(value) and value > 0)
    ]
    if problems:
        raise InputError(problems)
    return values


@pk_app.command("run")
def run(
    data: Annotated[
        Path,
        typer.Argument(
            help="NONMEM-style CSV: ID TIME EVID AMT CMT [II ADDL SS RATE F1 F2 ALAG1 ALAG2 R1 R2 D1 D2]."
        ),
    ],
    param: Annotated[
        list[str],
        typer.Option("--param", help="CL=… (volume/h), V=… (volume), KA=… (1/h); repeat for each."),
    ],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Predict CP = central amount / V on every observation row of a NONMEM-style data set."""
    try:
        text = data.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(
            [
                f"DATA must be a readable UTF-8 CSV file; got {str(data)!r} ({exc.__class__.__name__})"
            ]
        )
    try:
        p = _params(param)
        header, body = read_table(text)
        cp = run_dataset(read_dataset(columns(header, body)), cl=p["CL"], v=p["V"], ka=p["KA"])
    except InputError as exc:
        fail(exc.problems)
    result = write_table(header, body, cp.tolist())
    if output is None:
        sys.stdout.write(result)
        return
    try:
        output.write_text(result, encoding="utf-8")
    except OSError as exc:
        fail([f"--output could not be written: {exc}"])


def _csv_list(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip()) if text else ()


def _days(text: str | None) -> tuple[int, ...]:
    days = []
    for t in _csv_list(text):
        if not t.isdigit():
            raise InputError(
                [f"--dialysis-days must be day numbers like 0,2,4 (day 0 is the first); got {t!r}"]
            )
        days.append(int(t))
    return tuple(days)


def simulate(
    regimen: Annotated[str, typer.Option(help="The regimen, e.g. '400 mg TID', '300 mg q8h'.")],
    crcl: Annotated[
        list[float],
        typer.Option(
            help="Creatinine clearance, mL/min (required); repeat to compare, e.g. --crcl 90 --crcl 25."
        ),
    ],
    drug: Annotated[DrugName, typer.Option(help="gabapentin or pregabalin.")] = DrugName.gabapentin,
    days: Annotated[
        int, typer.Option(help="Days to simulate; the last day is the steady state.")
    ] = 7,
    n: Annotated[
        int, typer.Option(help="Virtual patients (1 = the typical patient, no variability).")
    ] = 1,
    seed: Annotated[int, typer.Option(help="Random seed for the population (n > 1).")] = 1,
    times: Annotated[
        str | None, typer.Option(help="Dose clock times, e.g. 08:00,14:00,22:00.")
    ] = None,
    weight: Annotated[
        float | None, typer.Option(help="Body weight, kg (pregabalin model).")
    ] = None,
    sex: Annotated[SexName | None, typer.Option(help="female or male (pregabalin model).")] = None,
    antacid: Annotated[
        str | None, typer.Option(help="Al/Mg antacid clock times, e.g. 13:00,21:00.")
    ] = None,
    dialysis_days: Annotated[
        str | None,
        typer.Option(help="Hemodialysis on these days, 0 = first, e.g. 0,2,4 (gabapentin)."),
    ] = None,
    dialysis_start: Annotated[
        str, typer.Option(help="Clock time dialysis sessions start.")
    ] = "08:00",
    after_dialysis: Annotated[
        float, typer.Option(help="Supplemental dose after each session, mg.")
    ] = 0.0,
    above: Annotated[
        list[float] | None,
        typer.Option(help="Report the share of patients above this mg/L (repeatable)."),
    ] = None,
    grid_minutes: Annotated[float, typer.Option(help="Time grid, minutes.")] = 15.0,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of tables.")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="Also draw the curves: .png, .svg or .html.")
    ] = None,
) -> None:
    """Simulate plasma concentrations of a regimen: typical curve or population percentiles, with
    steady-state Cmax, Cmin, Cavg, AUC, bioavailability, half-life and time to steady state."""
    k = load_knowledge()
    try:
        if plot is not None and plot.suffix.lower() not in PLOT_SUFFIXES:
            raise InputError([f"--plot must end in .png, .svg or .html; got {plot.name!r}"])
        if len(set(crcl)) != len(crcl):
            raise InputError([f"--crcl values must be different to compare; got {crcl}"])
        sims = [
            (
                f"CrCl {value:g} mL/min",
                simulate_regimen(
                    drug.value,
                    regimen,
                    value,
                    days=days,
                    n=n,
                    seed=seed,
                    times=_csv_list(times),
                    weight_kg=weight,
                    sex=None if sex is None else sex.value,
                    antacid_times=_csv_list(antacid),
                    dialysis_days=_days(dialysis_days),
                    dialysis_start=dialysis_start,
                    after_dialysis_mg=after_dialysis,
                    thresholds_mg_l=tuple(above or ()),
                    grid_minutes=grid_minutes,
                    knowledge=k,
                    times_field="--times",
                ),
            )
            for value in crcl
        ]
    except InputError as exc:
        fail(exc.problems)
    if plot is not None:
        # Imported here: Altair costs every other command about 0.15 s of start-up.
        from gabaguide.interop.pkplot import concentration_chart, render

        try:
            render(concentration_chart(sims), plot)
        except InputError as exc:
            fail(exc.problems)
        except OSError as exc:
            fail([f"--plot could not be written: {exc}"])
    if as_json:
        sys.stdout.write(
            json.dumps(simulations_document(sims) | {"disclaimer": DISCLAIMER}, indent=2) + "\n"
        )
        return
    console = Console()
    for label, sim in sims:
        console.print(simulation_view(label, sim))
    if plot is not None:
        console.print(f"Plot written to {plot}.")
    console.print(DISCLAIMER)
