"""Tapers: at least a week, never rising, real strengths, product rules."""

from __future__ import annotations

import pytest

from tests.conftest import codes, run


@pytest.mark.parametrize(
    ("dose", "times", "levels"),
    [
        # General rule D7: 75 %, 50 %, 25 % of the daily dose, rounded down to real strengths
        pytest.param(600, 3, [1200, 900, 300], id="1800-tid"),
        pytest.param(400, 3, [900, 600, 300], id="1200-tid"),
        pytest.param(300, 1, [200, 100, 75], id="300-qd-solids-then-solution"),
        pytest.param(100, 1, [75, 50, 25], id="100-qd"),
    ],
)
def test_general_taper(dose: float, times: int, levels: list[float]) -> None:
    a = run(
        age_years=50,
        crcl_ml_min=90,
        goal="stop",
        current_regimen={"product": "gabapentin", "dose_mg": dose, "times_per_day": times},
    )
    assert "taper.required" in codes(a)
    assert a.plan is not None
    steps = list(dict.fromkeys(d.daily_mg for d in a.plan.taper))
    assert steps == levels
    assert len(a.plan.taper) >= 7  # NEU48 §2.5: at least 1 week
    assert [d.day for d in a.plan.taper] == list(range(1, len(a.plan.taper) + 1))


def test_horizant_taper_is_once_daily_for_a_week() -> None:
    # HORIZ Table 2: 600 mg in the morning for 1 week before stopping
    a = run(
        age_years=50,
        crcl_ml_min=90,
        indication="PHN",
        goal="stop",
        current_regimen={"product": "horizant", "dose_mg": 600, "times_per_day": 2},
    )
    assert a.plan is not None
    assert len(a.plan.taper) == 7
    assert {(d.daily_mg, d.doses[0].time) for d in a.plan.taper} == {(600, "08:00")}


def test_horizant_below_15_needs_no_taper() -> None:
    a = run(
        age_years=50,
        crcl_ml_min=10,
        indication="PHN",
        goal="stop",
        current_regimen={"product": "horizant", "dose_mg": 300, "times_per_day": 1},
    )
    assert "taper.not-needed" in codes(a)


def test_stop_without_current_regimen() -> None:
    a = run(age_years=50, goal="stop")
    assert {"taper.required", "taper.no-current-regimen"} <= codes(a)
    assert a.plan is None


def test_renal_band_limits_taper_frequency() -> None:
    a = run(
        age_years=80,
        crcl_ml_min=40,
        goal="switch",
        current_regimen={"product": "gabapentin", "dose_mg": 300, "times_per_day": 3},
    )
    assert a.plan is not None
    assert all(len(d.doses) <= 2 for d in a.plan.taper)


def test_child_taper_ignores_the_adult_renal_table() -> None:
    # The renal table is for 12 years and older (NEU48 §2.3, §8.6): a child's measured CrCl of 20
    # must not cut the taper to the adult once-daily frequency.
    a = run(
        age_years=8,
        weight_kg=25,
        crcl_ml_min=20,
        goal="stop",
        current_regimen={"product": "gabapentin", "dose_mg": 200, "times_per_day": 3},
    )
    assert a.plan is not None
    assert a.plan.taper
    assert len(a.plan.taper[0].doses) == 3
