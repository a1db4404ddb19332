"""Kidney function: Cockcroft-Gault in both units, the label's bands at and around every edge."""

from __future__ import annotations

import pytest

from gabaguide import Knowledge
from gabaguide.clinical.renal import cockcroft_gault, creatinine_mg_dl, renal_range
from tests.conftest import codes, run


@pytest.mark.parametrize(
    ("age", "weight", "female", "scr", "expected"),
    [
        # (140 - age) x weight / (72 x SCr), x 0.85 for females [GRALISE §2.2; HORIZ §2]
        pytest.param(40, 72, False, 1.0, 100.0, id="male-40y-72kg-scr1"),
        pytest.param(40, 72, True, 1.0, 85.0, id="female-factor-0.85"),
        pytest.param(80, 60, False, 2.0, 25.0, id="elderly-ckd"),
        pytest.param(100, 36, True, 0.5, 34.0, id="low-creatinine"),
    ],
)
def test_cockcroft_gault(
    k: Knowledge, age: float, weight: float, female: bool, scr: float, expected: float
) -> None:
    assert cockcroft_gault(age, weight, female, scr, k) == pytest.approx(expected)


def test_creatinine_units_agree(k: Knowledge) -> None:
    # 1 mg/dL = 88.4 umol/L [SI-CREATININE]
    assert creatinine_mg_dl(88.4, "umol/L", k) == pytest.approx(1.0)
    assert creatinine_mg_dl(1.3, "mg/dL", k) == 1.3
    mgdl = run(
        age_years=70, sex="male", weight_kg=70, serum_creatinine={"value": 1.2, "unit": "mg/dL"}
    )
    umol = run(
        age_years=70,
        sex="male",
        weight_kg=70,
        serum_creatinine={"value": 1.2 * 88.4, "unit": "umol/L"},
    )
    assert mgdl.renal.crcl_ml_min == umol.renal.crcl_ml_min == pytest.approx(56.7, abs=0.1)
    assert mgdl.renal.method == "cockcroft-gault"


# Immediate-release gabapentin, NEU48 §2.3 Table 1; gaps resolved by the lower-function rule (D1).
IR_BANDS = [
    pytest.param(250, ">=60", 900, 3600, 3, False, id="250-top"),
    pytest.param(60, ">=60", 900, 3600, 3, False, id="60-edge-inclusive"),
    pytest.param(59.9, ">30 to 59", 400, 1400, 2, True, id="59.9-gap-to-lower-row"),
    pytest.param(59.5, ">30 to 59", 400, 1400, 2, True, id="59.5-gap"),
    pytest.param(59, ">30 to 59", 400, 1400, 2, False, id="59-printed-edge"),
    pytest.param(30.1, ">30 to 59", 400, 1400, 2, False, id="30.1-inside"),
    pytest.param(30, ">15 to 29", 200, 700, 1, True, id="30-exactly-falls-in-no-row"),
    pytest.param(29.5, ">15 to 29", 200, 700, 1, True, id="29.5-gap"),
    pytest.param(29, ">15 to 29", 200, 700, 1, False, id="29-printed-edge"),
    pytest.param(15.1, ">15 to 29", 200, 700, 1, False, id="15.1-inside"),
    pytest.param(15, "15", 100, 300, 1, False, id="15-own-row"),
]


@pytest.mark.parametrize(("crcl", "band", "lo", "hi", "dpd", "gap"), IR_BANDS)
def test_ir_bands_and_gap_rule(
    crcl: float, band: str, lo: float, hi: float, dpd: int, gap: bool
) -> None:
    a = run(age_years=60, crcl_ml_min=crcl, indication="PHN")
    assert a.renal.method == "measured"
    assert (a.renal.band, a.renal.daily_min_mg, a.renal.daily_max_mg) == (band, lo, hi)
    assert a.renal.doses_per_day == dpd
    assert ("renal.band-gap" in codes(a)) is gap
    if crcl < 60:
        assert "renal.adjust" in codes(a)
    assert all(f.citations for f in a.findings)


@pytest.mark.parametrize(
    ("crcl", "lo", "hi"),
    [
        # CrCl <15: reduce in proportion; 7.5 mL/min gets half the 15 mL/min dose [NEU48 §2.3 footnote]
        pytest.param(7.5, 50, 150, id="7.5-half"),
        pytest.param(14.9, 99.3, 298, id="14.9"),
        pytest.param(3, 20, 60, id="3"),
        pytest.param(0, 0, 0, id="anuric"),
    ],
)
def test_below_15_is_proportional(crcl: float, lo: float, hi: float) -> None:
    a = run(age_years=60, crcl_ml_min=crcl, indication="PHN")
    assert (a.renal.daily_min_mg, a.renal.daily_max_mg) == (pytest.approx(lo), pytest.approx(hi))
    assert "renal.below-table" in codes(a)


@pytest.mark.parametrize(
    ("crcl", "band", "action"),
    [
        # Gralise §2.2 Table 2: 60 and 30 are printed in two rows; lower-function row wins (D1)
        pytest.param(61, ">=60", "dose", id="61"),
        pytest.param(60, "30 to 60", "dose", id="60-overlap-lower-row"),
        pytest.param(30, "30 to 60", "dose", id="30"),
        pytest.param(29.9, "<30", "avoid", id="29.9-do-not-give"),
    ],
)
def test_gralise_bands(k: Knowledge, crcl: float, band: str, action: str) -> None:
    rng = renal_range(k, "gralise", "postherpetic-neuralgia", crcl, "none")
    assert rng is not None
    assert (rng.label, rng.band.action) == (band, action)


def test_gralise_not_on_hemodialysis() -> None:
    a = run(
        age_years=60, crcl_ml_min=10, dialysis="hemodialysis", indication="PHN", product="gralise"
    )
    assert a.plan is None
    assert "renal.product-not-recommended" in codes(a)
    assert a.findings[0].severity == "contraindicated"


@pytest.mark.parametrize(
    ("crcl", "target", "maintenance", "supplement"),
    [
        # NEU48 §2.3 Table 1: maintenance from the CrCl row, supplement from the same column
        # (900->100/125, 1200->125/150, 1800->150/200, 2400->200/250, 3600->300/350)
        pytest.param(15, 900, 100, 125, id="15-col1"),
        pytest.param(15, 1200, 125, 150, id="15-col2"),
        pytest.param(15, 1800, 150, 200, id="15-col3"),
        pytest.param(15, 2400, 200, 250, id="15-col4"),
        pytest.param(15, 3600, 300, 350, id="15-col5"),
        # below 15: the row scaled by CrCl/15; the supplement keeps the column (footnotes a, b)
        pytest.param(7.5, 3600, 150, 350, id="7.5-col5"),
        pytest.param(7.5, 1800, 75, 200, id="7.5-col3"),
    ],
)
def test_hemodialysis_supplement(
    crcl: float, target: float, maintenance: float, supplement: float
) -> None:
    a = run(
        age_years=60,
        crcl_ml_min=crcl,
        dialysis="hemodialysis",
        indication="PHN",
        target_daily_mg=target,
    )
    assert a.plan is not None
    assert a.plan.maintenance is not None
    assert a.plan.maintenance.daily_mg == maintenance
    assert a.renal.hemodialysis_supplement_mg == supplement
    assert "renal.hemodialysis-supplement" in codes(a)


def test_hemodialysis_without_crcl_is_not_guessed() -> None:
    a = run(age_years=60, dialysis="hemodialysis", indication="PHN")
    assert {"renal.hemodialysis-no-crcl", "renal.not-checked"} <= codes(a)
    assert a.renal.crcl_ml_min is None
    assert a.renal.band is None


@pytest.mark.parametrize(
    "missing",
    ["serum_creatinine", "age_years", "weight_kg", "sex"],
)
def test_missing_data_means_not_checked(missing: str) -> None:
    fields = {
        "age_years": 60,
        "sex": "male",
        "weight_kg": 80,
        "serum_creatinine": {"value": 1.0, "unit": "mg/dL"},
        "indication": "PHN",
    }
    del fields[missing]
    a = run(**fields)
    assert a.renal.method == "not-available"
    assert a.renal.band is None
    found = next(f for f in a.findings if f.code == "renal.not-checked")
    assert missing in found.detail
    assert found.severity == "warning"


def test_measured_crcl_overrides_creatinine() -> None:
    a = run(
        age_years=30,
        sex="male",
        weight_kg=80,
        serum_creatinine={"value": 0.8, "unit": "mg/dL"},
        crcl_ml_min=25,
    )
    assert a.renal.method == "measured"
    assert a.renal.crcl_ml_min == 25
    assert a.renal.band == ">15 to 29"


def test_children_get_no_cockcroft_gault() -> None:
    a = run(age_years=8, sex="male", weight_kg=25, serum_creatinine={"value": 0.5, "unit": "mg/dL"})
    assert a.renal.crcl_ml_min is None
    assert "renal.pediatric-not-studied" in codes(a)
    assert "renal.not-checked" not in codes(a)


def test_peritoneal_dialysis_is_flagged() -> None:
    a = run(age_years=60, crcl_ml_min=8, dialysis="peritoneal", indication="PHN")
    assert "renal.peritoneal-dialysis" in codes(a)


def test_banding_uses_the_unrounded_estimate() -> None:
    # Cockcroft-Gault 59.96 mL/min is shown as 60.0 but is below 60: the lower row (D1)
    a = run(
        age_years=40, sex="male", weight_kg=43.17, serum_creatinine={"value": 1.0, "unit": "mg/dL"}
    )
    assert a.renal.crcl_ml_min == 60.0
    assert a.renal.band == ">30 to 59"
    assert "renal.band-gap" in codes(a)
