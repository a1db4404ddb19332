"""Dose-time scheduler: vignettes from real assessed plans, and properties over generated days."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from itertools import combinations, pairwise
from math import inf
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import Dose, Knowledge, Maintenance, Plan, PlanDay, Unit, load_knowledge
from gabaguide.clinical.schedule import Scheduled, schedule_plan
from gabaguide.clinical.spacing import solve
from gabaguide.domain import Routine, ScheduledDose, Switch
from tests.conftest import PHN, run

K = load_knowledge()
S = K.dosing.scheduling
MAX_GAP_MIN = round(K.dosing.limits.max_interval_h * 60)
ANTACID_GAP_MIN = round(S.antacid_gap_h * 60)
DAY_MIN = 24 * 60

DAY = Routine(wake="07:00", sleep="22:00", meals=("08:00", "12:30", "18:30"))


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _phn_plan() -> Plan:
    a = run(**PHN)
    assert a.plan is not None
    return a.plan


def _schedule(
    plan: Plan,
    product: str = "gabapentin",
    routine: Routine | None = DAY,
    antacid_times: tuple[str, ...] = (),
    antacid_taken: bool = False,
    indication: str | None = "postherpetic-neuralgia",
) -> Scheduled:
    p = K.product_by_id[product]
    return schedule_plan(K, plan, p, indication, routine, antacid_times, antacid_taken)


def _times(s: Scheduled) -> dict[tuple[str, int], list[str]]:
    out: dict[tuple[str, int], list[str]] = {}
    for d in s.doses:
        out.setdefault((d.phase, d.day), []).append(d.time)
    return out


def _codes(s: Scheduled) -> list[str]:
    return [f.code for f in s.findings]


def _after_antacid(time: str, antacids: tuple[str, ...]) -> bool:
    return any((_minutes(time) - _minutes(a)) % DAY_MIN < ANTACID_GAP_MIN for a in antacids)


def _plan_agrees(s: Scheduled) -> None:
    """The re-timed plan and the schedule give the same times for every planned day."""
    by_day = _times(s)
    phase = "switch" if s.plan.switch is not None else "titration"
    for pd in s.plan.titration:
        assert [d.time for d in pd.doses] == by_day.get((phase, pd.day), [])
    if s.plan.maintenance is not None:
        times = [d.time for d in s.plan.maintenance.doses]
        assert all(v == times for (ph, _), v in by_day.items() if ph == "maintenance")


# --- vignettes -------------------------------------------------------------------------------------


def test_phn_titration_on_the_default_day() -> None:
    # NEU48 §2.1 titration; D8 default times fit the default day (D9) with no gap over 12 h (§2.2)
    plan = _phn_plan()
    s = _schedule(plan, routine=None)
    t = _times(s)
    assert t["titration", 1] == ["20:00"]
    assert t["titration", 2] == ["08:00", "20:00"]
    assert t["titration", 3] == ["08:00", "14:00", "20:00"]
    assert _codes(s) == ["schedule.default-routine"]
    summary = s.findings[0].summary
    assert f"wake {S.default_wake}" in summary
    assert f"bedtime {S.default_sleep}" in summary
    assert "meals" not in summary  # immediate-release gabapentin with no antacid: meals not used
    planned = sum(len(d.doses) for d in plan.titration)
    assert plan.maintenance is not None
    assert len(s.doses) == planned + S.maintenance_days * len(plan.maintenance.doses)
    assert all(d.date is None for d in s.doses)
    assert all(d.product == "gabapentin" for d in s.doses)
    _plan_agrees(s)


def test_given_routine_assumes_nothing() -> None:
    s = _schedule(_phn_plan())
    assert _codes(s) == []


def test_default_routine_names_only_what_is_missing() -> None:
    s = _schedule(_phn_plan(), routine=Routine(wake="06:00"))
    assert _codes(s) == ["schedule.default-routine"]
    assert "bedtime 22:00" in s.findings[0].summary
    assert "wake" not in s.findings[0].summary
    assert s.findings[0].citations == S.cite


def test_gralise_is_taken_with_the_evening_meal() -> None:
    # GRALISE §2.1: once daily with the evening meal, a hard requirement
    a = run(age_years=60, crcl_ml_min=90, product="gralise", indication="PHN")
    assert a.plan is not None
    routine = Routine(wake="06:30", sleep="23:00", meals=("07:30", "12:00", "19:00"))
    s = _schedule(a.plan, product="gralise", routine=routine)
    assert {d.time for d in s.doses} == {"19:00"}
    assert _codes(s) == []
    _plan_agrees(s)


def test_gralise_evening_meal_is_the_last_meal_of_the_waking_day() -> None:
    a = run(age_years=60, crcl_ml_min=90, product="gralise", indication="PHN")
    assert a.plan is not None
    late = Routine(wake="11:00", sleep="02:00", meals=("12:00", "18:00", "23:30"))
    s = _schedule(a.plan, product="gralise", routine=late)
    assert {d.time for d in s.doses} == {"23:30"}


def test_gralise_meal_after_an_antacid_is_kept_and_flagged() -> None:
    a = run(age_years=60, crcl_ml_min=90, product="gralise", indication="PHN")
    assert a.plan is not None
    routine = Routine(wake="06:30", sleep="23:00", meals=("07:30", "12:00", "19:00"))
    s = _schedule(a.plan, product="gralise", routine=routine, antacid_times=("18:00",))
    assert {d.time for d in s.doses} == {"19:00"}
    assert _codes(s) == ["schedule.antacid-conflict"]
    assert "19:00" in s.findings[0].summary
    assert "18:00" in s.findings[0].summary


def test_horizant_rls_dose_stays_at_5_pm_with_food() -> None:
    # HORIZ RLS: with food at about 5 PM - the label's clock time, not the patient's dinner (D9)
    a = run(age_years=50, crcl_ml_min=90, product="horizant", indication="restless legs")
    assert a.plan is not None
    routine = Routine(wake="07:00", sleep="23:00", meals=("08:00", "13:00", "17:30"))
    s = _schedule(a.plan, product="horizant", routine=routine, indication="restless-legs-syndrome")
    assert {d.time for d in s.doses} == {"17:00"}
    assert all(d.note and "food" in d.note for d in s.doses)


def test_antacid_at_given_time_pushes_doses_two_hours_after() -> None:
    # NEU48 §7.3: take gabapentin at least 2 hours after Maalox
    s = _schedule(_phn_plan(), antacid_times=("13:00",))
    t = _times(s)
    assert t["titration", 3] == ["08:00", "15:00", "20:00"]
    assert not any(_after_antacid(d.time, ("13:00",)) for d in s.doses)
    assert _codes(s) == []


def test_usual_antacid_pattern_is_assumed_and_said() -> None:
    s = _schedule(_phn_plan(), antacid_taken=True)
    after = S.usual_antacid_after_meal_min
    usual = sorted({(_minutes(m) + after) % DAY_MIN for m in DAY.meals} | {_minutes("22:00")})
    usual_times = tuple(f"{m // 60:02d}:{m % 60:02d}" for m in usual)
    assert _codes(s) == ["schedule.antacid-usual-times"]
    assert ", ".join(usual_times) in s.findings[0].summary
    assert not any(_after_antacid(d.time, usual_times) for d in s.doses)


def test_short_waking_window_is_infeasible_and_says_why() -> None:
    s = _schedule(_phn_plan(), routine=Routine(wake="10:00", sleep="18:00", meals=("12:00",)))
    infeasible = [f for f in s.findings if f.code == "schedule.infeasible"]
    assert [f.summary.split(":")[0] for f in infeasible] == ["2 doses a day", "3 doses a day"]
    for f in infeasible:
        assert "waking hours 10:00\N{EN DASH}18:00 leave 16 h overnight" in f.summary
        assert "at most 12 h between doses" in f.summary
        assert set(K.dosing.limits.cite) <= set(f.citations)
    t = _times(s)
    assert t["titration", 2] == ["10:00", "18:00"]  # the longest gap is as short as it can be
    # the middle dose keeps its place in the (short) day: 14:00 of 07:00-22:00 -> 13:45 of 10:00-18:00
    assert t["titration", 3] == ["10:00", "13:45", "18:00"]


def test_bedtime_after_midnight_puts_late_doses_on_the_next_date() -> None:
    late = Routine(wake="12:00", sleep="02:00", meals=("13:00",), start_date="2025-03-01")
    s = _schedule(_phn_plan(), routine=late)
    assert _codes(s) == []
    day2 = [d for d in s.doses if d.day == 2]
    # 08:00 and 20:00 keep their places in a 12:00-02:00 day (12:56, 00:08), 12 h apart
    assert [(d.date, d.time) for d in day2] == [("2025-03-02", "12:15"), ("2025-03-03", "00:15")]


def test_maintenance_is_repeated_for_the_scheduling_days() -> None:
    plan = _phn_plan()
    s = _schedule(plan, routine=DAY.model_copy(update={"start_date": "2025-01-01"}))
    last = plan.titration[-1].day
    days = sorted({d.day for d in s.doses if d.phase == "maintenance"})
    assert days == list(range(last + 1, last + 1 + S.maintenance_days))
    first = next(d for d in s.doses if d.phase == "maintenance")
    assert first.date == (date(2025, 1, 1) + timedelta(days=last)).isoformat()


def test_every_other_day_maintenance_keeps_its_rhythm() -> None:
    # HORIZ Table 2 (CrCl <15): 300 mg every other day
    a = run(age_years=60, crcl_ml_min=10, dialysis="none", product="horizant", indication="PHN")
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.every_n_days == 2
    s = _schedule(a.plan, product="horizant")
    dosed = sorted({d.day for d in s.doses})
    assert all(b - a == 2 for a, b in pairwise(dosed))


def test_taper_days_of_a_stop_plan() -> None:
    a = run(
        age_years=50,
        crcl_ml_min=90,
        goal="stop",
        current_regimen={"product": "gabapentin", "dose_mg": 600, "times_per_day": 3},
    )
    assert a.plan is not None
    s = _schedule(a.plan, indication=None)
    assert {d.phase for d in s.doses} == {"taper"}
    assert sorted({d.day for d in s.doses}) == [d.day for d in a.plan.taper]
    assert Counter(d.day for d in s.doses) == {d.day: len(d.doses) for d in a.plan.taper}
    for pd, timed in zip(a.plan.taper, s.plan.taper, strict=True):
        assert [d.mg for d in pd.doses] == [d.mg for d in timed.doses]


def test_taper_after_maintenance_continues_the_day_numbers() -> None:
    plan = _plan([1, 2], maintenance=2, taper=[1, 1])
    s = _schedule(plan)
    taper_days = sorted({d.day for d in s.doses if d.phase == "taper"})
    assert taper_days == [2 + S.maintenance_days + 1, 2 + S.maintenance_days + 2]


def test_switch_plan_days_are_the_switch_phase() -> None:
    switch = Switch(
        from_product="gabapentin",
        from_daily_mg=900,
        to_product="pregabalin",
        table_row="900",
        converted_daily_mg=150,
        daily_mg=150,
        doses_per_day=2,
        last_previous_dose="evening before",
        caveat="",
        citations=(),
    )
    plan = _plan([2, 2]).model_copy(update={"switch": switch})
    s = _schedule(plan)
    assert {d.phase for d in s.doses if d.day <= 2} == {"switch"}


# --- properties ------------------------------------------------------------------------------------

UNIT = Unit(strength_mg=300, form="300 mg capsule", count=1, measure="capsule")


def _doses(n: int) -> tuple[Dose, ...]:
    return tuple(Dose(time="08:00", mg=300, units=(UNIT,)) for _ in range(n))


def _plan(
    titration: list[int],
    maintenance: int | None = None,
    every: int = 1,
    taper: list[int] | None = None,
    product: str = "gabapentin",
) -> Plan:
    return Plan(
        product=product,
        target_daily_mg=None,
        max_daily_mg=None,
        titration=tuple(
            PlanDay(day=i + 1, daily_mg=300 * n, doses=_doses(n)) for i, n in enumerate(titration)
        ),
        maintenance=(
            Maintenance(daily_mg=300 * maintenance, doses=_doses(maintenance), every_n_days=every)
            if maintenance
            else None
        ),
        taper=tuple(
            PlanDay(day=i + 1, daily_mg=300 * n, doses=_doses(n)) for i, n in enumerate(taper or [])
        ),
    )


clock = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
routines = st.one_of(
    st.none(),
    st.builds(
        Routine,
        wake=st.none() | clock,
        sleep=st.none() | clock,
        meals=st.lists(clock, max_size=4).map(tuple),
    ),
)
doses_a_day = st.integers(1, 4)


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    product = draw(st.sampled_from(["gabapentin", "gralise", "horizant"]))
    plan = _plan(
        draw(st.lists(doses_a_day, max_size=4)),
        draw(st.none() | doses_a_day),
        draw(st.integers(1, 2)),
        draw(st.lists(doses_a_day, max_size=3)),
        product,
    )
    return {
        "plan": plan,
        "product": product,
        "routine": draw(routines),
        "antacid_times": tuple(draw(st.lists(clock, max_size=4))),
        "antacid_taken": draw(st.booleans()),
        "indication": draw(st.sampled_from([None, "postherpetic-neuralgia"])),
    }


def _antacids_used(c: dict[str, Any]) -> tuple[str, ...]:
    if c["antacid_times"] or not c["antacid_taken"]:
        return tuple(c["antacid_times"])
    r: Routine = c["routine"] or Routine()
    meals = r.meals or S.default_meals
    after = [(_minutes(m) + S.usual_antacid_after_meal_min) % DAY_MIN for m in meals]
    bed = [_minutes(r.sleep or S.default_sleep)] if S.usual_antacid_at_bedtime else []
    return tuple(f"{m // 60:02d}:{m % 60:02d}" for m in after + bed)


def _window(c: dict[str, Any]) -> tuple[int, int]:
    r: Routine = c["routine"] or Routine()
    wake, sleep = _minutes(r.wake or S.default_wake), _minutes(r.sleep or S.default_sleep)
    return wake, (sleep - wake) % DAY_MIN or DAY_MIN


def _by_day(doses: tuple[ScheduledDose, ...]) -> dict[tuple[str, int], list[ScheduledDose]]:
    out: dict[tuple[str, int], list[ScheduledDose]] = {}
    for d in doses:
        out.setdefault((d.phase, d.day), []).append(d)
    return out


def _run(c: dict[str, Any], k: Knowledge = K) -> Scheduled:
    p = k.product_by_id[c["product"]]
    return schedule_plan(
        k, c["plan"], p, c["indication"], c["routine"], c["antacid_times"], c["antacid_taken"]
    )


@settings(max_examples=100, deadline=None)
@given(cases())
def test_no_dose_in_the_antacid_gap_unless_said(c: dict[str, Any]) -> None:
    s = _run(c)
    said = {"schedule.infeasible", "schedule.antacid-conflict"} & set(_codes(s))
    antacids = _antacids_used(c)
    if not said:
        assert not any(_after_antacid(d.time, antacids) for d in s.doses)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_no_gap_over_the_maximum_unless_said(c: dict[str, Any]) -> None:
    s = _run(c)
    if "schedule.infeasible" in _codes(s):
        return
    wake, _ = _window(c)
    for day in _by_day(s.doses).values():
        if len(day) < 2:
            continue
        rel = sorted((_minutes(d.time) - wake) % DAY_MIN for d in day)
        gaps = [b - a for a, b in pairwise(rel)] + [DAY_MIN - (rel[-1] - rel[0])]
        assert max(gaps) <= MAX_GAP_MIN


@settings(max_examples=100, deadline=None)
@given(cases())
def test_every_planned_dose_is_scheduled_once(c: dict[str, Any]) -> None:
    plan: Plan = c["plan"]
    s = _run(c)
    expected: list[tuple[str, int, float]] = []
    for pd in plan.titration:
        expected += [("titration", pd.day, d.mg) for d in pd.doses]
    last = len(plan.titration)
    m = plan.maintenance
    if m is not None:
        first = last + m.every_n_days if last else 1
        for day in range(first, last + S.maintenance_days + 1, m.every_n_days):
            expected += [("maintenance", day, d.mg) for d in m.doses]
        last += S.maintenance_days
    for pd in plan.taper:
        expected += [("taper", pd.day + last, d.mg) for d in pd.doses]
    assert Counter((d.phase, d.day, d.mg) for d in s.doses) == Counter(expected)
    _plan_agrees(s)


@settings(max_examples=100, deadline=None)
@given(cases())
def test_times_on_the_grid_inside_the_waking_window(c: dict[str, Any]) -> None:
    s = _run(c)
    wake, length = _window(c)
    outside_said = any("fall outside" in f.summary for f in s.findings)
    for d in s.doses:
        assert _minutes(d.time) % S.grid_minutes == 0
        if not outside_said:
            assert (_minutes(d.time) - wake) % DAY_MIN <= length


@settings(max_examples=50, deadline=None)
@given(cases())
def test_one_pattern_per_number_of_doses_and_findings_once(c: dict[str, Any]) -> None:
    s = _run(c)
    patterns: dict[int, set[tuple[str, ...]]] = {}
    for day in _by_day(s.doses).values():
        patterns.setdefault(len(day), set()).add(tuple(d.time for d in day))
    assert all(len(p) == 1 for p in patterns.values())
    infeasible = [f.summary.split(":")[0] for f in s.findings if f.code == "schedule.infeasible"]
    assert len(infeasible) == len(set(infeasible))
    assert _codes(s).count("schedule.default-routine") <= 1
    for f in s.findings:
        assert set(S.cite) <= set(f.citations)


@pytest.mark.parametrize(
    ("routine", "antacids", "said"),
    [
        pytest.param(Routine(wake="07:00", sleep="07:00"), (), None, id="awake-round-the-clock"),
        pytest.param(
            Routine(wake="10:00", sleep="10:15"), (), "fall outside", id="window-too-short-for-3"
        ),
        pytest.param(
            DAY,
            tuple(f"{h:02d}:00" for h in range(0, 24, 2)),
            "leave too few times",
            id="antacids-all-day",
        ),
    ],
)
def test_extreme_days_still_give_every_dose(
    routine: Routine, antacids: tuple[str, ...], said: str | None
) -> None:
    s = _schedule(_plan([1, 2, 3]), routine=routine, antacid_times=antacids)
    assert [len(v) for v in _times(s).values()] == [1, 2, 3]
    _plan_agrees(s)
    summaries = " ".join(f.summary for f in s.findings if f.code == "schedule.infeasible")
    assert (said in summaries) if said else not summaries


@st.composite
def search_problems(draw: st.DrawFn) -> tuple[list[int], list[list[float]], int]:
    start = draw(st.integers(0, DAY_MIN - 1))
    offsets = draw(st.sets(st.integers(0, DAY_MIN - 1), min_size=1, max_size=12))
    slots = sorted(start + o for o in offsets)
    n = draw(st.integers(1, 4))
    cost = st.one_of(st.just(inf), st.integers(0, 5).map(float))
    costs = [[draw(cost) for _ in slots] for _ in range(n)]
    return slots, costs, draw(st.integers(60, DAY_MIN))


@settings(max_examples=100, deadline=None)
@given(search_problems())
def test_search_finds_the_cheapest_earliest_set(
    problem: tuple[list[int], list[list[float]], int],
) -> None:
    slots, costs, max_gap = problem

    def feasible(picks: tuple[int, ...]) -> bool:
        ts = [slots[i] for i in picks]
        gaps = [b - a for a, b in pairwise(ts)]
        if len(ts) > 1:
            gaps.append(DAY_MIN - (ts[-1] - ts[0]))
        return (
            all(costs[j][i] < inf for j, i in enumerate(picks)) and max(gaps, default=0) <= max_gap
        )

    options = [p for p in combinations(range(len(slots)), len(costs)) if feasible(p)]
    best = min(options, key=lambda p: (sum(costs[j][i] for j, i in enumerate(p)), p), default=None)
    assert solve(slots, costs, max_gap) == best
