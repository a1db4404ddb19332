"""Outcomes of a diary: baseline, recent average, % change and its IMMPACT category, dose held,
adherence, side effects, red flags and talking points that never propose a dose change.

Every worked example is computed by hand in its row's comment. Day numbers are plan days: day 1 is
the plan's start date (2026-03-01), day 0 the day before it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import Knowledge, load_knowledge, parse_patient
from gabaguide.clinical.outcomes import category_of, outcomes
from gabaguide.clinical.personal import personal_plan
from gabaguide.records import DiaryEntry, Outcomes, PersonalPlan, PlanRequest
from tests.diarycases import FORBIDDEN, KEPT, PHN, STOP

K = load_knowledge()
START = date(2026, 3, 1)


def day(n: int) -> str:
    """The calendar date of plan day ``n`` (1 = the start date)."""
    return (START + timedelta(days=n - 1)).isoformat()


def on(n: int) -> date:
    return date.fromisoformat(day(n))


def plan(patient: dict[str, Any], start: int = 1, baseline: int | None = None) -> PersonalPlan:
    request = PlanRequest(
        patient=parse_patient(patient), start_date=day(start), baseline_pain=baseline
    )
    return personal_plan(K, request)[1]


def pains(*days_and_pains: tuple[int, int]) -> list[DiaryEntry]:
    return [DiaryEntry(day=day(n), pain=p) for n, p in days_and_pains]


def report(
    entries: list[DiaryEntry],
    as_of: int,
    baseline: int | None = None,
    patient: dict[str, Any] = KEPT,
) -> Outcomes:
    return outcomes(K, [plan(patient, baseline=baseline)], entries, on(as_of))


def every(first: int, *values: int) -> tuple[tuple[int, int], ...]:
    """Pains on consecutive plan days from ``first``."""
    return tuple((first + i, p) for i, p in enumerate(values))


# --- baseline, recent average, change and category -------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "entries", "as_of", "want"),
    [
        # Entered 8 wins over diary days before day 1 (2, 2). Recent: days 1-4 pain 4 -> 4.0.
        # Change (8 - 4) / 8 = 50.0 % -> substantial (IMMPACT >= 50).
        pytest.param(
            8,
            [(-1, 2), (0, 2), *every(1, 4, 4, 4, 4)],
            7,
            (8.0, "entered when the plan was made", 4.0, 4, 50.0, "substantial", None),
            id="entered-baseline-wins",
        ),
        # No entered baseline: diary days -6 (6) and 0 (8) are inside the 7 days before day 1
        # (2026-02-22..02-28); day -7 (pain 0, 2026-02-21) is 8 days before and is ignored.
        # Baseline (6 + 8) / 2 = 7.0. Recent 5, 5, 4, 4 -> 4.5. Change 2.5 / 7 = 35.71 -> 35.7.
        pytest.param(
            None,
            [(-7, 0), (-6, 6), (0, 8), *every(1, 5, 5, 4, 4)],
            7,
            (7.0, "mean of 2 diary days before day 1", 4.5, 4, 35.7, "moderate", None),
            id="baseline-from-diary-days-before-day-1",
        ),
        # As of day 10 the window is days 4-10: day 3 (pain 10) is outside, day 11 (pain 10) is
        # after the report. Recent (2 + 4 + 4 + 6) / 4 = 4.0. Change (10 - 4) / 10 = 60.0.
        pytest.param(
            10,
            [(3, 10), *every(4, 2, 4, 4, 6), (11, 10)],
            10,
            (10.0, "entered when the plan was made", 4.0, 4, 60.0, "substantial", None),
            id="recent-window-7-days-ending-on-as-of",
        ),
        # As of day 3 the 7-day window starts on day -3, but only days 1-3 are on treatment:
        # 3 entries < 4 -> no recent average. Days -3..0 (pain 8) make the baseline 8.0.
        pytest.param(
            None,
            [*every(-3, 8, 8, 8, 8), *every(1, 2, 2, 2)],
            3,
            (
                8.0,
                "mean of 4 diary days before day 1",
                None,
                3,
                None,
                None,
                "3 of the last 7 days recorded on treatment; at least 4 are needed",
            ),
            id="recent-only-on-or-after-day-1",
        ),
        # Days 5-7 only: 3 entries < 4.
        pytest.param(
            6,
            list(every(5, 3, 3, 3)),
            7,
            (6.0, "entered when the plan was made", None, 3, None, None, "at least 4"),
            id="too-few-recent-entries",
        ),
        # Baseline 0: a percentage of 0 cannot be worked out.
        pytest.param(
            0,
            list(every(1, 1, 1, 1, 1)),
            7,
            (0.0, "entered when the plan was made", 1.0, 4, None, None, "Baseline pain is 0"),
            id="baseline-zero",
        ),
        # Nothing entered and no diary days before day 1: no baseline, never guessed.
        pytest.param(
            None,
            list(every(1, 3, 3, 3, 3)),
            7,
            (None, None, 3.0, 4, None, None, "No baseline"),
            id="no-baseline",
        ),
        # Exact IMMPACT boundaries (IMMPACT Table 1): (10 - 5) / 10 = 50.0 -> substantial.
        pytest.param(
            10,
            list(every(1, 5, 5, 5, 5)),
            7,
            (10.0, "entered when the plan was made", 5.0, 4, 50.0, "substantial", None),
            id="exactly-50",
        ),
        # (10 - 7) / 10 = 30.0 -> moderate.
        pytest.param(
            10,
            list(every(1, 7, 7, 7, 7)),
            7,
            (10.0, "entered when the plan was made", 7.0, 4, 30.0, "moderate", None),
            id="exactly-30",
        ),
        # (10 - 9) / 10 = 10.0 -> minimal.
        pytest.param(
            10,
            list(every(1, 9, 9, 9, 9)),
            7,
            (10.0, "entered when the plan was made", 9.0, 4, 10.0, "minimal", None),
            id="exactly-10",
        ),
        # Baseline from 7 diary days: 64 / 7 = 9.142 -> 9.1. Recent 41 / 5 = 8.2.
        # (9.1 - 8.2) / 9.1 = 9.89 % -> 9.9, below 10 -> none.
        pytest.param(
            None,
            [*every(-6, 10, 10, 10, 10, 8, 8, 8), *every(1, 9, 8, 8, 8, 8)],
            7,
            (9.1, "mean of 7 diary days before day 1", 8.2, 5, 9.9, "none", None),
            id="9.9-is-below-minimal",
        ),
        # Pain up from 4 to 6: change (4 - 6) / 4 = -50.0 -> none.
        pytest.param(
            4,
            list(every(1, 6, 6, 6, 6)),
            7,
            (4.0, "entered when the plan was made", 6.0, 4, -50.0, "none", None),
            id="pain-increase",
        ),
        # Pain gone: (10 - 0) / 10 = 100.0, the largest possible change.
        pytest.param(
            10,
            list(every(1, 0, 0, 0, 0, 0, 0, 0)),
            7,
            (10.0, "entered when the plan was made", 0.0, 7, 100.0, "substantial", None),
            id="pain-gone",
        ),
    ],
)
def test_baseline_recent_change_and_category(
    baseline: int | None,
    entries: list[tuple[int, int]],
    as_of: int,
    want: tuple[float | None, str | None, float | None, int, float | None, str | None, str | None],
) -> None:
    base, basis, recent, n_recent, change, category, gap = want
    o = report(pains(*entries), as_of, baseline=baseline)
    assert o.baseline_pain == base
    assert o.baseline_basis == basis
    assert o.recent_average == recent
    assert o.recent_entries == n_recent
    assert o.window == (day(as_of - 6), day(as_of))
    assert o.change_pct == change
    assert o.category == category
    if gap is not None:
        assert any(gap in g for g in o.gaps), o.gaps
    if change is not None:
        assert any(f"{abs(change):g}% from baseline" in p.text for p in o.talking_points)


@pytest.mark.parametrize(
    ("change", "category"),
    [
        # IMMPACT Table 1: >= 50 substantial, >= 30 moderate, >= 10 minimal, else none
        pytest.param(100.0, "substantial", id="100"),
        pytest.param(50.0, "substantial", id="50.0"),
        pytest.param(49.9, "moderate", id="49.9"),
        pytest.param(30.0, "moderate", id="30.0"),
        pytest.param(29.9, "minimal", id="29.9"),
        pytest.param(10.0, "minimal", id="10.0"),
        pytest.param(9.9, "none", id="9.9"),
        pytest.param(0.0, "none", id="0"),
        pytest.param(-250.0, "none", id="worse"),
    ],
)
def test_category_of(change: float, category: str) -> None:
    found = category_of(K, change)
    assert found is not None
    assert found[0] == category
    assert found[2], "every category is cited"


def test_category_of_no_change_is_none() -> None:
    assert category_of(K, None) is None


def test_no_plan_means_no_outcomes_from_day_1() -> None:
    o = outcomes(K, [], pains(*every(1, 5, 5, 5, 5)), on(7))
    assert o.daily_mg is None
    assert o.days_at_dose is None
    assert o.change_pct is None
    assert o.category is None
    assert any("No plan yet" in g for g in o.gaps)


# --- adherence -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("taken", "want"),
    [
        # PHN titration plans 1, 2, 3 doses on days 1, 2, 3 (see PHN above).
        # 1 + 2 + 3 of 1 + 2 + 3 = 6 / 6.
        pytest.param([(1, 1), (2, 2), (3, 3)], (6, 6, 100.0), id="all-taken"),
        # Extra doses never count above the plan: min(3, 1) + min(4, 2) = 3 of 3.
        pytest.param([(1, 3), (2, 4)], (3, 3, 100.0), id="extra-doses-capped"),
        # 1 + 1 + 0 of 6 = 33.3 %.
        pytest.param([(1, 1), (2, 1), (3, 0)], (2, 6, 33.3), id="missed-doses"),
        # Days without doses_taken are not counted at all: only day 3, 3 of 3.
        pytest.param([(1, None), (2, None), (3, 3)], (3, 3, 100.0), id="unrecorded-days-ignored"),
        # Before day 1 nothing is planned and nothing counts; day 1: 0 of 1.
        pytest.param([(-1, 3), (1, 0)], (0, 1, 0.0), id="before-day-1-ignored"),
        # After the report day (as of day 10) nothing counts: day 11 is ignored.
        pytest.param([(10, 2), (11, 0)], (2, 3, 66.7), id="after-as-of-ignored"),
        # Nothing recorded: no adherence, and a gap says why.
        pytest.param([(1, None), (2, None)], (0, 0, None), id="nothing-recorded"),
    ],
)
def test_adherence(
    taken: list[tuple[int, int | None]], want: tuple[int, int, float | None]
) -> None:
    entries = [DiaryEntry(day=day(n), pain=5, doses_taken=t) for n, t in taken]
    o = report(entries, 10, patient=PHN)
    assert (o.doses_taken, o.doses_scheduled, o.adherence_pct) == want
    if want[2] is None:
        assert any(g.startswith("Adherence") for g in o.gaps)
    missed = want[0] < want[1]
    assert missed == any(p.text.startswith("Doses taken") for p in o.talking_points)


# --- the dose reached and for how long -------------------------------------------------------------


def _phn() -> list[PersonalPlan]:
    return [plan(PHN)]


def _phn_then_kept() -> list[PersonalPlan]:
    return [plan(PHN), plan(KEPT, start=15)]


def _kept_then_same_daily_dose() -> list[PersonalPlan]:
    same = {
        **KEPT,
        "current_regimen": {"product": "gabapentin", "dose_mg": 600, "times_per_day": 2},
    }
    return [plan(KEPT), plan(same, start=10)]


def _stop() -> list[PersonalPlan]:
    return [plan(STOP)]


@pytest.mark.parametrize(
    ("plans", "as_of", "want"),
    [
        # Before day 1 nothing is planned.
        pytest.param(_phn, 0, (None, None), id="before-day-1"),
        # Day 1: 300 mg, held 1 day.
        pytest.param(_phn, 1, (300, 1), id="day-1"),
        # Day 2: 600 mg is new that day.
        pytest.param(_phn, 2, (600, 1), id="day-2"),
        # 900 mg from day 3: days 3, 4, 5.
        pytest.param(_phn, 5, (900, 3), id="900-on-day-5"),
        # 1500 mg from day 10: days 10, 11, 12.
        pytest.param(_phn, 12, (1500, 3), id="1500-on-day-12"),
        # 1800 mg from day 17 (last titration day) on: days 17..20 = 4, days 17..60 = 44.
        pytest.param(_phn, 20, (1800, 4), id="1800-on-day-20"),
        pytest.param(_phn, 60, (1800, 44), id="maintenance-on-day-60"),
        # A kept 1200 mg/day plan replaces the titration on day 15: days 15..20 = 6.
        pytest.param(_phn_then_kept, 20, (1200, 6), id="later-plan-replaces"),
        # 400 mg x3 then 600 mg x2 from day 10: still 1200 mg/day, so days 1..12 = 12.
        pytest.param(_kept_then_same_daily_dose, 12, (1200, 12), id="same-daily-dose-continues"),
        # The taper of 1800 mg/day ends on day 9; on day 30 nothing is planned.
        pytest.param(_stop, 30, (None, None), id="after-taper-ends"),
    ],
)
def test_days_at_dose(
    plans: Callable[[], list[PersonalPlan]], as_of: int, want: tuple[float | None, int | None]
) -> None:
    o = outcomes(K, plans(), [], on(as_of))
    assert (o.daily_mg, o.days_at_dose) == want
    if want[0] is not None:
        assert any(
            f"has been {want[0]:g} mg/day for {want[1]} day" in p.text for p in o.talking_points
        )


# Horizant for PHN with CrCl < 15: 300 mg every other day in the morning (HORIZ Table 2, CrCl <15).
EVERY_OTHER_DAY = {
    "age_years": 60,
    "crcl_ml_min": 10,
    "dialysis": "none",
    "indication": "PHN",
    "product": "horizant",
}


def test_days_at_dose_of_an_every_other_day_regimen() -> None:
    p = plan(EVERY_OTHER_DAY)
    assert p.cycle_days == 2
    # Day 41 is a dosing day (odd days) of a regimen unchanged since day 1: 41 days at this dose,
    # more than the 4 weeks at a fixed dose of the label's trials.
    o = outcomes(K, [p], [], on(41))
    assert o.days_at_dose is not None
    assert o.days_at_dose >= 4 * 7
    assert not any("less than the 4 weeks" in t.text for t in o.talking_points)


# --- side effects and red flags --------------------------------------------------------------------


def test_side_effect_days_count_each_id_once_a_day() -> None:
    entries = [
        # day 1 lists dizziness twice: it is still one day of dizziness
        DiaryEntry(day=day(1), pain=5, side_effects=("dizziness", "dizziness", "drowsiness")),
        DiaryEntry(day=day(2), pain=5, side_effects=("dizziness",)),
        DiaryEntry(day=day(3), pain=5),
        # after the report day: not counted
        DiaryEntry(day=day(30), pain=5, side_effects=("fatigue",)),
    ]
    o = report(entries, 10)
    assert [(s.id, s.days) for s in o.side_effects] == [("dizziness", 2), ("drowsiness", 1)]
    for s in o.side_effects:
        assert s.label == K.side_effect_by_id[s.id].label
        assert s.citations
        assert all(c.source in K.source_by_id for c in s.citations)
    point = next(p for p in o.talking_points if p.text.startswith("Side effects recorded"))
    assert "dizziness (2 days)" in point.text
    assert "drowsiness or sleepiness (1 day)" in point.text


def test_red_flag_days_are_listed() -> None:
    entries = [
        DiaryEntry(day=day(1), pain=5),
        DiaryEntry(day=day(2), pain=5, red_flags=("mood-change",)),
        DiaryEntry(day=day(4), pain=5, red_flags=("slow-breathing", "mood-change")),
        DiaryEntry(day=day(30), pain=5, red_flags=("suicidal-thoughts",)),
    ]
    o = report(entries, 10)
    assert [(f.day, f.flags) for f in o.red_flag_days] == [
        (day(2), ("mood-change",)),
        (day(4), ("slow-breathing", "mood-change")),
    ]
    assert o.red_flag_days[1].labels == tuple(
        K.red_flag_by_id[f].label for f in ("slow-breathing", "mood-change")
    )
    first = o.talking_points[0]
    assert day(2) in first.text
    assert day(4) in first.text
    assert first.citations


# --- talking points --------------------------------------------------------------------------------


def _check_talking_points(k: Knowledge, o: Outcomes) -> None:
    last = o.talking_points[-1]
    assert last.text == k.diary.never_self_adjust.instruction
    assert last.citations == k.diary.never_self_adjust.cite
    for p in o.talking_points[:-1]:
        lowered = p.text.lower()
        assert not any(phrase in lowered for phrase in FORBIDDEN), p.text
    for p in o.talking_points:
        for c in p.citations:
            assert c.source in k.source_by_id, c
    assert set(o.citations) == {c for p in o.talking_points for c in p.citations}


@pytest.mark.parametrize(
    ("baseline", "entries", "as_of"),
    [
        pytest.param(None, [], 7, id="empty-diary"),
        pytest.param(4, list(every(1, 9, 9, 9, 9)), 7, id="pain-worse"),
        pytest.param(9, list(every(1, 1, 1, 1, 1)), 60, id="too-few-recent"),
        pytest.param(9, list(every(54, 1, 1, 1, 1, 1, 1, 1)), 60, id="much-better"),
    ],
)
def test_talking_points_end_with_never_self_adjust(
    baseline: int | None, entries: list[tuple[int, int]], as_of: int
) -> None:
    diary = [
        DiaryEntry(
            day=day(n),
            pain=p,
            doses_taken=1,
            side_effects=("dizziness",),
            red_flags=("mood-change",),
        )
        for n, p in entries
    ]
    _check_talking_points(K, report(diary, as_of, baseline=baseline, patient=PHN))


# --- properties over any diary ---------------------------------------------------------------------

PLANS = {
    "phn": [plan(PHN)],
    "kept": [plan(KEPT)],
    "stop": [plan(STOP)],
    "phn-then-stop": [plan(PHN), plan(STOP, start=30)],
    "every-other-day": [plan(EVERY_OTHER_DAY)],
    "none": [],
}
SIDE_EFFECTS = [s.id for s in K.diary.side_effects]
RED_FLAGS = [f.id for f in K.diary.red_flags]


@st.composite
def diaries(draw: st.DrawFn) -> list[DiaryEntry]:
    """One entry at most per day (the store keeps one a day), on days around day 1."""
    days = draw(st.lists(st.integers(-20, 60), unique=True, max_size=40))
    return [
        DiaryEntry(
            day=day(n),
            pain=draw(st.integers(0, 10)),
            doses_taken=draw(st.one_of(st.none(), st.integers(0, 6))),
            side_effects=tuple(draw(st.lists(st.sampled_from(SIDE_EFFECTS), max_size=3))),
            red_flags=tuple(draw(st.lists(st.sampled_from(RED_FLAGS), max_size=2))),
        )
        for n in days
    ]


def _rank(category: str) -> int:
    """0 for none, then up through the knowledge base's categories (lowest threshold first)."""
    ids = [K.diary.outcomes.below.id, *(c.id for c in reversed(K.diary.outcomes.categories))]
    return ids.index(category)


def _check_category(change: float, category: str) -> None:
    cuts = sorted(c.min_reduction_pct for c in K.diary.outcomes.categories)
    by_id = {c.id: c.min_reduction_pct for c in K.diary.outcomes.categories}
    if category == K.diary.outcomes.below.id:
        assert change < cuts[0]
        return
    low = by_id[category]
    higher = [c for c in cuts if c > low]
    assert low <= change
    if higher:
        assert change < higher[0]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(PLANS)),
    st.one_of(st.none(), st.integers(0, 10)),
    diaries(),
    st.integers(-10, 70),
)
def test_outcomes_of_any_diary(
    which: str, baseline: int | None, entries: list[DiaryEntry], as_of: int
) -> None:
    plans = [p.model_copy(update={"baseline_pain": baseline}) for p in PLANS[which]]
    o = outcomes(K, plans, entries, on(as_of))
    missing = o.baseline_pain is None or o.recent_average is None or o.baseline_pain == 0
    assert (o.change_pct is None) == missing
    assert (o.category is None) == (o.change_pct is None)
    if o.change_pct is not None:
        assert o.category is not None
        assert o.change_pct <= 100
        _check_category(o.change_pct, o.category)
    if o.adherence_pct is not None:
        assert 0 <= o.adherence_pct <= 100
    assert 0 <= o.doses_taken <= o.doses_scheduled
    assert 0 <= o.recent_entries <= K.diary.outcomes.window_days
    if o.recent_average is not None:
        assert o.recent_entries >= K.diary.outcomes.min_entries_in_window
    _check_talking_points(K, o)


@given(st.floats(-1000, 100, allow_nan=False), st.floats(-1000, 100, allow_nan=False))
def test_category_is_monotone(a: float, b: float) -> None:
    low, high = sorted((a, b))
    cat_low, cat_high = category_of(K, low), category_of(K, high)
    assert cat_low is not None
    assert cat_high is not None
    assert _rank(cat_low[0]) <= _rank(cat_high[0])
    _check_category(low, cat_low[0])
    _check_category(high, cat_high[0])
