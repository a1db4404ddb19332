"""Renal tables read as grids: a regimen at normal kidney function (a column) and its equivalent
in the patient's kidney-function row.

Neurontin's Table 1 and Lyrica's renal table print one column per usual regimen at normal function
(gabapentin 900 / 1200 / 1800 / 2400 / 3600 mg/day; pregabalin 150 / 300 / 450 / 600 mg/day) and,
in each row below it, the regimen that gives the same exposure. Every daily dose the planner writes
for a patient with impaired kidneys (start, each titration step, target, maximum, a CDS corrected
order, a switch) is read through this one mapping:

* a normal-function dose on a printed column gets that column's entry in the row;
* between two printed columns it gets the column at or below it (never more exposure than meant);
* below the first column it is scaled from the first column (``daily x first_row / first_normal``);
* the row's first column is where a start in renal impairment begins, unless the target is lower.

The hemodialysis supplements are paired by the same column index. Which column a regimen sits in
is what :class:`ColumnReading` records, so every shell can say "column 3 of 5".
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from math import isclose

from gabaguide.domain import Citation
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import HemodialysisSupplement

from .renal import RenalRange


@dataclass(frozen=True)
class Grid:
    """One row of a renal table against the normal-function columns (daily mg, one per column)."""

    normal_daily_mg: tuple[float, ...]
    row_daily_mg: tuple[float, ...]
    row_label: str
    citations: tuple[Citation, ...]

    def __post_init__(self) -> None:
        if len(self.normal_daily_mg) != len(self.row_daily_mg) or not self.normal_daily_mg:
            raise ValueError("a grid row needs one entry per normal-function column")

    @property
    def is_normal(self) -> bool:
        """The row is the normal-function row itself: every dose maps to itself."""
        return all(
            isclose(a, b) for a, b in zip(self.normal_daily_mg, self.row_daily_mg, strict=True)
        )

    @property
    def first_normal_mg(self) -> float:
        return self.normal_daily_mg[0]

    def read(self, normal_daily_mg: float) -> ColumnReading:
        """The row's equivalent of a daily dose meant at normal kidney function."""
        cols = self.normal_daily_mg
        if self.is_normal:
            index = max(bisect_right(cols, normal_daily_mg + 1e-9) - 1, 0)
            return ColumnReading(
                self, normal_daily_mg, index, normal_daily_mg, on_column=_on(cols, normal_daily_mg)
            )
        if normal_daily_mg < cols[0] - 1e-9:
            scaled = self.row_daily_mg[0] * normal_daily_mg / cols[0]
            return ColumnReading(self, normal_daily_mg, 0, scaled, on_column=False, below=True)
        index = bisect_right(cols, normal_daily_mg + 1e-9) - 1
        return ColumnReading(
            self,
            normal_daily_mg,
            index,
            self.row_daily_mg[index],
            on_column=_on(cols, normal_daily_mg),
        )

    def read_back(self, row_daily_mg: float) -> float:
        """The normal-function daily dose a dose taken in this row stands for: the column at or
        below it (scaled from the first column below it), never more than meant."""
        if self.is_normal:
            return row_daily_mg
        row = self.row_daily_mg
        if row_daily_mg < row[0] - 1e-9:
            return self.normal_daily_mg[0] * row_daily_mg / row[0]
        index = bisect_right(row, row_daily_mg + 1e-9) - 1
        return self.normal_daily_mg[index]

    def start_mg(self, target_normal_mg: float) -> float:
        """The normal-function dose a start maps from: the first column, or the target if lower."""
        return min(self.first_normal_mg, target_normal_mg)


@dataclass(frozen=True)
class ColumnReading:
    """Where a normal-function daily dose falls in the grid, and its equivalent in the row."""

    grid: Grid
    normal_daily_mg: float
    index: int
    row_daily_mg: float
    on_column: bool
    below: bool = False

    @property
    def column_normal_mg(self) -> float:
        return self.grid.normal_daily_mg[self.index]

    def describe(self) -> str:
        """One sentence: '1800 mg/day at normal kidney function = 800 mg/day at CrCl >30 to 59
        (column 3 of 5)'."""
        g = self.grid
        where = f"column {self.index + 1} of {len(g.normal_daily_mg)}"
        if self.below:
            how = f"scaled from column 1 ({g.normal_daily_mg[0]:g} -> {g.row_daily_mg[0]:g} mg/day)"
        elif self.on_column:
            how = where
        else:
            how = f"{where}, the printed column at or below {self.normal_daily_mg:g} mg/day"
        return (
            f"{self.normal_daily_mg:g} mg/day at normal kidney function = "
            f"{self.row_daily_mg:g} mg/day at CrCl {g.row_label} ({how})"
        )


def _on(cols: tuple[float, ...], x: float) -> bool:
    return any(isclose(c, x) for c in cols)


def normal_row(k: Knowledge, product: str, indication: str | None) -> RenalRange | None:
    """The product's normal-function row (no upper CrCl edge), when its table prints columns."""
    for band in k.bands_for(product, indication):
        if band.dialysis == "none" and band.crcl_max is None and band.regimen_options_mg:
            assert band.doses_per_day is not None
            return RenalRange(
                band=band,
                daily_min_mg=band.daily_min_mg,
                daily_max_mg=band.daily_max_mg,
                doses_per_day=band.doses_per_day,
                every_n_days=band.every_n_days,
                proportional=None,
                in_gap=False,
                regimen_options_mg=band.regimen_options_mg,
            )
    return None


def grid_for(
    k: Knowledge, product: str, indication: str | None, rng: RenalRange | None
) -> Grid | None:
    """The grid row for a renal range whose table prints columns (None for Gralise, Horizant, an
    avoided product, or unknown kidney function)."""
    if rng is None or rng.avoid or not rng.regimen_options_mg or rng.doses_per_day is None:
        return None
    normal = normal_row(k, product, indication)
    if normal is None or normal.doses_per_day is None:
        return None
    if len(normal.regimen_options_mg) != len(rng.regimen_options_mg):
        return None
    return Grid(
        normal_daily_mg=tuple(o * normal.doses_per_day for o in normal.regimen_options_mg),
        row_daily_mg=tuple(o * rng.doses_per_day for o in rng.regimen_options_mg),
        row_label=rng.label,
        citations=rng.citations,
    )


def supplement_for_column(k: Knowledge, product: str, index: int) -> HemodialysisSupplement | None:
    """The post-hemodialysis supplement printed in the same column as the regimen."""
    rows = sorted(
        (h for h in k.renal.hemodialysis_supplements if h.product == product),
        key=lambda h: h.maintenance_mg,
    )
    return rows[index] if 0 <= index < len(rows) else None
