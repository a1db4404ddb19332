"""Switch gabapentin -> pregabalin (goal "switch"): Toth's table, pregabalin's renal table, label maxima.

Expected values come from knowledge/data/switch.toml and shared/clinical/facts.md §8.1, §8.2, §8.4
(PT-FUDIN reproducing Toth 2010; SOPHIE's transcription of the Lyrica renal table; LYR-HL).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide import Assessment, Knowledge
from gabaguide.domain import Plan
from gabaguide.knowledge.schema import PregabalinRenalRow
from tests.conftest import codes, run


def switch(daily_mg: float, **fields: Any) -> Assessment:
    """A patient on immediate-release gabapentin ``daily_mg`` a day asking to switch."""
    times = 3 if daily_mg % 3 == 0 else 1
    base: dict[str, Any] = {
        "age_years": 55,
        "crcl_ml_min": 90,
        "indication": "PHN",
        "goal": "switch",
        "current_regimen": {
            "product": "gabapentin",
            "dose_mg": daily_mg / times,
            "times_per_day": times,
        },
    }
    return run(**(base | fields))


def plan_of(a: Assessment) -> Plan:
    assert a.plan is not None, [(f.code, f.summary) for f in a.findings]
    assert a.plan.switch is not None
    return a.plan


def limit(k: Knowledge, indication: str) -> float:
    by = {lim.indication: lim.max_daily_mg for lim in k.switch.pregabalin_limits}
    return by.get(indication, by["*"])


def renal_row(k: Knowledge, label: str) -> PregabalinRenalRow:
    return next(r for r in k.switch.pregabalin_renal.rows if r.label == label)


def column_at_or_below(k: Knowledge, row: PregabalinRenalRow, converted: float) -> float:
    """The low end of the renal row's column whose normal-function dose is at or below ``converted``."""
    normal = k.switch.pregabalin_renal.normal_columns
    index = max(i for i, c in enumerate(normal) if c <= converted)
    return row.columns[index].low


def boundary_cases(k: Knowledge) -> list[tuple[float, float]]:
    """(gabapentin mg/day, pregabalin mg/day) on both sides of each row edge of Toth's table."""
    rows = k.switch.conversion.rows
    out: list[tuple[float, float]] = []
    for row, following in pairwise(rows):
        assert row.up_to_mg is not None
        out += [(row.up_to_mg, row.pregabalin_mg), (row.up_to_mg + 1, following.pregabalin_mg)]
    return out


def test_the_table_is_toths(k: Knowledge) -> None:
    # facts.md §8.4 (PT-FUDIN reproducing Toth 2010): <=900 150; 901-1500 225; 1501-2100 300;
    # 2101-2700 450; >2700 600
    assert boundary_cases(k) == [
        (900, 150),
        (901, 225),
        (1500, 225),
        (1501, 300),
        (2100, 300),
        (2101, 450),
        (2700, 450),
        (2701, 600),
    ]


@pytest.mark.parametrize("daily", [900, 901, 1500, 1501, 2100, 2101, 2700, 2701])
def test_each_row_boundary_converts_by_the_table(k: Knowledge, daily: float) -> None:
    expected = dict(boundary_cases(k))[daily]
    p = plan_of(switch(daily))
    assert p.switch is not None
    assert p.switch.from_daily_mg == daily
    assert p.switch.converted_daily_mg == expected
    # CrCl 90 and PHN: no renal reduction, PHN label maximum (LYR-HL) not reached
    assert p.switch.daily_mg == min(expected, limit(k, "postherpetic-neuralgia"))
    assert p.target_daily_mg == p.switch.daily_mg


def test_above_the_last_row(k: Knowledge) -> None:
    last = k.switch.conversion.rows[-1]
    assert last.up_to_mg is None
    p = plan_of(switch(3600))
    assert p.switch is not None
    assert p.switch.converted_daily_mg == last.pregabalin_mg


@pytest.mark.parametrize(
    ("taken", "times", "normal"),
    [
        # NEU48 §2.3 Table 1: the >30-59 row's columns (BID) and their normal-function doses
        pytest.param(300, 2, 1200, id="300-bid=1200"),
        pytest.param(400, 2, 1800, id="400-bid=1800"),
        pytest.param(500, 2, 2400, id="500-bid=2400"),
        pytest.param(700, 2, 3600, id="700-bid=3600"),
    ],
)
def test_crcl_40_reads_the_dose_back_then_takes_the_renal_column_at_or_below(
    k: Knowledge, taken: float, times: int, normal: float
) -> None:
    # The dose taken at CrCl 40 stands for its column at normal function (D1b); Toth's table is in
    # normal-function doses; then the pregabalin row 30-60 (SOPHIE), columns half the normal doses.
    converted = next(
        r.pregabalin_mg
        for r in k.switch.conversion.rows
        if normal > r.above_mg and (r.up_to_mg is None or normal <= r.up_to_mg)
    )
    row = renal_row(k, "30-60")
    expected = column_at_or_below(k, row, converted)
    p = plan_of(
        run(
            age_years=55,
            crcl_ml_min=40,
            indication="PHN",
            goal="switch",
            current_regimen={"product": "gabapentin", "dose_mg": taken, "times_per_day": times},
        )
    )
    assert p.switch is not None
    assert p.switch.converted_daily_mg == converted
    assert p.switch.daily_mg == expected
    assert expected < converted
    assert p.switch.doses_per_day in row.doses_per_day
    assert "30-60" in p.switch.caveat
    assert f"stands for {normal:g} mg/day" in p.switch.caveat


def test_crcl_exactly_60_uses_the_30_to_60_row(k: Knowledge) -> None:
    # SOPHIE: rows share the edge 60; switch.toml / GG-DECISIONS D1, D13: lower-function row
    shared = [
        r
        for r in k.switch.pregabalin_renal.rows
        if (r.crcl_min is None or r.crcl_min <= 60) and (r.crcl_max is None or r.crcl_max >= 60)
    ]
    assert {r.label for r in shared} == {">=60", "30-60"}
    p = plan_of(switch(2400, crcl_ml_min=60))
    assert p.switch is not None
    assert p.switch.daily_mg == column_at_or_below(k, renal_row(k, "30-60"), 450)
    assert "30-60" in p.switch.caveat


def test_crcl_exactly_30_uses_the_15_to_30_row(k: Knowledge) -> None:
    # 500 mg once daily at CrCl 30 (gabapentin row >15-29, D1) is the 2400 column -> 450
    p = plan_of(switch(500, crcl_ml_min=30))
    row = renal_row(k, "15-30")
    assert p.switch is not None
    assert p.switch.daily_mg == column_at_or_below(k, row, 450)
    assert p.switch.doses_per_day in row.doses_per_day


def test_switch_plan_maximum_respects_the_renal_row(k: Knowledge) -> None:
    # SOPHIE: at CrCl 30-60 the highest pregabalin dose is the row's last column (300 mg/day),
    # not the label maximum for normal kidneys (600 mg/day for PHN, LYR-HL)
    row = renal_row(k, "30-60")
    renal_max = max(c.high for c in row.columns)
    p = plan_of(switch(3600, crcl_ml_min=40))
    assert p.switch is not None
    assert p.switch.daily_mg <= renal_max
    assert p.max_daily_mg is not None
    assert p.max_daily_mg <= renal_max


@pytest.mark.parametrize(
    ("indication", "limit_id"),
    [
        pytest.param("DPN", "diabetic-peripheral-neuropathy", id="dpn-300"),
        pytest.param("fibromyalgia", "fibromyalgia", id="fibromyalgia-450"),
        pytest.param("PHN", "postherpetic-neuralgia", id="phn-600"),
    ],
)
def test_capped_by_the_label_maximum_for_the_indication(
    k: Knowledge, indication: str, limit_id: str
) -> None:
    # LYR-HL: DPN max 300, fibromyalgia max 450, PHN max 600 mg/day
    p = plan_of(switch(3600, indication=indication))
    assert p.switch is not None
    assert p.switch.daily_mg == limit(k, limit_id)
    allowed = next(x for x in k.switch.pregabalin_limits if x.indication == limit_id)
    assert p.switch.doses_per_day in allowed.doses_per_day


def test_dpn_is_capped_at_300_in_three_doses() -> None:
    # facts.md §8.1 (LYR-HL): DPN 3 divided doses, max 300 mg/day
    p = plan_of(switch(3600, indication="DPN"))
    assert p.switch is not None
    assert p.switch.daily_mg == 300
    assert p.switch.doses_per_day == 3


def test_caveat_says_the_table_is_not_a_validated_equivalence(k: Knowledge) -> None:
    # facts.md §8.4: "of the author's creation", so NOT a validated equivalence
    a = switch(1200)
    p = plan_of(a)
    assert p.switch is not None
    assert "not a validated" in p.switch.caveat
    f = next(f for f in a.findings if f.code == "switch.pregabalin")
    assert "not a validated" in f.detail
    assert f.severity == k.finding_kind["switch.pregabalin"].severity
    assert all(c.source in k.source_by_id for c in f.citations)
    assert {"PT-FUDIN", "TOTH"} <= {c.source for c in p.switch.citations}


def test_overnight_switch_needs_no_taper(k: Knowledge) -> None:
    # PT-FUDIN: gabapentin stopped after the night-time dose, pregabalin started next morning
    a = switch(1800)
    assert "taper.required" not in codes(a)
    p = plan_of(a)
    assert p.taper == ()
    assert p.instructions[0] == k.switch.conversion.last_previous_dose
    assert p.switch is not None
    assert p.switch.last_previous_dose == k.switch.conversion.last_previous_dose


def test_switch_without_current_regimen_is_not_possible(k: Knowledge) -> None:
    a = run(age_years=55, crcl_ml_min=90, indication="PHN", goal="switch")
    assert a.plan is None
    assert "switch.not-possible" in codes(a)
    f = next(f for f in a.findings if f.code == "switch.not-possible")
    assert f.severity == k.finding_kind["switch.not-possible"].severity
    assert "current_regimen" in f.detail


def test_plan_is_pregabalin_made_of_its_strengths(k: Knowledge) -> None:
    a = switch(1200)
    p = plan_of(a)
    assert p.product == "pregabalin"
    strengths = {f.strength_mg for f in k.product_by_id["pregabalin"].forms}
    assert p.maintenance is not None
    doses = [*(d for day in p.titration for d in day.doses), *p.maintenance.doses]
    for dose in doses:
        assert {u.strength_mg for u in dose.units} <= strengths
        assert sum(u.strength_mg * u.count for u in dose.units) == pytest.approx(dose.mg)
    assert {d.product for d in a.schedule} == {"pregabalin"}


@settings(deadline=None, max_examples=120)
@given(
    dose=st.sampled_from([100, 200, 300, 400, 600, 800, 900, 1200]),
    times=st.integers(1, 4),
    crcl=st.one_of(st.none(), st.floats(0, 150).map(lambda x: round(x, 1))),
    indication=st.sampled_from(["PHN", "DPN", "fibromyalgia", "epilepsy", "neuropathic pain"]),
)
def test_switch_never_exceeds_table_label_or_renal_limits(
    k: Knowledge, dose: float, times: int, crcl: float | None, indication: str
) -> None:
    fields: dict[str, Any] = {
        "age_years": 55,
        "indication": indication,
        "goal": "switch",
        "current_regimen": {"product": "gabapentin", "dose_mg": dose, "times_per_day": times},
    }
    if crcl is not None:
        fields["crcl_ml_min"] = crcl
    a = run(**fields)
    if a.plan is None:
        assert "switch.not-possible" in codes(a)
        return
    sw = a.plan.switch
    assert sw is not None
    assert sw.daily_mg <= sw.converted_daily_mg
    ind = k.indication_by_name[indication.lower()].id
    assert sw.daily_mg <= limit(k, ind)
    assert "taper.required" not in codes(a)
    for day in (*a.plan.titration, *(() if a.plan.maintenance is None else (a.plan.maintenance,))):
        assert sum(d.mg for d in day.doses) == pytest.approx(sw.daily_mg)
