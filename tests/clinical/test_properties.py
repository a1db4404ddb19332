"""Safety invariants over generated patients (Hypothesis)."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import (
    Assessment,
    InputError,
    Knowledge,
    PlanDay,
    assess,
    load_knowledge,
    parse_patient,
)
from gabaguide.domain import SEVERITY_ORDER
from tests.strategies import patient_dicts

K = load_knowledge()
TIERED = {
    r.finding: {r.mme_unknown_severity, *(t.severity for t in r.mme_tiers)}
    for r in K.interactions.rules
    if r.mme_tiers
}
LABEL_MAX = K.dosing.limits.label_max_daily_mg
MAX_GAP_H = K.dosing.limits.max_interval_h


def _assess(d: dict[str, Any]) -> Assessment:
    return assess(parse_patient(d), K)


def _minutes(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _max_gap_h(day: PlanDay) -> float:
    times = sorted(_minutes(d.time) for d in day.doses)
    gaps = [b - a for a, b in pairwise(times)] + [times[0] + 1440 - times[-1]]
    return max(gaps) / 60


@settings(max_examples=400, deadline=None)
@given(patient_dicts())
def test_plan_respects_every_maximum(d: dict[str, Any]) -> None:
    try:
        a = _assess(d)
    except InputError:
        return
    plan = a.plan
    if plan is None:
        return
    # a switch plan is pregabalin: its limits are pregabalin's, checked in test_switch
    renal_max = a.renal.daily_max_mg if plan.switch is None else None
    infeasible = "schedule.infeasible" in {f.code for f in a.findings}
    for day in (*plan.titration, *plan.taper):
        assert day.daily_mg <= LABEL_MAX
        if renal_max is not None:
            assert day.daily_mg <= renal_max + 1e-9
        if plan.max_daily_mg is not None:
            assert day.daily_mg <= plan.max_daily_mg + 1e-9
        # units always sum to the dose; the doses sum to the day
        for dose in day.doses:
            assert sum(u.strength_mg * u.count for u in dose.units) == pytest.approx(dose.mg)
            assert all(u.count > 0 for u in dose.units)
            assert all(u.count == int(u.count) or u.measure != "capsule" for u in dose.units)
        assert sum(x.mg for x in day.doses) == pytest.approx(day.daily_mg)
        # at most 12 hours between doses of a divided regimen, unless the schedule says it cannot
        if len(day.doses) >= 2 and not infeasible:
            assert _max_gap_h(day) <= MAX_GAP_H
    if plan.maintenance is not None:
        assert plan.maintenance.daily_mg <= LABEL_MAX
        if renal_max is not None:
            assert plan.maintenance.daily_mg <= renal_max + 1e-9
    # a titration never goes down
    dosing = [x.daily_mg for x in plan.titration if x.doses]
    assert dosing == sorted(dosing)


@settings(max_examples=300, deadline=None)
@given(
    dose=st.sampled_from([100, 125, 200, 300, 400, 500, 600, 700, 800, 1200, 1600]),
    times=st.integers(1, 4),
    crcl=st.one_of(st.none(), st.floats(0, 250)),
    product=st.sampled_from(["gabapentin", "gralise", "horizant"]),
)
def test_taper_never_rises_and_lasts_a_week(
    dose: float, times: int, crcl: float | None, product: str
) -> None:
    d: dict[str, Any] = {
        "age_years": 50,
        "goal": "stop",
        "indication": "PHN",
        "current_regimen": {"product": product, "dose_mg": dose, "times_per_day": times},
    }
    if crcl is not None:
        d["crcl_ml_min"] = crcl
    a = _assess(d)
    found = {f.code for f in a.findings}
    assert "taper.required" in found or "taper.not-needed" in found
    if a.plan is None or not a.plan.taper:
        return
    daily = [x.daily_mg for x in a.plan.taper]
    assert daily == sorted(daily, reverse=True)
    assert daily[0] < dose * times
    assert len(a.plan.taper) >= K.dosing.taper_rules[0].min_days
    assert all(x.daily_mg > 0 for x in a.plan.taper)


@settings(max_examples=300, deadline=None)
@given(patient_dicts())
def test_every_finding_is_catalogued_and_cited(d: dict[str, Any]) -> None:
    try:
        a = _assess(d)
    except InputError:
        return
    assert len({f.code for f in a.findings}) == len(a.findings), "findings are never duplicated"
    ranks = [SEVERITY_ORDER[f.severity] for f in a.findings]
    assert ranks == sorted(ranks, reverse=True), "findings are ordered by severity"
    for f in a.findings:
        kind = K.finding_kind[f.code]
        # a tiered rule's severity is one of its data's tiers; every other is the catalogue's
        assert f.severity in TIERED.get(f.code, {kind.severity})
        assert f.citations
        assert {c.source for c in f.citations} <= set(K.source_by_id)


@settings(max_examples=200, deadline=None)
@given(patient_dicts())
def test_missing_kidney_data_is_never_guessed(d: dict[str, Any]) -> None:
    d.pop("crcl_ml_min", None)
    d.pop("serum_creatinine", None)
    try:
        a = _assess(d)
    except InputError:
        return
    assert a.renal.crcl_ml_min is None
    assert a.renal.method == "not-available"
    child = d.get("age_years") is not None and d["age_years"] < 12
    on_hd_row = a.renal.band is not None
    if not child and not on_hd_row:
        assert "renal.not-checked" in {f.code for f in a.findings}


def test_knowledge_fixture_is_the_packaged_one(k: Knowledge) -> None:
    assert k is K
