"""Titration vignettes from the labels: PHN, epilepsy, pediatric mg/kg, Gralise, Horizant."""

from __future__ import annotations

import pytest

from gabaguide import Plan, load_knowledge
from tests.conftest import codes, run


def daily_by_day(plan: Plan) -> dict[int, float]:
    return {d.day: d.daily_mg for d in plan.titration}


def doses_by_day(plan: Plan) -> dict[int, int]:
    return {d.day: len(d.doses) for d in plan.titration}


def test_phn_label_titration_to_1800() -> None:
    # NEU48 §2.1: 300 mg day 1, 300 mg BID day 2, 300 mg TID day 3, then up to 1800 mg/day (D3)
    a = run(age_years=60, crcl_ml_min=90, indication="postherpetic neuralgia")
    assert a.plan is not None
    assert a.plan.scheme == "phn-ir"
    days = daily_by_day(a.plan)
    assert (days[1], days[2], days[3]) == (300, 600, 900)
    assert (doses_by_day(a.plan)[1], doses_by_day(a.plan)[2], doses_by_day(a.plan)[3]) == (1, 2, 3)
    assert days[10] == 1500  # +600 mg/day after 7 days (D3)
    assert days[17] == 1800
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.daily_mg == 1800
    assert [d.mg for d in a.plan.maintenance.doses] == [600, 600, 600]
    assert a.plan.max_daily_mg == 3600
    assert "indication.approved" in codes(a)


def test_article_target_400_mg_three_times_daily() -> None:
    # The article's "400 mg three times daily": 1200 mg/day, below the PHN label target of 1800
    a = run(age_years=60, crcl_ml_min=90, indication="PHN", target_daily_mg=1200)
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert [(d.mg, d.time) for d in a.plan.maintenance.doses] == [
        (400, "08:00"),
        (400, "14:00"),
        (400, "20:00"),
    ]
    assert [(u.strength_mg, u.count) for u in a.plan.maintenance.doses[0].units] == [(400, 1)]
    assert "dose.below-maintenance" in codes(a)


def test_target_above_label_max_is_capped() -> None:
    a = run(age_years=60, crcl_ml_min=90, indication="PHN", target_daily_mg=4800)
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.daily_mg == 3600
    assert "dose.exceeds-max" in codes(a)


def test_renal_row_is_read_by_column_and_sets_frequency() -> None:
    # CrCl 45: >30 to 59 row. 1800 mg/day at normal function is column 3 = 400 mg BID, not the
    # row's maximum of 700 mg BID (the exposure of 3600 mg/day) [NEU48 §2.3 Table 1]
    a = run(age_years=75, crcl_ml_min=45, indication="PHN", target_daily_mg=1800)
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.daily_mg == 800
    assert [d.mg for d in a.plan.maintenance.doses] == [400, 400]
    assert all(len(d.doses) <= 2 for d in a.plan.titration)
    # the PHN ramp in the row: the first column's dose once on day 1, then twice a day
    assert [(d.doses[0].mg, len(d.doses)) for d in a.plan.titration[:2]] == [(200, 1), (200, 2)]
    assert a.plan.renal_column is not None
    assert (a.plan.renal_column.column, a.plan.renal_column.row_daily_mg) == (3, 800)
    assert a.plan.max_daily_mg == 1400
    assert "dose.exceeds-max" not in codes(a)
    assert "renal.column" in codes(a)


def test_diabetic_neuropathy_is_off_label_with_neupsig_target() -> None:
    a = run(age_years=55, crcl_ml_min=100, indication="diabetic neuropathy")
    assert a.plan is not None
    assert a.plan.scheme == "neuropathic-ir"
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.daily_mg == 1200
    assert "indication.off-label" in codes(a)


def test_epilepsy_12_and_over_starts_300_tid() -> None:
    # NEU48 §2.2: patients >=12 years start at 300 mg three times a day
    a = run(age_years=14, crcl_ml_min=100, indication="epilepsy")
    assert a.plan is not None
    assert a.plan.scheme == "epilepsy-ir-12-plus"
    assert daily_by_day(a.plan)[1] == 900
    assert doses_by_day(a.plan)[1] == 3


@pytest.mark.parametrize(
    ("age", "weight", "scheme", "day1", "maintenance"),
    [
        # NEU48 §2.2: 3-11 y start 10-15 mg/kg/day; 5-11 y 25-35 mg/kg/day; 3-4 y 40 mg/kg/day (D5)
        pytest.param(7, 24, "epilepsy-ir-5-11", 240, 600, id="7y-24kg"),
        pytest.param(4, 16, "epilepsy-ir-3-4", 150, 630, id="4y-16kg-rounds-down"),
        pytest.param(3, 14, "epilepsy-ir-3-4", 135, 555, id="3y-14kg-rounds-down"),
    ],
)
def test_pediatric_mg_per_kg(
    age: float, weight: float, scheme: str, day1: float, maintenance: float
) -> None:
    a = run(age_years=age, weight_kg=weight, indication="epilepsy")
    assert a.plan is not None
    assert a.plan.scheme == scheme
    assert daily_by_day(a.plan)[1] == day1
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.daily_mg == maintenance
    assert a.plan.maintenance.daily_mg <= weight * (40 if age < 5 else 25) + 1e-9
    # doses round down to what can be measured: 5 mg steps of the solution, or exact capsules
    for dose in a.plan.maintenance.doses:
        assert sum(u.strength_mg * u.count for u in dose.units) == dose.mg


def test_pediatric_without_weight_plans_nothing() -> None:
    a = run(age_years=7, indication="epilepsy")
    assert a.plan is None
    assert "plan.weight-required" in codes(a)


def test_under_three_not_established() -> None:
    a = run(age_years=2, weight_kg=12, indication="epilepsy")
    assert a.plan is None
    assert "population.pediatric" in codes(a)


def test_gralise_titration_table() -> None:
    # GRALISE §2.1 Table 1: 300, 600, 900 (days 3-6), 1200 (7-10), 1500 (11-14), 1800 (day 15)
    a = run(age_years=60, crcl_ml_min=80, indication="PHN", product="Gralise")
    assert a.plan is not None
    days = daily_by_day(a.plan)
    assert [days[d] for d in (1, 2, 3, 6, 7, 10, 11, 14, 15)] == [
        300,
        600,
        900,
        900,
        1200,
        1200,
        1500,
        1500,
        1800,
    ]
    # with the evening meal: the last meal of the default day, since no routine was given
    evening_meal = load_knowledge().dosing.scheduling.default_meals[-1]
    assert all(len(d.doses) == 1 and d.doses[0].time == evening_meal for d in a.plan.titration)
    assert "Take once daily with the evening meal." in a.plan.instructions
    assert {"formulation.not-interchangeable", "formulation.do-not-crush"} <= codes(a)


def test_gralise_not_below_crcl_30() -> None:
    a = run(age_years=60, crcl_ml_min=25, indication="PHN", product="gralise")
    assert a.plan is None
    assert "renal.product-not-recommended" in codes(a)


def test_gralise_not_for_epilepsy() -> None:
    a = run(age_years=40, crcl_ml_min=90, indication="epilepsy", product="gralise")
    assert a.plan is None
    assert "plan.product-not-for-indication" in codes(a)


@pytest.mark.parametrize(
    ("crcl", "scheme", "pattern", "maintenance"),
    [
        # HORIZ Table 2 (PHN): >=60 600 mg AM x3 days then 600 BID; 30-59 300 AM x3 then 300 BID;
        # 15-29 300 mg on days 1 and 3 then 300 daily; <15 300 mg every other day
        pytest.param(80, "phn-horizant", [600, 600, 600, 1200], 1200, id="ge60"),
        pytest.param(45, "phn-horizant-crcl-30-59", [300, 300, 300, 600], 600, id="30-59"),
        pytest.param(20, "phn-horizant-crcl-15-29", [300, 0, 300, 300], 300, id="15-29"),
    ],
)
def test_horizant_phn(crcl: float, scheme: str, pattern: list[float], maintenance: float) -> None:
    a = run(age_years=60, crcl_ml_min=crcl, indication="PHN", product="horizant")
    assert a.plan is not None
    assert a.plan.scheme == scheme
    days = daily_by_day(a.plan)
    assert [days[d] for d in (1, 2, 3, 4)] == pattern
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.daily_mg == maintenance


def test_horizant_below_15_every_other_day() -> None:
    a = run(age_years=60, crcl_ml_min=10, dialysis="none", indication="PHN", product="horizant")
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert (a.plan.maintenance.daily_mg, a.plan.maintenance.every_n_days) == (300, 2)


def test_horizant_rls_at_5_pm() -> None:
    a = run(age_years=50, crcl_ml_min=90, indication="restless legs", product="horizant")
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert [(d.mg, d.time) for d in a.plan.maintenance.doses] == [(600, "17:00")]


def test_horizant_rls_not_planned_below_30() -> None:
    a = run(age_years=50, crcl_ml_min=25, indication="RLS", product="horizant")
    assert a.plan is None
    assert "renal.product-not-recommended" in codes(a)


def test_off_label_without_dosing_needs_explicit_target() -> None:
    a = run(age_years=50, crcl_ml_min=90, indication="fibromyalgia")
    assert a.plan is None
    assert {"plan.no-dosing-source", "indication.off-label"} <= codes(a)
    b = run(age_years=50, crcl_ml_min=90, indication="fibromyalgia", target_daily_mg=900)
    assert b.plan is not None
    assert b.plan.maintenance is not None
    assert b.plan.maintenance.daily_mg == 900
    assert "plan.generic-titration" in codes(b)
    assert "dose.below-maintenance" not in codes(b)  # PHN's range says nothing about fibromyalgia
    c = run(crcl_ml_min=90, indication="fibromyalgia", target_daily_mg=900)
    assert c.plan is None
    assert "plan.age-required" in codes(c)


def test_sciatica_not_recommended() -> None:
    a = run(age_years=50, crcl_ml_min=90, indication="chronic sciatica")
    assert "indication.not-recommended" in codes(a)
    assert a.plan is None


def test_unknown_indication_is_said() -> None:
    a = run(age_years=50, crcl_ml_min=90, indication="toothache")
    assert "plan.indication-unknown" in codes(a)


def test_current_dose_above_renal_maximum() -> None:
    a = run(
        age_years=80,
        crcl_ml_min=25,
        goal="review",
        current_regimen={"product": "gabapentin", "dose_mg": 600, "times_per_day": 3},
    )
    assert {"dose.exceeds-max", "dose.frequency-renal"} <= codes(a)


def test_once_daily_ir_with_normal_kidneys_exceeds_interval() -> None:
    a = run(
        age_years=40,
        crcl_ml_min=100,
        goal="review",
        current_regimen={"product": "gabapentin", "dose_mg": 900, "times_per_day": 1},
    )
    assert "dose.interval-exceeded" in codes(a)


@pytest.mark.parametrize(
    ("target", "maintenance", "stops"),
    [
        # NEU48 §2.2 (5-11 years): titrate over about 3 days to 25-35 mg/kg/day. 25 kg: 625-875.
        pytest.param(750, 750, False, id="30-mg-kg-reached-on-day-4"),
        # above 35 mg/kg/day (up to 50 tolerated long-term) the plan stops at 875 and says so
        pytest.param(1250, 870, True, id="50-mg-kg-stops-at-35"),
    ],
)
def test_a_childs_target_above_the_last_step_stops_at_the_usual_range(
    target: float, maintenance: float, stops: bool
) -> None:
    a = run(
        age_years=8,
        weight_kg=25,
        serum_creatinine={"value": 0.4, "unit": "mg/dL"},
        indication="partial-onset seizures",
        target_daily_mg=target,
    )
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.daily_mg == maintenance
    assert [d.day for d in a.plan.titration][-1] == 4  # the day after the last printed step
    assert ("plan.titration-stops" in codes(a)) == stops
    assert "dose.rounded" not in codes(a) or stops
