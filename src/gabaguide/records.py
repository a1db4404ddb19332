"""Diary domain types: what a patient writes down each day, their personal plan, and what gabaguide
makes of it (outcomes, red-flag alerts, supply, missed-dose advice).

Like :mod:`gabaguide.domain`, input is validated here once. The numeric limits are plausibility
limits of input; the scales, thresholds and checklists come from the knowledge base (``diary.toml``)
and are checked against it by :mod:`gabaguide.clinical.diary`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict

from gabaguide.domain import (
    CalendarDate,
    Citation,
    DispenseLine,
    Patient,
    ScheduledDose,
    ShortText,
    Weekday,
)

_INPUT = ConfigDict(extra="forbid", frozen=True)
_OUTPUT = ConfigDict(extra="forbid", frozen=True)

StrictInt = Annotated[int, Strict()]
NOTE_MAX_CHARS = 500
"""A diary note's length limit (input plausibility)."""


class DiaryEntry(BaseModel):
    """One day of a patient's diary. Scales and checklist ids are checked against the knowledge
    base by :func:`gabaguide.clinical.diary.check_entry`."""

    model_config = _INPUT

    day: CalendarDate = Field(description="The day the entry is about.")
    pain: StrictInt = Field(description="Pain today on the knowledge base's 0-10 scale.")
    sleep_interference: StrictInt | None = Field(
        None, description="How much pain got in the way of sleep, on the same kind of scale."
    )
    doses_taken: StrictInt | None = Field(
        None, ge=0, le=24, description="Doses of the plan taken that day (none recorded: unknown)."
    )
    side_effects: tuple[ShortText, ...] = Field(
        (), max_length=30, description="Side-effect checklist ids from the knowledge base."
    )
    red_flags: tuple[ShortText, ...] = Field(
        (), max_length=30, description="Red-flag ids from the knowledge base."
    )
    note: str | None = Field(None, max_length=NOTE_MAX_CHARS, description="A short free note.")


class PlanRequest(BaseModel):
    """A personal plan: the patient as an assessment describes them, with the plan's first day.

    From an assessment the patient is the one assessed (goal ``start``, ``stop`` or ``switch``);
    from a prescription it is ``goal: review`` with ``current_regimen`` (kept as it is).
    """

    model_config = _INPUT

    patient: Patient
    start_date: CalendarDate = Field(description="Day 1 of the plan.")
    baseline_pain: StrictInt | None = Field(
        None, description="Usual pain in the week before starting, on the diary's pain scale."
    )
    dispensed_date: CalendarDate | None = Field(
        None, description="When the supply was dispensed (default: the start date)."
    )


class PlannedDay(BaseModel):
    """What the plan asks for on one calendar day."""

    model_config = _OUTPUT

    date: str
    daily_mg: float
    doses: int
    phase: str


class RedFlagAlert(BaseModel):
    """A red flag the patient reported and what to do about it at once."""

    model_config = _OUTPUT

    id: str
    label: str
    action: Literal["emergency", "call-prescriber"]
    instruction: str
    citations: tuple[Citation, ...]


class Advice(BaseModel):
    """A plain-language instruction with its sources."""

    model_config = _OUTPUT

    text: str
    citations: tuple[Citation, ...]


class SupplyLine(BaseModel):
    """Pieces of one strength left on a day, and when they run out."""

    model_config = _OUTPUT

    form: str
    strength_mg: float
    measure: str
    dispensed: float
    used: float
    left: float
    runs_out_on: str | None = Field(description="The first day the supply cannot cover.")


class Supply(BaseModel):
    """Supply left from the dispensed totals, assuming every planned dose was taken."""

    model_config = _OUTPUT

    as_of: str
    dispensed_date: str
    lines: tuple[SupplyLine, ...]
    refill_due: str | None = Field(description="The earliest day a strength runs out.")
    assumption: str


class SideEffectCount(BaseModel):
    model_config = _OUTPUT

    id: str
    label: str
    days: int
    citations: tuple[Citation, ...]


class RedFlagDay(BaseModel):
    model_config = _OUTPUT

    day: str
    flags: tuple[str, ...]
    labels: tuple[str, ...]


class Outcomes(BaseModel):
    """Is the treatment working? Numbers for the next visit, each with its basis; never a dose
    change."""

    model_config = _OUTPUT

    as_of: str
    entries: int
    baseline_pain: float | None
    baseline_basis: str | None = Field(description="Where the baseline came from.")
    recent_average: float | None
    recent_entries: int
    window: tuple[str, str] = Field(description="First and last day of the recent window.")
    change_pct: float | None = Field(
        description="Pain reduction from baseline, percent (+ = less)."
    )
    category: str | None
    category_label: str | None
    daily_mg: float | None = Field(
        description="The plan's mg/day on the report day, averaged over the regimen's cycle (a "
        "dose every other day counts half)."
    )
    days_at_dose: int | None
    adherence_pct: float | None
    doses_taken: int
    doses_scheduled: int
    side_effects: tuple[SideEffectCount, ...]
    red_flag_days: tuple[RedFlagDay, ...]
    gaps: tuple[str, ...] = Field(description="What could not be worked out, and why.")
    talking_points: tuple[Advice, ...]
    citations: tuple[Citation, ...]


class PersonalPlan(BaseModel):
    """A patient's plan made concrete: dated doses, what each day asks for, and its warnings."""

    model_config = _OUTPUT

    product: str
    product_name: str
    start_date: str
    schedule: tuple[ScheduledDose, ...]
    maintenance_daily_mg: float | None
    maintenance_doses: tuple[ScheduledDose, ...] = Field(
        description="One day of maintenance doses, repeated after the dated schedule ends."
    )
    cycle_days: int = Field(1, description="Days in one repeat of the maintenance pattern.")
    after_dialysis: ScheduledDose | None = Field(
        None,
        description="The maintenance dose after each hemodialysis session, repeated on "
        "`dialysis_days` after the dated schedule ends.",
    )
    dialysis_days: tuple[Weekday, ...] = ()
    ends: bool = Field(description="True when the plan stops (a taper), false when it continues.")
    baseline_pain: int | None = None
    dispensed_date: str
    dispensed: tuple[DispenseLine, ...] = Field(description="What the plan lists to dispense.")
    missed_dose: tuple[Advice, ...]
    findings_summary: tuple[str, ...] = Field(description="The assessment's warnings, in brief.")
