"""NONMEM-style data sets as CSV text: read them into columns, write them back with ``CP``."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence

from gabaguide.errors import InputError

CP = "CP"


def read_table(text: str) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of a CSV data set; every row must have the header's width."""
    rows = [
        row for row in csv.reader(io.StringIO(text)) if row and any(cell.strip() for cell in row)
    ]
    if not rows:
        raise InputError(
            ["DATA must have a header row and at least one data row; got an empty file"]
        )
    header, body = [name.strip() for name in rows[0]], rows[1:]
    problems = [
        f"row {n}: has {len(row)} cells; the header has {len(header)}"
        for n, row in enumerate(body, start=1)
        if len(row) != len(header)
    ]
    if not body:
        problems.append("DATA must have at least one data row after the header")
    if len({h.upper() for h in header}) != len(header):
        problems.append("DATA header names each column once (names are not case-sensitive)")
    if problems:
        raise InputError(problems[:20])
    return header, body


def columns(header: list[str], body: list[list[str]]) -> dict[str, list[str]]:
    return {name: [row[i] for row in body] for i, name in enumerate(header)}


def write_table(header: list[str], body: list[list[str]], cp: Sequence[float]) -> str:
    """The data set with a ``CP`` column (replacing one already there), blank where not observed."""
    upper = [h.upper() for h in header]
    at = upper.index(CP) if CP in upper else None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header if at is not None else [*header, CP])
    for row, value in zip(body, cp, strict=True):
        cell = "" if math.isnan(value) else format(value, ".10g")
        writer.writerow([*row[:at], cell, *row[at + 1 :]] if at is not None else [*row, cell])
    return out.getvalue()
