"""Safety invariants of planning (DESIGN planning principles 1 and 2), over generated patients.

The oracle for "the column equivalent" is typed here from the knowledge base's rows, independently
of :mod:`gabaguide.clinical.grid`: the row's entry in the printed column at or below the target (at
normal kidney function), or the first column scaled when the target is below it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import assess
from gabaguide.clinical.renal import renal_range
from gabaguide.domain import parse_patient
from gabaguide.errors import InputError
from gabaguide.knowledge import load_knowledge
from tests.strategies import patient_dicts, skip

K = load_knowledge()
NORMAL = next(b for b in K.renal.bands if b.id == "gabapentin-ge-60")
COLUMNS = [o * (NORMAL.doses_per_day or 0) for o in NORMAL.regimen_options_mg]
LABEL_MAX = K.dosing.limits.label_max_daily_mg
TOL = 1e-6


def column_equivalent(crcl: float, target_normal: float) -> float:
    """The target's equivalent in the patient's row (mg/day), read from the printed table."""
    rng = renal_range(K, "gabapentin", None, crcl, "none")
    assert rng is not None
    assert rng.doses_per_day is not None
    row = [o * rng.doses_per_day for o in rng.regimen_options_mg]
    target = min(target_normal, LABEL_MAX)
    if row == COLUMNS:  # normal kidney function: the target itself
        return target
    at_or_below = [i for i, c in enumerate(COLUMNS) if c <= target + TOL]
    if not at_or_below:
        return row[0] * target / COLUMNS[0]
    return row[at_or_below[-1]]


@settings(max_examples=400, deadline=None)
@given(
    crcl=st.floats(0.5, 250),
    target=st.floats(100, 6000),
    indication=st.sampled_from(["PHN", "neuropathic pain", "partial-onset seizures"]),
    age=st.floats(18, 64),
)
def test_no_planned_dose_exceeds_the_column_equivalent_of_the_target(
    crcl: float, target: float, indication: str, age: float
) -> None:
    a = assess(
        parse_patient(
            {
                "age_years": age,
                "crcl_ml_min": crcl,
                "dialysis": "none",
                "indication": indication,
                "target_daily_mg": target,
            }
        ),
        K,
    )
    limit = column_equivalent(crcl, target)
    if a.plan is None:  # too small to measure (CrCl near 0): said, not silently dropped
        assert "plan.withheld" in {f.code for f in a.findings}
        skip("column equivalent: dose too small to measure")
        return
    assert a.plan.maintenance is not None
    assert all(d.daily_mg <= limit + TOL for d in a.plan.titration)
    assert a.plan.maintenance.daily_mg <= limit + TOL
    per_day: dict[int, float] = {}
    for s in a.schedule:
        per_day[s.day] = per_day.get(s.day, 0) + s.mg
    assert all(v <= limit + TOL for v in per_day.values())


@settings(max_examples=300, deadline=None)
@given(patient_dicts())
def test_no_plan_at_all_when_a_contraindication_holds(d: dict[str, Any]) -> None:
    d = {**d, "allergies": [*d.get("allergies", []), "gabapentin"]}
    d.pop("current_regimen", None)
    d["product"] = "gabapentin"
    try:
        a = assess(parse_patient(d), K)
    except InputError:
        skip("contraindication: impossible input (e.g. pregnant at 5)")
        return
    assert "contraindication.hypersensitivity" in {f.code for f in a.findings}
    assert a.plan is None
    assert a.schedule == ()
    assert a.dispensing == ()
    assert a.plan_status in ("not-planned", "not-asked")


@settings(max_examples=300, deadline=None)
@given(
    patient_dicts(),
    st.floats(65, 120),
)
def test_an_older_adult_with_unknown_kidney_function_never_passes_the_held_start(
    d: dict[str, Any], age: float
) -> None:
    d = {k: v for k, v in d.items() if k not in ("crcl_ml_min", "serum_creatinine", "allergies")}
    d |= {"age_years": age, "goal": "start", "product": "gabapentin", "dialysis": "none"}
    d.pop("pregnant", None)
    try:
        a = assess(parse_patient(d), K)
    except InputError:
        skip("held start: impossible input")
        return
    lowest = min(
        b.regimen_options_mg[0] * (b.doses_per_day or 1)
        for b in K.renal.bands
        if b.product == "gabapentin" and b.regimen_options_mg
    )
    if a.plan is None:
        skip("held start: no plan (e.g. an unrecognised indication)")
        return
    assert a.plan_status == "held"
    assert all(day.daily_mg <= lowest for day in a.plan.titration)
    assert all(
        sum(s.mg for s in a.schedule if s.day == day) <= lowest
        for day in {s.day for s in a.schedule}
    )


@settings(max_examples=500, deadline=None)
@given(patient_dicts())
def test_doses_never_exceed_the_label_maximum(d: dict[str, Any]) -> None:
    try:
        a = assess(parse_patient(d), K)
    except InputError:
        skip("label maximum: impossible input or unknown product")
        return
    if a.plan is None:
        skip("label maximum: no plan")
        return
    days = [*a.plan.titration, *a.plan.taper]
    assert all(x.daily_mg <= LABEL_MAX for x in days)
    regular = [s for s in a.schedule if s.phase != "dialysis-supplement"]
    per_day: dict[int, float] = {}
    for s in regular:
        per_day[s.day] = per_day.get(s.day, 0) + s.mg
    assert all(v <= LABEL_MAX for v in per_day.values())


@settings(max_examples=200, deadline=None)
@given(
    crcl=st.floats(5, 59),
    target=st.sampled_from(COLUMNS),
    days=st.lists(
        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        min_size=1,
        max_size=4,
        unique=True,
    ),
)
def test_dialysis_supplements_fall_on_session_days_only(
    crcl: float, target: float, days: list[str]
) -> None:
    a = assess(
        parse_patient(
            {
                "age_years": 60,
                "crcl_ml_min": crcl,
                "dialysis": "hemodialysis",
                "indication": "PHN",
                "target_daily_mg": target,
                "routine": {
                    "dialysis_days": days,
                    "dialysis_end": "13:00",
                    "start_date": "2026-12-07",
                },
            }
        ),
        K,
    )
    assert a.plan is not None
    assert a.plan.dialysis_supplement is not None
    column = COLUMNS.index(target)
    printed = sorted(K.renal.hemodialysis_supplements, key=lambda h: h.maintenance_mg)
    assert a.plan.dialysis_supplement.mg == printed[column].supplement_mg  # paired by column
    timed = [s for s in a.schedule if s.phase == "dialysis-supplement"]
    assert timed
    names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert all(names[date.fromisoformat(s.date or "").weekday()] in days for s in timed)
    dispensed = sum(
        line.quantity * line.strength_mg
        for line in a.dispensing
        if line.phase == "dialysis-supplement"
    )
    assert abs(dispensed - sum(s.mg for s in timed)) < 1e-6
    # while titrating, a day's supplement is its own dose's column's, never above the maintenance's
    assert all(s.mg <= a.plan.dialysis_supplement.mg for s in timed)
    assert timed[-1].mg == a.plan.dialysis_supplement.mg
