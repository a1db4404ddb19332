"""The ``gabaguide pk`` commands and ``gabaguide simulate``: parse, call :mod:`gabaguide.pk`, write."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from gabaguide.errors import InputError
from gabaguide.interop.nmcsv import columns, read_table, write_table
from gabaguide.pk.dataset import read_dataset, run_dataset

pk_app = typer.Typer(help="NONMEM-style data sets through the PK engine.", no_args_is_help=True)

_PARAM = re.compile(r"^(?P<name>[A-Za-z]+)=(?P<value>.+)$")
PK_RUN_PARAMS = ("CL", "V", "KA")


def fail(problems: tuple[str, ...] | list[str]) -> NoReturn:
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    raise typer.Exit(2)


def _params(given: list[str]) -> dict[str, float]:
    values: dict[str, float] = {}
    problems = []
    for text in given:
        m = _PARAM.match(text.strip())
        name = m["name"].upper() if m else ""
        if not m or name not in PK_RUN_PARAMS:
            problems.append(f"--param must be NAME=VALUE with NAME one of CL, V, KA; got {text!r}")
            continue
        try:
            values[name] = float(m["value"])
        except ValueError:
            problems.append(f"--param {name} must be a number; got {m['value']!r}")
    problems += [f"--param {name}=… is required" for name in PK_RUN_PARAMS if name not in values]
    if problems:
        raise InputError(problems)
    return values


@pk_app.command("run")
def run(
    data: Annotated[Path, typer.Argument(help="NONMEM-style CSV: ID TIME EVID AMT CMT [II ADDL SS RATE F1 F2 ALAG1 ALAG2 R1 R2 D1 D2].")],
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
        fail([f"DATA must be a readable UTF-8 CSV file; got {str(data)!r} ({exc.__class__.__name__})"])
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
