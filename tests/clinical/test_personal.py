"""Personal plans on the calendar: dated schedules, maintenance after them, tapers that end, kept
prescriptions, later plans replacing earlier ones, supply and missed-dose advice."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import Assessment, InputError, load_knowledge, parse_patient
from gabaguide.clinical.personal import PlanCalendar, missed_dose_advice, personal_plan, supply
from gabaguide.records import PersonalPlan, PlanRequest
from tests.diarycases import KEPT, PHN, STOP
from tests.strategies import patient_dicts

K = load_knowledge()
START = date(2026, 3, 1)
EPS = 1e-9
"""Millilitres of solution add up in floating point."""


def make(
    patient: dict[str, Any], start: date = START, dispensed: date | None = None
) -> tuple[Assessment, PersonalPlan]:
    request = PlanRequest(
        patient=parse_patient(patient),
        start_date=start.isoformat(),
        dispensed_date=dispensed.isoformat() if dispensed else None,
    )
    return personal_plan(K, request)


def nth(n: int, start: date = START) -> date:
    """Plan day ``n`` (1 = the start date)."""
    return start + timedelta(days=n - 1)


# --- the calendar ----------------------------------------------------------------------------------


def test_start_plan_is_dated_from_day_1_and_maintenance_continues() -> None:
    a, p = make(PHN)
    assert a.plan is not None
    assert p.start_date == START.isoformat()
    assert (p.schedule[0].day, p.schedule[0].date) == (1, START.isoformat())
    assert all(d.date == nth(d.day).isoformat() for d in p.schedule)
    assert not p.ends
    assert p.maintenance_daily_mg == 1800
    calendar = PlanCalendar([p])
    last = p.schedule[-1].day
    for n in (last, last + 1, last + 100, 1000):
        planned = calendar.planned(nth(n))
        assert (planned.daily_mg, planned.doses, planned.phase) == (1800, 3, "maintenance")


def test_nothing_before_day_1() -> None:
    _, p = make(PHN)
    calendar = PlanCalendar([p])
    for n in (0, -1, -400):
        assert calendar.doses_on(nth(n)) == ()
        planned = calendar.planned(nth(n))
        assert (planned.daily_mg, planned.doses, planned.phase) == (0, 0, "before")
    assert calendar.planned(nth(1)).daily_mg == 300  # NEU48 §2.1: 300 mg on day 1


def test_taper_ends_and_asks_for_nothing_after_its_last_day() -> None:
    _, p = make(STOP)
    assert p.ends
    assert p.maintenance_doses == ()
    assert {d.phase for d in p.schedule} == {"taper"}
    calendar = PlanCalendar([p])
    last = p.schedule[-1].day
    assert last >= 7  # NEU48 §2.5: at least a week
    assert calendar.planned(nth(last)).daily_mg > 0
    for n in (last + 1, last + 2, last + 365):
        assert calendar.doses_on(nth(n)) == ()
        assert calendar.planned(nth(n)).phase == "none"


def test_prescription_kept_as_it_is() -> None:
    _, p = make(KEPT)
    assert p.maintenance_daily_mg == 1200
    assert not p.ends
    calendar = PlanCalendar([p])
    for n in (1, 2, p.schedule[-1].day, p.schedule[-1].day + 1, 500):
        planned = calendar.planned(nth(n))
        assert (planned.daily_mg, planned.doses) == (1200, 3)
    assert {u.strength_mg for d in p.schedule for u in d.units} == {400}


@pytest.mark.parametrize(
    ("regimen", "field"),
    [
        # 33 mg: not a whole number of 1 mL of the 250 mg/5 mL solution, nor of any capsule.
        # (250 mg of gabapentin IS composable: 5 mL of the solution.)
        pytest.param(
            {"product": "gabapentin", "dose_mg": 33, "times_per_day": 3},
            "current_regimen.dose_mg",
            id="gabapentin-33mg",
        ),
        # HORIZ: 300 mg and 600 mg tablets only.
        pytest.param(
            {"product": "horizant", "dose_mg": 250, "times_per_day": 2},
            "current_regimen.dose_mg",
            id="horizant-250mg",
        ),
        # Gralise tablets: 300, 450, 600, 750, 900 mg; 700 mg is not a sum of them that fits.
        pytest.param(
            {"product": "gralise", "dose_mg": 700, "times_per_day": 1},
            "current_regimen.dose_mg",
            id="gralise-700mg",
        ),
        pytest.param(
            {"product": "no-such-product", "dose_mg": 300, "times_per_day": 3},
            "current_regimen.product",
            id="unknown-product",
        ),
    ],
)
def test_prescription_that_cannot_be_kept(regimen: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as info:
        make({**KEPT, "current_regimen": regimen})
    assert len(info.value.problems) == 1
    assert info.value.problems[0].startswith(field)


@pytest.mark.parametrize("baseline", [-1, 11])
def test_a_baseline_off_the_pain_scale_makes_no_plan(baseline: int) -> None:
    scale = K.diary.scales.pain
    request = PlanRequest(
        patient=parse_patient(KEPT), start_date=START.isoformat(), baseline_pain=baseline
    )
    with pytest.raises(InputError) as info:
        personal_plan(K, request)
    assert list(info.value.problems) == [
        f"baseline_pain: must be a whole number from {scale.min} to {scale.max}; got {baseline}"
    ]


def test_a_baseline_on_the_pain_scale_is_kept() -> None:
    scale = K.diary.scales.pain
    for baseline in (scale.min, scale.max):
        request = PlanRequest(
            patient=parse_patient(KEPT), start_date=START.isoformat(), baseline_pain=baseline
        )
        assert personal_plan(K, request)[1].baseline_pain == baseline


def test_gabapentin_250mg_is_made_from_the_solution() -> None:
    regimen = {"product": "gabapentin", "dose_mg": 250, "times_per_day": 3}
    _, p = make({**KEPT, "current_regimen": regimen})
    assert p.maintenance_daily_mg == 750
    assert {(u.strength_mg, u.count, u.measure) for d in p.schedule for u in d.units} == {
        (50, 5, "mL")
    }


def test_a_later_plan_replaces_an_earlier_one_from_its_start() -> None:
    _, first = make(PHN)
    _, kept = make(KEPT, start=nth(10))
    _, stop = make(STOP, start=nth(40))
    calendar = PlanCalendar([first, kept, stop])
    assert calendar.planned(nth(9)).daily_mg == 900  # PHN titration, day 9
    assert calendar.planned(nth(10)).daily_mg == 1200  # the kept plan's day 1
    assert calendar.planned(nth(39)).daily_mg == 1200
    taper_last = stop.schedule[-1].day
    assert calendar.planned(nth(40)).phase == "taper"
    # after the taper ends nothing is asked for, though the earlier plans would have continued
    assert calendar.doses_on(nth(40 + taper_last)) == ()
    assert calendar.doses_on(nth(400)) == ()


# --- supply ----------------------------------------------------------------------------------------


def _need(calendar: PlanCalendar, key: tuple[str, float], first: date, last: date) -> float:
    total = 0.0
    for n in range((last - first).days + 1):
        total += sum(
            u.count
            for d in calendar.doses_on(first + timedelta(days=n))
            for u in d.units
            if (u.form, u.strength_mg) == key
        )
    return total


@pytest.mark.parametrize(
    ("patient", "as_of_day"),
    [
        pytest.param(PHN, 0, id="phn-before-day-1"),
        pytest.param(PHN, 1, id="phn-day-1"),
        pytest.param(PHN, 10, id="phn-day-10"),
        pytest.param(PHN, 47, id="phn-last-dated-day"),
        pytest.param(PHN, 120, id="phn-long-after"),
        pytest.param(KEPT, 20, id="kept-day-20"),
        pytest.param(STOP, 5, id="taper-day-5"),
        pytest.param(STOP, 60, id="taper-after-end"),
    ],
)
def test_supply(patient: dict[str, Any], as_of_day: int) -> None:
    _, p = make(patient)
    as_of = nth(as_of_day)
    s = supply(p, as_of)
    calendar = PlanCalendar([p])
    dispensed_on = date.fromisoformat(p.dispensed_date)
    assert len(s.lines) == len(p.dispensed)
    for line in s.lines:
        key = (line.form, line.strength_mg)
        assert line.left == pytest.approx(line.dispensed - line.used)
        assert line.left >= 0
        if as_of >= dispensed_on:
            used = _need(calendar, key, dispensed_on, as_of)
            assert line.used == pytest.approx(min(used, line.dispensed))
        if line.runs_out_on is not None:
            out = date.fromisoformat(line.runs_out_on)
            assert _need(calendar, key, dispensed_on, out) > line.dispensed + EPS
            assert (
                _need(calendar, key, dispensed_on, out - timedelta(days=1)) <= line.dispensed + EPS
            )
    outs = [ln.runs_out_on for ln in s.lines if ln.runs_out_on is not None]
    assert s.refill_due == (min(outs) if outs else None)


def test_supply_worked_example() -> None:
    # PHN: 300 mg capsules 1 + 2 + 3 x 7 = 24 on days 1-9, all used by day 10.
    # 600 mg tablets: 3 on day 17 + 3 x 30 on days 18-47 = 93 dispensed; day 48 (2026-04-17) is
    # the first day they cannot cover.
    _, p = make(PHN)
    s = supply(p, nth(10))
    by_strength = {ln.strength_mg: ln for ln in s.lines}
    assert (by_strength[300].dispensed, by_strength[300].used, by_strength[300].left) == (24, 24, 0)
    assert by_strength[300].runs_out_on is None
    assert by_strength[600].dispensed == 93
    assert by_strength[600].runs_out_on == nth(48).isoformat() == "2026-04-17"
    assert s.refill_due == "2026-04-17"


# --- missed doses ----------------------------------------------------------------------------------


def test_horizant_missed_dose_is_the_sourced_rule() -> None:
    rule = next(m for m in K.diary.missed_doses if "horizant" in m.products)
    _, p = make({**PHN, "indication": "PHN", "product": "horizant"})
    assert p.product == "horizant"
    assert p.missed_dose[0].text == rule.instruction
    assert p.missed_dose[0].citations == rule.cite
    assert {c.source for c in rule.cite} == {"HORIZ"}


@pytest.mark.parametrize("product", [p.id for p in K.products])
def test_every_missed_dose_advice_ends_with_never_double(product: str) -> None:
    advice = missed_dose_advice(K, product)
    assert advice[-1].text == K.diary.never_double.instruction
    assert advice[-1].citations == K.diary.never_double.cite
    ruled = any(product in m.products for m in K.diary.missed_doses)
    if not ruled:
        assert advice[0].text == K.diary.missed_dose_default.instruction
    for a in advice:
        assert a.citations
        assert all(c.source in K.source_by_id for c in a.citations)


# --- properties ------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(
    patient_dicts(),
    st.dates(date(2000, 1, 1), date(2090, 12, 31)),
    st.lists(st.integers(-30, 800), min_size=1, max_size=10),
)
def test_planned_daily_mg_within_the_plans_maximum(
    d: dict[str, Any], start: date, offsets: list[int]
) -> None:
    try:
        a, p = make(d, start=start)
    except InputError:
        return
    calendar = PlanCalendar([p])
    cap = a.plan.max_daily_mg if a.plan is not None else None
    for n in offsets:
        planned = calendar.planned(start + timedelta(days=n))
        assert planned.daily_mg >= 0
        if cap is not None:
            assert planned.daily_mg <= cap + 1e-9, (n, planned)
        if n < 0:
            assert planned.doses == 0


@settings(max_examples=200, deadline=None)
@given(patient_dicts(), st.integers(1, 400))
def test_calendar_follows_the_schedule_then_repeats_maintenance(d: dict[str, Any], n: int) -> None:
    try:
        _, p = make(d)
    except InputError:
        return
    calendar = PlanCalendar([p])
    last = p.schedule[-1].day
    if n <= last:
        assert calendar.doses_on(nth(n)) == tuple(x for x in p.schedule if x.day == n)
    elif p.ends:
        assert calendar.doses_on(nth(n)) == ()
    else:
        # one repeat of the maintenance pattern earlier asks for the same
        earlier = calendar.planned(nth(n - p.cycle_days))
        now = calendar.planned(nth(n))
        assert (now.daily_mg, now.doses) == (earlier.daily_mg, earlier.doses)


@settings(max_examples=150, deadline=None)
@given(patient_dicts(), st.integers(-5, 200))
def test_supply_of_any_plan(d: dict[str, Any], as_of_day: int) -> None:
    try:
        _, p = make(d)
    except InputError:
        return
    s = supply(p, nth(as_of_day))
    calendar = PlanCalendar([p])
    dispensed_on = date.fromisoformat(p.dispensed_date)
    for line in s.lines:
        key = (line.form, line.strength_mg)
        assert line.left >= 0
        assert line.left == pytest.approx(line.dispensed - line.used)
        if line.runs_out_on is not None:
            out = date.fromisoformat(line.runs_out_on)
            assert _need(calendar, key, dispensed_on, out) > line.dispensed + EPS
            assert (
                _need(calendar, key, dispensed_on, out - timedelta(days=1)) <= line.dispensed + EPS
            )
    outs = [ln.runs_out_on for ln in s.lines if ln.runs_out_on is not None]
    assert s.refill_due == (min(outs) if outs else None)


HEMODIALYSIS = {
    "age_years": 60,
    "crcl_ml_min": 10,
    "dialysis": "hemodialysis",
    "indication": "PHN",
    "target_daily_mg": 1800,
    "routine": {"dialysis_days": ["mon", "wed", "fri"], "dialysis_end": "12:00"},
}


def test_the_diary_keeps_the_dose_after_dialysis_and_dispenses_it() -> None:
    """NEU48 §2.3 Table 1 footnote b: the supplement after each session, on session days only,
    also after the dated schedule ends; what is dispensed counts it (so the supply lasts)."""
    start = date(2026, 12, 7)  # a Monday
    _, plan = personal_plan(
        K, PlanRequest(patient=parse_patient(HEMODIALYSIS), start_date=start.isoformat())
    )
    assert plan.after_dialysis is not None
    assert plan.after_dialysis.mg == 200  # the 1800 column's supplement
    assert plan.dialysis_days == ("mon", "wed", "fri")
    timed = sum(d.mg for d in plan.schedule if d.phase == "dialysis-supplement")
    dispensed = sum(line.quantity * line.strength_mg for line in plan.dispensed)
    regular = sum(d.mg for d in plan.schedule if d.phase != "dialysis-supplement")
    assert dispensed == pytest.approx(regular + timed)
    calendar = PlanCalendar([plan])
    later = start + timedelta(days=plan.schedule[-1].day + 14)  # past the dated schedule
    for n in range(7):
        day = later + timedelta(days=n)
        after = [d for d in calendar.doses_on(day) if d.phase == "dialysis-supplement"]
        assert len(after) == (1 if day.weekday() in (0, 2, 4) else 0), day
