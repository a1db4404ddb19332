"""Dispensing: pieces of each strength per phase, and totals a pharmacist can fill.

Expected values are recomputed from the plan itself and k.dosing.scheduling.maintenance_days
(dosing.toml [scheduling]).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import Assessment, Knowledge
from gabaguide.domain import Dose
from tests.conftest import run

Key = tuple[str, float, str]

PLANS = [
    pytest.param({"age_years": 50, "crcl_ml_min": 90, "indication": "PHN"}, id="phn-start"),
    pytest.param(
        {"age_years": 50, "crcl_ml_min": 40, "indication": "PHN", "target_daily_mg": 1800},
        id="phn-crcl-40",
    ),
    pytest.param(
        {"age_years": 40, "crcl_ml_min": 90, "indication": "epilepsy"}, id="epilepsy-start"
    ),
    pytest.param(
        {"age_years": 8, "weight_kg": 25, "crcl_ml_min": 90, "indication": "epilepsy"},
        id="pediatric-mg-per-kg",
    ),
    pytest.param(
        {"age_years": 50, "crcl_ml_min": 90, "indication": "PHN", "product": "gralise"},
        id="gralise",
    ),
    # HORIZ Table 2: CrCl <15, 300 mg every other day
    pytest.param(
        {
            "age_years": 60,
            "crcl_ml_min": 10,
            "dialysis": "none",
            "indication": "PHN",
            "product": "horizant",
        },
        id="horizant-every-other-day",
    ),
    pytest.param(
        {
            "age_years": 50,
            "crcl_ml_min": 90,
            "goal": "stop",
            "current_regimen": {"product": "gabapentin", "dose_mg": 600, "times_per_day": 3},
        },
        id="taper",
    ),
    pytest.param(
        {
            "age_years": 50,
            "crcl_ml_min": 90,
            "indication": "PHN",
            "goal": "switch",
            "current_regimen": {"product": "gabapentin", "dose_mg": 600, "times_per_day": 3},
        },
        id="switch",
    ),
]


def count(doses: Iterable[Dose]) -> dict[Key, float]:
    out: dict[Key, float] = defaultdict(float)
    for dose in doses:
        for u in dose.units:
            out[(u.form, u.strength_mg, u.measure)] += u.count
    return {key: round(q, 2) for key, q in out.items()}


def lines(a: Assessment, phase: str) -> dict[Key, float]:
    return {
        (d.form, d.strength_mg, d.measure): d.quantity for d in a.dispensing if d.phase == phase
    }


def phases(a: Assessment) -> list[str]:
    return list(dict.fromkeys(d.phase for d in a.dispensing if d.phase != "total"))


@pytest.mark.parametrize("fields", PLANS)
def test_totals_are_the_sum_of_the_phases(fields: dict[str, Any]) -> None:
    a = run(**fields)
    assert a.plan is not None
    assert a.dispensing
    total: dict[Key, float] = defaultdict(float)
    for phase in phases(a):
        for key, q in lines(a, phase).items():
            total[key] += q
    assert lines(a, "total") == pytest.approx(dict(total))
    days: dict[str, int] = {d.phase: d.days for d in a.dispensing}
    assert days["total"] == sum(days[p] for p in phases(a))
    assert {d.product for d in a.dispensing} == {a.plan.product}


@pytest.mark.parametrize("fields", PLANS)
def test_day_by_day_phases_count_every_unit(fields: dict[str, Any]) -> None:
    a = run(**fields)
    p = a.plan
    assert p is not None
    first = "switch" if p.switch is not None else "titration"
    if p.titration:
        assert lines(a, first) == pytest.approx(count(d for day in p.titration for d in day.doses))
        assert next(d.days for d in a.dispensing if d.phase == first) == len(p.titration)
    if p.taper:
        assert lines(a, "taper") == pytest.approx(count(d for day in p.taper for d in day.doses))
        assert next(d.days for d in a.dispensing if d.phase == "taper") == len(p.taper)


@pytest.mark.parametrize("fields", PLANS)
def test_maintenance_is_per_day_units_times_the_dispensing_period(
    k: Knowledge, fields: dict[str, Any]
) -> None:
    a = run(**fields)
    p = a.plan
    assert p is not None
    if p.maintenance is None or not p.maintenance.doses:
        assert "maintenance" not in phases(a)
        return
    days = k.dosing.scheduling.maintenance_days
    dosing_days = len(range(0, days, p.maintenance.every_n_days))
    expected = {key: q * dosing_days for key, q in count(p.maintenance.doses).items()}
    assert lines(a, "maintenance") == pytest.approx(expected)
    assert next(d.days for d in a.dispensing if d.phase == "maintenance") == days


def test_every_day_maintenance_is_a_full_period(k: Knowledge) -> None:
    # PHN maintenance 1800 mg/day as 600 mg x 3 (NEU48 §2.1) for maintenance_days days
    a = run(age_years=50, crcl_ml_min=90, indication="PHN")
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.every_n_days == 1
    per_day = count(a.plan.maintenance.doses)
    days = k.dosing.scheduling.maintenance_days
    assert lines(a, "maintenance") == pytest.approx({key: q * days for key, q in per_day.items()})


def test_every_other_day_maintenance_counts_dosing_days_only(k: Knowledge) -> None:
    # HORIZ Table 2 (CrCl <15): 300 mg every other day
    a = run(age_years=60, crcl_ml_min=10, dialysis="none", indication="PHN", product="horizant")
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.every_n_days == 2
    days = k.dosing.scheduling.maintenance_days
    q = sum(lines(a, "maintenance").values())
    per_dose_day = sum(count(a.plan.maintenance.doses).values())
    assert q == per_dose_day * -(-days // 2)


def test_no_plan_nothing_to_dispense() -> None:
    a = run(age_years=50, crcl_ml_min=90, indication="PHN", goal="switch")
    assert a.plan is None
    assert a.dispensing == ()


@settings(deadline=None, max_examples=100)
@given(
    crcl=st.floats(5, 150).map(lambda x: round(x, 1)),
    target=st.one_of(st.none(), st.sampled_from([300, 600, 900, 1200, 1800, 2400, 3600])),
    indication=st.sampled_from(["PHN", "DPN", "epilepsy", "neuropathic pain"]),
)
def test_dispensing_matches_the_plan_for_any_start(
    k: Knowledge, crcl: float, target: int | None, indication: str
) -> None:
    fields: dict[str, Any] = {"age_years": 50, "crcl_ml_min": crcl, "indication": indication}
    if target is not None:
        fields["target_daily_mg"] = target
    a = run(**fields)
    if a.plan is None:
        assert a.dispensing == ()
        return
    expected: dict[Key, float] = defaultdict(float)
    for key, q in count(d for day in a.plan.titration for d in day.doses).items():
        expected[key] += q
    if a.plan.maintenance is not None:
        n = len(range(0, k.dosing.scheduling.maintenance_days, a.plan.maintenance.every_n_days))
        for key, q in count(a.plan.maintenance.doses).items():
            expected[key] += q * n
    assert lines(a, "total") == pytest.approx(dict(expected))
    assert all(d.quantity > 0 for d in a.dispensing)
