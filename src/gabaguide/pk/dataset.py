"""NONMEM-style data sets: validate the columns once, then turn each subject into engine events.

Columns (names in any case): ``ID TIME EVID AMT CMT`` are required; ``II ADDL SS RATE`` default to
0; ``F1 F2`` (bioavailability) default to 1; ``ALAG1 ALAG2`` (lag time), ``R1 R2`` (modelled rate,
used when ``RATE = -1``) and ``D1 D2`` (modelled duration, ``RATE = -2``) default to 0. The items
of a dose are read from its own row, for the compartment ``CMT`` it goes into (1 depot,
2 central). Other columns are carried through untouched.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gabaguide.errors import InputError
from gabaguide.pk.engine import Dose, Event, Evid, Kinetics, solve
from gabaguide.pk.transfer import Array

REQUIRED = ("ID", "TIME", "EVID", "AMT", "CMT")
DEFAULTS: dict[str, float] = {
    "II": 0.0, "ADDL": 0.0, "SS": 0.0, "RATE": 0.0,
    "F1": 1.0, "F2": 1.0, "ALAG1": 0.0, "ALAG2": 0.0, "R1": 0.0, "R2": 0.0, "D1": 0.0, "D2": 0.0,
}  # fmt: skip
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class Dataset:
    """Validated numeric columns (upper-case names), one entry per row, in data order."""

    columns: dict[str, Array]

    @property
    def n_rows(self) -> int:
        return int(self.columns["ID"].shape[0])

    def subjects(self) -> list[tuple[float, np.ndarray]]:
        """(ID, row indices) for each subject, in order of first appearance."""
        ids = self.columns["ID"]
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        ends = np.r_[starts[1:], ids.shape[0]]
        return [(float(ids[s]), np.arange(s, e)) for s, e in zip(starts, ends, strict=True)]


def read_dataset(table: Mapping[str, Sequence[str]]) -> Dataset:
    """Validate a table of text cells (column name -> cells); raise :class:`InputError` listing
    each bad cell by row (1 = first data row) and column, with the allowed values."""
    by_upper = {name.strip().upper(): cells for name, cells in table.items()}
    problems = [f"column {name} is required" for name in REQUIRED if name not in by_upper]
    if problems:
        raise InputError(problems)
    n = len(by_upper["ID"])
    columns: dict[str, Array] = {}
    for name in (*REQUIRED, *DEFAULTS):
        cells = by_upper.get(name)
        if cells is None:
            columns[name] = np.full(n, DEFAULTS[name])
            continue
        values = np.empty(n)
        for row, cell in enumerate(cells):
            text = cell.strip()
            if text in ("", ".") and name in DEFAULTS:
                values[row] = DEFAULTS[name]
                continue
            try:
                values[row] = float(text)
            except ValueError:
                values[row] = math.nan
            if not math.isfinite(values[row]):
                problems.append(f"row {row + 1}: {name} must be a number; got {cell!r}")
        columns[name] = values
    if not problems:
        problems = _rule_problems(columns)
    if problems:
        extra = len(problems) - MAX_PROBLEMS
        raise InputError(problems[:MAX_PROBLEMS] + ([f"… and {extra} more"] if extra > 0 else []))
    return Dataset(columns)


def _rule_problems(c: dict[str, Array]) -> list[str]:
    problems: list[str] = []

    def check(mask: np.ndarray, message: str, column: str) -> None:
        for row in np.flatnonzero(mask):
            problems.append(f"row {row + 1}: {message}; got {c[column][row]:g}")

    dose = np.isin(c["EVID"], (1, 4))
    check(~np.isin(c["EVID"], (0, 1, 2, 3, 4)), "EVID must be 0, 1, 2, 3 or 4", "EVID")
    check(~np.isin(c["CMT"], (1, 2)), "CMT must be 1 (depot) or 2 (central)", "CMT")
    check(c["TIME"] < 0, "TIME must be 0 or more hours", "TIME")
    for name in ("AMT", "II", "ALAG1", "ALAG2", "R1", "R2", "D1", "D2", "F1", "F2"):
        check(c[name] < 0, f"{name} must be 0 or more", name)
    check(
        (c["ADDL"] < 0) | (c["ADDL"] != np.round(c["ADDL"])),
        "ADDL must be a whole number ≥ 0",
        "ADDL",
    )
    check(~np.isin(c["SS"], (0, 1, 2)), "SS must be 0, 1 or 2", "SS")
    check((c["RATE"] < 0) & ~np.isin(c["RATE"], (-1, -2)), "RATE must be ≥ 0, -1 or -2", "RATE")
    check(dose & (c["ADDL"] > 0) & (c["II"] <= 0), "II must be > 0 when ADDL is given", "II")
    steady_infusion = (c["AMT"] == 0) & (c["RATE"] > 0) & (c["II"] == 0)
    check(
        dose & (c["SS"] > 0) & (c["II"] <= 0) & ~steady_infusion,
        "II must be > 0 for a steady-state dose (or AMT 0 with RATE > 0 for a steady infusion)",
        "II",
    )
    check(
        dose & (c["AMT"] == 0) & (c["RATE"] > 0) & ~((c["SS"] == 1) & (c["II"] == 0)),
        "AMT must be > 0 for an infusion (AMT 0 is allowed only with SS 1 and II 0)",
        "AMT",
    )
    central = c["CMT"] == 2
    modelled_rate = np.where(central, c["R2"], c["R1"])
    modelled_duration = np.where(central, c["D2"], c["D1"])
    check(
        dose & (c["RATE"] == -1) & (modelled_rate <= 0), "R1/R2 must be > 0 when RATE is -1", "RATE"
    )
    check(
        dose & (c["RATE"] == -2) & (modelled_duration <= 0),
        "D1/D2 must be > 0 when RATE is -2",
        "RATE",
    )
    subjects = Dataset(c).subjects()
    for _, rows in subjects:
        times = c["TIME"][rows]
        for i in np.flatnonzero(np.diff(times) < 0):
            row = rows[i + 1]
            problems.append(
                f"row {row + 1}: TIME must not decrease within subject ID {c['ID'][row]:g}; "
                f"got {times[i + 1]:g} after {times[i]:g}"
            )
    if np.unique(c["ID"]).shape[0] != len(subjects):
        problems.append("ID: each subject's rows must be contiguous")
    return problems


def _dose(c: dict[str, Array], row: int) -> Dose:
    cmt = int(c["CMT"][row])
    rate_code = c["RATE"][row]
    rate = c[f"R{cmt}"][row] if rate_code == -1 else max(rate_code, 0.0)
    return Dose(
        cmt=cmt,
        amount=float(c["AMT"][row]),
        f=float(c[f"F{cmt}"][row]),
        lag=float(c[f"ALAG{cmt}"][row]),
        rate=float(rate),
        duration=float(c[f"D{cmt}"][row]) if rate_code == -2 else 0.0,
        ii=float(c["II"][row]),
        addl=int(c["ADDL"][row]),
        ss=int(c["SS"][row]),
    )


def subject_events(data: Dataset, rows: np.ndarray) -> list[Event]:
    """The engine events of one subject; observation and EVID 2 rows get an output slot each
    (their position among the subject's rows)."""
    c = data.columns
    events = []
    for slot, row in enumerate(rows):
        evid = Evid(int(c["EVID"][row]))
        dose = _dose(c, int(row)) if evid in (Evid.DOSE, Evid.RESET_AND_DOSE) else None
        output = slot if evid in (Evid.OBSERVATION, Evid.OTHER) else None
        events.append(Event(time=float(c["TIME"][row]), evid=evid, dose=dose, output=output))
    return events


def run_dataset(data: Dataset, cl: float, v: float, ka: float) -> Array:
    """``CP`` (central amount / V) for every row; NaN on dose and reset rows."""
    problems = [
        f"{name} must be > 0; got {value:g}"
        for name, value in (("CL", cl), ("V", v), ("KA", ka))
        if not (math.isfinite(value) and value > 0)
    ]
    if problems:
        raise InputError(problems)
    cp = np.full(data.n_rows, np.nan)
    kinetics = Kinetics(ka=np.array([ka]), k_by_phase=(np.array([cl / v]),), v=np.array([v]))
    for _, rows in data.subjects():
        events = subject_events(data, rows)
        amounts = solve(events, kinetics, n_outputs=rows.shape[0])[:, 0]
        observed = np.array([e.output is not None for e in events])
        cp[rows[observed]] = amounts[observed] / v
    return cp
