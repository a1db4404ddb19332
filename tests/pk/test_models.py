"""The gabapentin and pregabalin models against the label and published targets (clinical/pk.md §2).

Targets are read from the knowledge base where they are facts (label bioavailability, half-lives,
CL/F); the tolerances are the issue's acceptance limits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide.errors import InputError
from gabaguide.knowledge import Knowledge
from gabaguide.pk import simulate_regimen
from gabaguide.pk.models import Covariates, load_model


def label(k: Knowledge, suffix: str) -> float:
    return k.pk_parameter_by_id[f"pk.gabapentin.label.{suffix}"].value


@pytest.mark.parametrize("daily_mg", [900, 1200, 2400, 3600, 4800])
def test_bioavailability_follows_the_label_table(k: Knowledge, daily_mg: int) -> None:
    # NEU48 §12.3: 60/47/34/33/27 % at 900/1200/2400/3600/4800 mg/day in three doses; ±0.10.
    sim = simulate_regimen("gabapentin", f"{daily_mg // 3} mg TID", 100, days=2, knowledge=k)
    expected = label(k, f"bioavailability-{daily_mg}") / 100
    assert sim.metrics["bioavailability"].median == pytest.approx(expected, abs=0.10)


# CrCl 77-108 mL/min gives 5-7 h with CL proportional to CrCl; the label's >60 group is about there.
@pytest.mark.parametrize("crcl", [80, 90, 100])
def test_half_life_is_five_to_seven_hours_with_normal_kidneys(k: Knowledge, crcl: float) -> None:
    sim = simulate_regimen("gabapentin", "400 mg TID", crcl, days=1, knowledge=k)
    assert 5.0 <= sim.metrics["half_life_h"].median <= 7.0


def test_half_life_is_about_52_hours_in_severe_impairment(k: Knowledge) -> None:
    # The label's CrCl <30 group has CL/F 20 mL/min, i.e. CL about 10 % of normal: CrCl about 10.
    sim = simulate_regimen("gabapentin", "100 mg QD", 10, days=1, knowledge=k)
    assert sim.metrics["half_life_h"].median == pytest.approx(
        label(k, "half-life-crcl-under-30"), rel=0.15
    )


def test_clearance_falls_about_tenfold_between_the_label_groups(k: Knowledge) -> None:
    model = load_model(k, "gabapentin")
    ratio = model.typical_cl(Covariates(100)) / model.typical_cl(Covariates(10))
    label_ratio = label(k, "cl-f-crcl-over-60") / label(k, "cl-f-crcl-under-30")
    assert ratio == pytest.approx(label_ratio, rel=0.15)


@pytest.mark.parametrize("regimen", ["600 mg TID", "800 mg TID", "1200 mg TID"])
@pytest.mark.parametrize("crcl", [90, 100])
def test_steady_state_average_is_4_to_10_mg_per_l(k: Knowledge, regimen: str, crcl: float) -> None:
    # Healy 2023 (PHN NDA): Cavg 4.1-9.4 mg/L at 1200-3600 mg/day; Chew 2013 Emax: 5.9-8.7.
    sim = simulate_regimen("gabapentin", regimen, crcl, days=4, knowledge=k)
    assert 4.0 <= sim.metrics["cavg_mg_l"].median <= 10.0


def test_single_400_mg_exposure_matches_healthy_volunteers(k: Knowledge) -> None:
    # At steady state the AUC over one interval equals a single dose's AUC to infinity (linear
    # disposition): F·D/CL. Gidal 2000: 34.1 µg·h/mL (CV 24 %); Tran 2017 NCA 23.6: 25-34 expected.
    sim = simulate_regimen("gabapentin", "400 mg QD", 106.3, days=6, knowledge=k)
    auc = sim.metrics["auc_24h_mg_h_l"].median
    assert 25.0 <= auc <= 34.1
    model = load_model(k, "gabapentin")
    exact = model.bioavailability(400) * 400 / model.typical_cl(Covariates(106.3))
    assert auc == pytest.approx(exact, rel=2e-3)  # 15-minute trapezoid over a nearly periodic day


def test_more_than_3600_mg_a_day_adds_little(k: Knowledge) -> None:
    cavg = {
        daily: simulate_regimen("gabapentin", f"{daily // 3} mg TID", 90, days=3, knowledge=k)
        .metrics["cavg_mg_l"]
        .median
        for daily in (1800, 3600, 4800)
    }
    assert cavg[3600] / cavg[1800] < 1.6  # twice the dose, much less than twice the exposure
    assert cavg[4800] / cavg[3600] < 1.2
    sim = simulate_regimen("gabapentin", "1600 mg TID", 90, days=1, knowledge=k)
    assert any("above the label" in note for note in sim.notes)


def test_pregabalin_is_linear(k: Knowledge) -> None:
    low = simulate_regimen("pregabalin", "75 mg BID", 90, days=3, knowledge=k)
    high = simulate_regimen("pregabalin", "300 mg BID", 90, days=3, knowledge=k)
    np.testing.assert_allclose(high.concentrations, 4 * low.concentrations, rtol=1e-6)
    assert low.metrics["bioavailability"].median == 1.0


def test_pregabalin_says_what_it_assumed(k: Knowledge) -> None:
    plain = simulate_regimen("pregabalin", "150 mg BID", 90, days=1, knowledge=k)
    assert any("weight not given" in a for a in plain.assumptions)
    assert any("sex not given" in a for a in plain.assumptions)
    woman = simulate_regimen(
        "pregabalin", "150 mg BID", 90, days=1, weight_kg=55, sex="female", knowledge=k
    )
    assert woman.assumptions == ()
    # Smaller, female: smaller V/F and CL/F -> higher concentrations.
    assert woman.metrics["cavg_mg_l"].median > plain.metrics["cavg_mg_l"].median


def test_hemodialysis_session_has_the_label_half_life(k: Knowledge) -> None:
    # Anuric on dialysis: 3.8 h during a session, about 132 h between (CrCl ~4 in this model).
    sim = simulate_regimen(
        "gabapentin", "300 mg QD", 4, days=3, dialysis_days=[2], dialysis_start="12:00",
        knowledge=k,
    )  # fmt: skip
    start, end = sim.dialysis_h[0]
    c = sim.concentrations[:, 0].astype(float)
    t = sim.times_h
    before, after = c[np.argmin(abs(t - start))], c[np.argmin(abs(t - end))]
    half_life = (end - start) * math.log(2) / math.log(before / after)
    assert half_life == pytest.approx(label(k, "half-life-anuric-on-dialysis"), rel=0.10)


def test_a_supplement_after_dialysis_is_a_dose(k: Knowledge) -> None:
    sim = simulate_regimen(
        "gabapentin", "100 mg QD", 5, days=3, dialysis_days=[0, 2], after_dialysis_mg=125,
        knowledge=k,
    )  # fmt: skip
    supplements = [d for d in sim.doses if d.amount_mg == 125]
    assert [d.time_h for d in supplements] == [end for _, end in sim.dialysis_h]


def test_antacid_within_two_hours_lowers_bioavailability_by_the_label_fifth(k: Knowledge) -> None:
    plain = simulate_regimen(
        "gabapentin", "300 mg TID", 90, days=2, times=["08:00", "14:00", "22:00"], knowledge=k
    )
    near = simulate_regimen(
        "gabapentin", "300 mg TID", 90, days=2, times=["08:00", "14:00", "22:00"],
        antacid_times=["07:00", "13:00", "21:00"], knowledge=k,
    )  # fmt: skip
    spaced = simulate_regimen(
        "gabapentin", "300 mg TID", 90, days=2, times=["08:00", "14:00", "22:00"],
        antacid_times=["06:00", "12:00", "20:00"], knowledge=k,
    )  # fmt: skip
    reduction = label(k, "antacid-bioavailability-reduction") / 100
    f = plain.metrics["bioavailability"].median
    assert near.metrics["bioavailability"].median == pytest.approx(f * (1 - reduction))
    assert spaced.metrics["bioavailability"].median == pytest.approx(f)
    assert any("antacid" in note for note in near.notes)


def test_population_is_reproducible_and_spreads_around_the_typical(k: Knowledge) -> None:
    a = simulate_regimen("gabapentin", "400 mg TID", 90, days=2, n=400, seed=7, knowledge=k)
    b = simulate_regimen("gabapentin", "400 mg TID", 90, days=2, n=400, seed=7, knowledge=k)
    typical = simulate_regimen("gabapentin", "400 mg TID", 90, days=2, knowledge=k)
    np.testing.assert_array_equal(a.concentrations, b.concentrations)
    m = a.metrics["cavg_mg_l"]
    assert m.p5 < typical.metrics["cavg_mg_l"].median < m.p95
    assert np.all(a.percentiles[5] <= a.percentiles[50])
    assert np.all(a.percentiles[50] <= a.percentiles[95])
    shares = simulate_regimen(
        "gabapentin", "400 mg TID", 90, days=2, n=400, seed=7, thresholds_mg_l=[2.0], knowledge=k
    ).shares_above[2.0]
    assert 0.0 < shares["trough"] <= shares["average"] <= shares["peak"] <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"days": 0}, "days"),
        ({"n": 0}, "n"),
        ({"crcl_ml_min": -5}, "crcl"),
        ({"regimen": "400 mg thrice"}, "regimen frequency"),
        ({"regimen": "four hundred"}, "regimen must look like"),
        ({"regimen": "400 mg q7h"}, "q<N>h"),
        (
            {"times": ["08:00"]},
            "times must give 3",
        ),  # the Python argument's name; the CLI says --times
        ({"antacid_times": ["25:00"]}, "antacid time"),
        ({"drug": "pregabalin", "dialysis_days": [0]}, "dialysis is not modelled"),
        ({"dialysis_days": [9]}, "dialysis days"),
    ],
)
def test_bad_scenarios_name_the_field(k: Knowledge, kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"drug": "gabapentin", "regimen": "400 mg TID", "crcl_ml_min": 90}
    args |= kwargs
    with pytest.raises(InputError) as err:
        simulate_regimen(knowledge=k, days=int(args.pop("days", 2)), **args)  # type: ignore[arg-type]
    assert any(field in p for p in err.value.problems), err.value.problems


@settings(max_examples=25, deadline=None)
@given(
    low=st.floats(25, 1600),
    extra=st.floats(1, 1600),
    crcl=st.floats(5, 150),
    regimen=st.sampled_from(["QD", "BID", "TID", "QID"]),
)
def test_more_dose_never_lowers_exposure(
    k: Knowledge, low: float, extra: float, crcl: float, regimen: str
) -> None:
    small = simulate_regimen("gabapentin", f"{low:.3f} mg {regimen}", crcl, days=2, knowledge=k)
    large = simulate_regimen(
        "gabapentin", f"{low + extra:.3f} mg {regimen}", crcl, days=2, knowledge=k
    )
    assert np.all(small.concentrations >= 0)
    assert np.all(large.concentrations >= small.concentrations)
    assert large.metrics["auc_24h_mg_h_l"].median > small.metrics["auc_24h_mg_h_l"].median


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 101, 4000])
def test_percentiles_equal_numpys(n: int) -> None:
    from gabaguide.pk.simulate import PERCENTILES, _percentiles

    conc = np.random.default_rng(n).lognormal(size=(37, n)).astype(np.float32)
    ours = _percentiles(conc)
    expected = np.percentile(conc.astype(np.float64), PERCENTILES, axis=1)
    for p, row in zip(PERCENTILES, expected, strict=True):
        np.testing.assert_allclose(ours[p], row, rtol=1e-12)


def test_a_dose_above_the_renal_row_is_pointed_out(k: Knowledge) -> None:
    # NEU48 §2.3 Table 1: CrCl 15-29 -> 200-700 mg/day; 400 mg TID is 1200 mg/day.
    impaired = simulate_regimen("gabapentin", "400 mg TID", 25, days=1, knowledge=k)
    assert any("renal maximum of 700 mg/day" in note for note in impaired.notes)
    normal = simulate_regimen("gabapentin", "400 mg TID", 90, days=1, knowledge=k)
    assert not any("renal maximum" in note for note in normal.notes)
