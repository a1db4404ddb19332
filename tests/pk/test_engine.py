"""The PK event engine (docs/pk.md) against closed forms derived by hand, and its data set and CLI.

Every expected value is an independent formula written here (Bateman function, infusion and
steady-state sums of geometric series, piecewise exponentials), or an equivalent history the engine
is asked to solve the long way (explicit repeated doses for ADDL and SS). Concentrations are the
central amount over V; the engine's own transfer factors are never used to compute expectations.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from gabaguide.errors import InputError
from gabaguide.pk.dataset import read_dataset, run_dataset
from gabaguide.pk.engine import Dose, Event, Evid, Kinetics, PhaseChange, solve

Array = npt.NDArray[np.float64]

KA, K, V = 1.2, 0.15, 40.0  # 1/h, 1/h, L: CL = K·V = 6 L/h
TIMES = np.array([0.05, 0.25, 0.5, 1, 1.5, 2, 3, 4, 6, 8, 12, 16, 24, 36, 48, 72], dtype=float)


# --- building histories -------------------------------------------------------------------------


def kinetics(
    ka: float | Sequence[float] = KA,
    k: float | Sequence[float] = K,
    *more_k: float | Sequence[float],
) -> Kinetics:
    """Kinetics for one subject (scalars) or several (sequences); ``more_k`` are further phases."""
    ka_arr = np.atleast_1d(np.asarray(ka, dtype=float))
    phases = tuple(
        np.broadcast_to(np.asarray(x, dtype=float), ka_arr.shape).copy() for x in (k, *more_k)
    )
    return Kinetics(ka=ka_arr, k_by_phase=phases, v=np.full(ka_arr.shape, V))


def dose(time: float, cmt: int, amount: float, **items: Any) -> Event:
    return Event(time=time, evid=Evid.DOSE, dose=Dose(cmt=cmt, amount=amount, **items))


def reset(time: float) -> Event:
    return Event(time=time, evid=Evid.RESET)


def reset_and_dose(time: float, cmt: int, amount: float, **items: Any) -> Event:
    return Event(time=time, evid=Evid.RESET_AND_DOSE, dose=Dose(cmt=cmt, amount=amount, **items))


def concentrations(
    records: Sequence[Event],
    times: Sequence[float] | Array,
    kin: Kinetics | None = None,
    phase_changes: Sequence[PhaseChange] = (),
) -> Array:
    """Concentrations at ``times``, shape (times, subjects): the records in their order, each
    observation placed after the records at its own time."""
    kin = kinetics() if kin is None else kin
    obs = [Event(time=float(t), evid=Evid.OBSERVATION, output=i) for i, t in enumerate(times)]
    events = sorted([*records, *obs], key=lambda e: (e.time, e.evid is Evid.OBSERVATION))
    return solve(events, kin, len(obs), phase_changes) / kin.v


def conc(
    records: Sequence[Event],
    times: Sequence[float] | Array,
    kin: Kinetics | None = None,
    phase_changes: Sequence[PhaseChange] = (),
) -> Array:
    """Concentrations of a single subject."""
    return concentrations(records, times, kin, phase_changes)[:, 0]


# --- closed forms (concentrations; zero before the dose) -------------------------------------------


def bateman(t: Array, amount: float, ka: float = KA, k: float = K) -> Array:
    """Depot bolus at 0: C = D·ka/(V(ka-k))·(e^{-kt} - e^{-ka·t})."""
    t = np.asarray(t, dtype=float)
    s = np.maximum(t, 0.0)
    c = amount * ka / (V * (ka - k)) * (np.exp(-k * s) - np.exp(-ka * s))
    return np.where(t >= 0, c, 0.0)


def central_bolus(t: Array, amount: float, k: float = K) -> Array:
    """Central bolus at 0: C = D/V·e^{-kt}."""
    t = np.asarray(t, dtype=float)
    return np.where(t >= 0, amount / V * np.exp(-k * np.maximum(t, 0.0)), 0.0)


def central_infusion(t: Array, rate: float, duration: float, k: float = K) -> Array:
    """Zero-order input R over [0, T] into the central compartment:
    C = R/(kV)(1 - e^{-kt}) while it runs, then R/(kV)(1 - e^{-kT})·e^{-k(t-T)}."""
    t = np.asarray(t, dtype=float)
    during = rate / (k * V) * (1 - np.exp(-k * np.clip(t, 0.0, None)))
    after = rate / (k * V) * (1 - np.exp(-k * duration)) * np.exp(-k * (t - duration))
    return np.where(t < 0, 0.0, np.where(t <= duration, during, after))


def depot_infusion(t: Array, rate: float, duration: float, ka: float = KA, k: float = K) -> Array:
    """Zero-order input R over [0, T] into the depot, by superposition g(t) - g(t-T) of the
    unending infusion g(t) = R·ka/(V(ka-k))·((1 - e^{-kt})/k - (1 - e^{-ka·t})/ka)."""

    def g(s: Array) -> Array:
        u = np.maximum(s, 0.0)
        return rate * ka / (V * (ka - k)) * ((1 - np.exp(-k * u)) / k - (1 - np.exp(-ka * u)) / ka)

    t = np.asarray(t, dtype=float)
    return g(t) - g(t - duration)


# --- 1. single depot bolus ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ka", "k"),
    [
        pytest.param(1.2, 0.15, id="usual"),
        pytest.param(0.05, 0.3, id="flip-flop-ka-below-k"),
        pytest.param(5.0, 0.01, id="fast-absorption-slow-elimination"),
        pytest.param(0.15 * (1 + 1e-4), 0.15, id="ka-within-1e-4-of-k"),
    ],
)
@pytest.mark.parametrize("f", [pytest.param(1.0, id="F1"), pytest.param(0.6, id="F0.6")])
def test_depot_bolus_follows_the_bateman_function(ka: float, k: float, f: float) -> None:
    got = conc([dose(0.0, 1, 300.0, f=f)], TIMES, kinetics(ka, k))
    np.testing.assert_allclose(got, bateman(TIMES, f * 300.0, ka, k), rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    "relative_gap",
    [
        pytest.param(0.0, id="ka-equals-k"),
        pytest.param(1e-11, id="ka-just-above-k"),
        pytest.param(-1e-11, id="ka-just-below-k"),
        pytest.param(1e-14, id="ka-one-ulp-scale-from-k"),
    ],
)
def test_depot_bolus_at_ka_equal_to_k_is_the_flip_flop_limit(relative_gap: float) -> None:
    # lim_{ka→k} D·ka/(ka-k)·(e^{-kt} - e^{-ka·t}) = D·k·t·e^{-kt}; the gap moves it by
    # |gap·(1 - kt/2)| ≤ 5e-11 relative on these times.
    got = conc([dose(0.0, 1, 300.0)], TIMES, kinetics(K * (1 + relative_gap), K))
    np.testing.assert_allclose(got, 300.0 * K * TIMES * np.exp(-K * TIMES) / V, rtol=1e-9, atol=0)


def test_observation_at_the_dose_time_sees_the_dose() -> None:
    got = conc([dose(0.0, 2, 300.0), dose(0.0, 1, 100.0)], [0.0])
    assert got[0] == pytest.approx(300.0 / V, rel=1e-15)


# --- 2. central bolus and zero-order infusions ----------------------------------------------------


def test_central_bolus_decays_exponentially() -> None:
    got = conc([dose(0.0, 2, 500.0, f=0.8)], TIMES)
    np.testing.assert_allclose(got, central_bolus(TIMES, 400.0), rtol=1e-9, atol=0)


INFUSION_TIMES = np.array([0.1, 0.5, 1, 1.9, 2, 2.1, 3, 4, 4.5, 5, 5.5, 8, 12, 24, 48], dtype=float)


@pytest.mark.parametrize(
    ("items", "rate", "duration"),
    [
        pytest.param({"rate": 150.0}, 150.0, 4.0, id="rate-150-lasts-4h"),
        # F scales the amount, the data RATE is kept: duration F·AMT/RATE = 0.5·600/150 = 2 h.
        pytest.param({"rate": 150.0, "f": 0.5}, 150.0, 2.0, id="F-shortens-keeps-rate"),
        # Modelled duration keeps the duration: rate F·AMT/D = 0.5·600/5 = 60.
        pytest.param({"duration": 5.0, "f": 0.5}, 60.0, 5.0, id="modelled-duration-keeps-duration"),
    ],
)
def test_central_infusion_during_and_after(
    items: dict[str, float], rate: float, duration: float
) -> None:
    got = conc([dose(0.0, 2, 600.0, **items)], INFUSION_TIMES)
    expected = central_infusion(INFUSION_TIMES, rate, duration)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


@pytest.mark.parametrize(
    ("items", "rate", "duration"),
    [
        pytest.param({"rate": 150.0}, 150.0, 4.0, id="rate"),
        pytest.param({"rate": 150.0, "f": 0.5}, 150.0, 2.0, id="F-shortens-keeps-rate"),
        pytest.param({"duration": 5.0, "f": 0.5}, 60.0, 5.0, id="modelled-duration"),
    ],
)
def test_depot_infusion_by_superposition(
    items: dict[str, float], rate: float, duration: float
) -> None:
    got = conc([dose(0.0, 1, 600.0, **items)], INFUSION_TIMES)
    expected = depot_infusion(INFUSION_TIMES, rate, duration)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


def table(*rows: dict[str, float | str]) -> dict[str, list[str]]:
    """A data set as text cells, columns in order of first mention; cells not given are blank."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    return {name: [str(row.get(name, "")) for row in rows] for name in names}


def run_table(*rows: dict[str, float | str]) -> Array:
    return run_dataset(read_dataset(table(*rows)), cl=K * V, v=V, ka=KA)


def observations(times: Array, **other: float | str) -> list[dict[str, float | str]]:
    return [{"ID": 1, "TIME": float(t), "EVID": 0, "AMT": 0, "CMT": 2, **other} for t in times]


@pytest.mark.parametrize(
    ("items", "cmt", "rate", "duration"),
    [
        # RATE > 0 with F2: rate kept, duration 0.5·600/150 = 2 h.
        pytest.param({"RATE": 150, "F2": 0.5}, 2, 150.0, 2.0, id="RATE-kept-F2-shortens"),
        # RATE = -1: the modelled rate R2 = 150, duration F2·AMT/R2 = 2 h.
        pytest.param({"RATE": -1, "R2": 150, "F2": 0.5}, 2, 150.0, 2.0, id="RATE-1-uses-R2"),
        # RATE = -2: the modelled duration D2 = 5 h, rate F2·AMT/D2 = 60.
        pytest.param({"RATE": -2, "D2": 5, "F2": 0.5}, 2, 60.0, 5.0, id="RATE-2-uses-D2"),
        # The items of the dose's own compartment count, not the other one's.
        pytest.param(
            {"RATE": -2, "D1": 5, "F1": 0.5, "D2": 99, "F2": 0.1},
            1,
            60.0,
            5.0,
            id="depot-RATE-2-uses-D1-F1",
        ),
        pytest.param(
            {"RATE": -1, "R2": 150, "R1": 7, "F1": 0.2, "D1": 3},
            2,
            150.0,
            4.0,
            id="central-RATE-1-ignores-R1-F1",
        ),
        pytest.param({"RATE": -1, "R1": 300}, 1, 300.0, 2.0, id="depot-RATE-1-uses-R1"),
    ],
)
def test_dataset_resolves_rate_duration_and_f_for_the_dose_compartment(
    items: dict[str, float], cmt: int, rate: float, duration: float
) -> None:
    dose_row: dict[str, float | str] = {"ID": 1, "TIME": 0, "EVID": 1, "AMT": 600, "CMT": cmt}
    cp = run_table(dose_row | items, *observations(INFUSION_TIMES))
    assert np.isnan(cp[0])
    shape = central_infusion if cmt == 2 else depot_infusion
    np.testing.assert_allclose(cp[1:], shape(INFUSION_TIMES, rate, duration), rtol=1e-9, atol=0)


def test_dataset_accepts_lowercase_headers_and_defaults_blank_cells() -> None:
    rows: list[dict[str, float | str]] = [
        {"id": 1, "time": 0, "evid": 1, "amt": 300, "cmt": 1, "f1": ".", "Note": "x"},
        *(
            {"id": 1, "time": float(t), "evid": 0, "amt": 0, "cmt": 2, "f1": "", "Note": "y"}
            for t in TIMES
        ),
    ]
    data = read_dataset(table(*rows))
    assert {"ID", "TIME", "EVID", "AMT", "CMT", "F1"} <= set(data.columns)
    cp = run_dataset(data, cl=K * V, v=V, ka=KA)
    np.testing.assert_allclose(cp[1:], bateman(TIMES, 300.0), rtol=1e-9, atol=0)


def test_dataset_evid2_rows_are_predicted_and_reset_rows_are_not() -> None:
    cp = run_table(
        {"ID": 1, "TIME": 0, "EVID": 1, "AMT": 500, "CMT": 2},
        {"ID": 1, "TIME": 2, "EVID": 2, "AMT": 0, "CMT": 2},
        {"ID": 1, "TIME": 3, "EVID": 3, "AMT": 0, "CMT": 2},
        {"ID": 1, "TIME": 4, "EVID": 0, "AMT": 0, "CMT": 2},
        {"ID": 2, "TIME": 1, "EVID": 0, "AMT": 0, "CMT": 2},
    )
    assert cp[1] == pytest.approx(500 / V * np.exp(-2 * K), rel=1e-12)
    assert np.isnan(cp[0])
    assert np.isnan(cp[2])
    assert cp[3] == 0.0
    assert cp[4] == 0.0  # a new subject starts empty


# --- 3. lag ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmt", "items", "shape"),
    [
        pytest.param(1, {}, lambda t: bateman(t, 300.0), id="depot-bolus"),
        pytest.param(2, {"f": 0.5}, lambda t: central_bolus(t, 150.0), id="central-bolus"),
        pytest.param(2, {"rate": 100.0}, lambda t: central_infusion(t, 100.0, 3.0), id="infusion"),
    ],
)
def test_lag_shifts_the_whole_curve_and_nothing_arrives_before_it(
    cmt: int, items: dict[str, float], shape: Any
) -> None:
    lag = 1.5
    times = np.array([0.0, 0.5, 1.0, 1.4999, 1.5, 1.75, 2.5, 4.0, 5.0, 10.0, 30.0])
    got = conc([dose(0.0, cmt, 300.0, lag=lag, **items)], times)
    assert (got[times < lag] == 0.0).all()
    np.testing.assert_allclose(got, shape(times - lag), rtol=1e-9, atol=0)


# --- 4. ADDL and superposition --------------------------------------------------------------------

ADDL_TIMES = np.array(
    [0, 1, 11.5, 12, 12.25, 23.9, 24, 30, 36, 47, 48, 49, 60, 72, 80], dtype=float
)


@pytest.mark.parametrize(
    ("cmt", "items"),
    [
        pytest.param(1, {}, id="depot-bolus"),
        pytest.param(2, {"f": 0.7}, id="central-bolus-F"),
        pytest.param(1, {"lag": 2.0, "f": 0.8}, id="depot-bolus-lag"),
        pytest.param(2, {"rate": 20.0}, id="infusion-15h-overlapping"),
        pytest.param(1, {"duration": 3.0, "lag": 13.0}, id="depot-infusion-lag-over-ii"),
    ],
)
def test_addl_equals_separate_dose_records(cmt: int, items: dict[str, float]) -> None:
    ii, addl = 12.0, 4
    one = conc([dose(0.0, cmt, 300.0, ii=ii, addl=addl, **items)], ADDL_TIMES)
    many = conc([dose(i * ii, cmt, 300.0, **items) for i in range(addl + 1)], ADDL_TIMES)
    np.testing.assert_allclose(one, many, rtol=1e-12, atol=0)
    assert one[-1] > 0


def test_two_doses_superpose() -> None:
    got = conc([dose(0.0, 1, 300.0), dose(7.0, 1, 200.0, f=0.5), dose(9.0, 2, 50.0)], TIMES)
    expected = bateman(TIMES, 300.0) + bateman(TIMES - 7.0, 100.0) + central_bolus(TIMES - 9, 50.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


# --- 5. steady state ------------------------------------------------------------------------------

II = 12.0
T0 = 400 * II  # the SS record's time: 400 explicit intervals of history fit before it
SS_GRID = T0 + np.arange(0.0, 96.01, 0.75)


def test_ss_bolus_central_is_the_geometric_sum() -> None:
    # Σ_{m≥0} D/V·e^{-k(t+mτ)} = D/V·e^{-kt}/(1 - e^{-kτ}) for 0 ≤ t < τ.
    t = np.arange(0.0, II, 0.5)
    got = conc([dose(5.0, 2, 300.0, ii=II, ss=1)], 5.0 + t)
    np.testing.assert_allclose(
        got, 300.0 / V * np.exp(-K * t) / (1 - np.exp(-K * II)), rtol=1e-9, atol=0
    )


def test_ss_bolus_depot_is_the_geometric_sum() -> None:
    # Σ_m of Bateman terms: D·ka/(V(ka-k))·(e^{-kt}/(1 - e^{-kτ}) - e^{-ka·t}/(1 - e^{-ka·τ})).
    t = np.arange(0.0, II, 0.5)
    got = conc([dose(5.0, 1, 300.0, ii=II, ss=1)], 5.0 + t)
    expected = (
        300.0
        * KA
        / (V * (KA - K))
        * (np.exp(-K * t) / (1 - np.exp(-K * II)) - np.exp(-KA * t) / (1 - np.exp(-KA * II)))
    )
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


def test_ss_short_central_infusion_is_the_geometric_sum() -> None:
    # Trough x0 = R/k·(1 - e^{-kT})·e^{-k(τ-T)}/(1 - e^{-kτ}); during: x0·e^{-kt} + R/k·(1 - e^{-kt});
    # after: (x0·e^{-kT} + R/k·(1 - e^{-kT}))·e^{-k(t-T)}.
    rate, duration = 100.0, 3.0
    t = np.arange(0.0, II, 0.25)
    got = conc([dose(0.0, 2, 300.0, ii=II, ss=1, rate=rate)], t)
    x0 = rate / K * (1 - np.exp(-K * duration)) * np.exp(-K * (II - duration))
    x0 /= 1 - np.exp(-K * II)
    during = x0 * np.exp(-K * t) + rate / K * (1 - np.exp(-K * t))
    end = x0 * np.exp(-K * duration) + rate / K * (1 - np.exp(-K * duration))
    expected = np.where(t <= duration, during, end * np.exp(-K * (t - duration))) / V
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


SS_CASES = [
    pytest.param(1, {}, id="bolus-depot"),
    pytest.param(2, {"f": 0.7}, id="bolus-central"),
    pytest.param(2, {"rate": 100.0}, id="infusion-3h-shorter-than-ii"),
    pytest.param(2, {"rate": 25.0}, id="infusion-12h-equal-to-ii"),
    pytest.param(2, {"rate": 10.0}, id="infusion-30h-longer-than-ii"),
    pytest.param(1, {"rate": 12.5, "f": 0.8}, id="depot-infusion-19.2h-longer-than-ii"),
    pytest.param(2, {"duration": 30.0, "f": 0.5}, id="modelled-duration-30h"),
    pytest.param(1, {"lag": 5.0}, id="lag-shorter-than-ii"),
    pytest.param(1, {"lag": 30.0}, id="lag-longer-than-ii"),
    pytest.param(2, {"lag": 12.0}, id="lag-equal-to-ii"),
    pytest.param(2, {"lag": 24.0, "f": 0.4}, id="lag-twice-ii"),
    pytest.param(2, {"lag": 3.0, "rate": 100.0 / 3.0}, id="lagged-infusion-ending-on-cycle"),
    pytest.param(2, {"lag": 17.0, "rate": 10.0}, id="lagged-infusion-longer-than-ii"),
    pytest.param(2, {"lag": 27.0, "rate": 100.0}, id="infusion-lag-longer-than-ii"),
    pytest.param(1, {"lag": 36.0, "rate": 12.5}, id="depot-infusion-lag-3ii"),
]


@pytest.mark.parametrize(("cmt", "items"), SS_CASES)
def test_ss1_is_the_long_run_limit_of_repeated_doses(cmt: int, items: dict[str, float]) -> None:
    # The SS record at T0 (with 2 additional doses) against 400 explicit doses ending at T0 and
    # the same 2 after; e^{-k·400·τ} = e^{-720}, so the explicit history is the limit.
    explicit = conc([dose(0.0, cmt, 300.0, ii=II, addl=402, **items)], SS_GRID)
    steady = conc([dose(T0, cmt, 300.0, ii=II, addl=2, ss=1, **items)], SS_GRID)
    np.testing.assert_allclose(steady, explicit, rtol=1e-9, atol=0)


@pytest.mark.parametrize(("cmt", "items"), SS_CASES)
def test_ss2_adds_to_the_current_amounts_and_ss1_replaces_them(
    cmt: int, items: dict[str, float]
) -> None:
    # Before the SS record at 20: a central bolus at 0, a depot dose with ADDL still pending at 24
    # and 48, and a central infusion running from 10 to 40.
    before = [
        dose(0.0, 2, 1000.0),
        dose(0.0, 1, 200.0, ii=24.0, addl=2),
        dose(10.0, 2, 600.0, rate=20.0),
    ]
    t = 20.0 + np.arange(0.0, 80.0, 0.5)
    existing = (
        central_bolus(t, 1000.0)
        + sum(bateman(t - s, 200.0) for s in (0.0, 24.0, 48.0))
        + central_infusion(t - 10.0, 20.0, 30.0)
    )
    profile = conc([dose(20.0, cmt, 300.0, ii=II, ss=1, **items)], t)
    ss2 = conc([*before, dose(20.0, cmt, 300.0, ii=II, ss=2, **items)], t)
    ss1 = conc([*before, dose(20.0, cmt, 300.0, ii=II, ss=1, **items)], t)
    np.testing.assert_allclose(ss2, existing + profile, rtol=1e-9, atol=0)
    np.testing.assert_allclose(ss1, profile, rtol=1e-12, atol=0)


@pytest.mark.parametrize("cmt", [pytest.param(1, id="depot"), pytest.param(2, id="central")])
def test_steady_infusion_sets_the_steady_state_and_stops(cmt: int) -> None:
    # AMT 0, RATE 50, SS 1, II 0 at t0 = 10: central R/k (and depot R/ka); like NONMEM 7.4.3 the
    # infusion does not go on, so the amounts then decay freely. The earlier bolus is discarded.
    rate = 50.0
    t = np.array([0.0, 0.5, 2.0, 6.0, 24.0])
    got = conc([dose(0.0, 2, 1000.0), dose(10.0, cmt, 0.0, rate=rate, ss=1)], 10.0 + t)
    central = rate / (K * V) * np.exp(-K * t)
    from_depot = rate / (KA * V) * KA / (KA - K) * (np.exp(-K * t) - np.exp(-KA * t))
    expected = central + (from_depot if cmt == 1 else 0.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


def test_ss_in_a_clearance_phase_uses_that_phase() -> None:
    # The steady state of a record given while phase 1 is in force is the one with k1 throughout.
    t = 30.0 + np.arange(0.0, 40.0, 0.5)
    record = [dose(30.0, 1, 300.0, ii=II, ss=1, addl=2, lag=15.0)]
    got = conc(record, t, kinetics(KA, K, 0.4), [PhaseChange(20.0, 1)])
    np.testing.assert_allclose(got, conc(record, t, kinetics(KA, 0.4)), rtol=1e-12, atol=0)


# --- 6. resets ------------------------------------------------------------------------------------


def test_evid3_zeroes_and_cancels_additional_doses() -> None:
    times = np.array([1.0, 5.0, 6.0, 12.0, 12.5, 30.0, 40.0])
    got = conc([dose(0.0, 1, 300.0, ii=12.0, addl=3), reset(5.0)], times)
    assert got[0] == pytest.approx(float(bateman(np.array(1.0), 300.0)), rel=1e-9)
    assert (got[1:] == 0.0).all()


def test_evid3_stops_a_running_infusion_and_a_pending_lagged_dose() -> None:
    times = np.array([4.0, 6.0, 9.0, 10.0, 15.0, 20.0, 21.0, 30.0])
    records = [
        dose(0.0, 2, 600.0, rate=60.0),  # would run until 10
        dose(0.0, 1, 300.0, lag=8.0),  # would arrive at 8
        reset(4.0),
        dose(20.0, 2, 100.0),
    ]
    got = conc(records, times)
    assert (got[:5] == 0.0).all()
    np.testing.assert_allclose(got[5:], central_bolus(times[5:] - 20.0, 100.0), rtol=1e-12, atol=0)


def test_evid4_resets_then_doses() -> None:
    times = np.array([5.0, 5.5, 12.0, 24.0, 30.0])
    records = [dose(0.0, 2, 1000.0, ii=12.0, addl=2), reset_and_dose(5.0, 1, 200.0)]
    got = conc(records, times)
    np.testing.assert_allclose(got, bateman(times - 5.0, 200.0), rtol=1e-9, atol=0)


# --- 7. arrays over subjects ----------------------------------------------------------------------

HISTORY = [
    dose(0.0, 1, 300.0, ii=II, addl=2, ss=1, lag=30.0),
    dose(40.0, 2, 300.0, rate=50.0),
    dose(44.0, 1, 100.0, ii=8.0, addl=3, f=0.5, lag=1.0),
    reset(80.0),
    dose(81.0, 2, 200.0, ii=II, ss=2, rate=10.0),
]
HISTORY_TIMES = np.arange(0.0, 120.0, 0.7)


def test_subjects_solved_together_equal_subjects_solved_alone() -> None:
    kas, ks, k1s = [0.5, 1.2, 3.0], [0.05, 0.15, 0.6], [0.4, 0.9, 1.1]
    changes = [PhaseChange(50.0, 1), PhaseChange(54.0, 0)]
    together = concentrations(HISTORY, HISTORY_TIMES, kinetics(kas, ks))
    together_hd = concentrations(HISTORY, HISTORY_TIMES, kinetics(kas, ks, k1s), changes)
    for i in range(3):
        alone = conc(HISTORY, HISTORY_TIMES, kinetics(kas[i], ks[i]))
        alone_hd = conc(HISTORY, HISTORY_TIMES, kinetics(kas[i], ks[i], k1s[i]), changes)
        np.testing.assert_allclose(together[:, i], alone, rtol=1e-13, atol=0)
        np.testing.assert_allclose(together_hd[:, i], alone_hd, rtol=1e-13, atol=0)


def test_bolus_bioavailability_per_subject() -> None:
    fs = np.array([0.3, 0.65, 1.0])
    records = [dose(0.0, 1, 300.0, f=fs, ii=12.0, addl=1), dose(30.0, 2, 100.0, f=fs, ii=II, ss=2)]
    together = concentrations(records, TIMES, kinetics([KA] * 3, [K] * 3))
    for i, f in enumerate(fs):
        alone = conc(
            [
                dose(0.0, 1, 300.0, f=float(f), ii=12.0, addl=1),
                dose(30.0, 2, 100.0, f=float(f), ii=II, ss=2),
            ],
            TIMES,
        )
        np.testing.assert_allclose(together[:, i], alone, rtol=1e-13, atol=0)
    np.testing.assert_allclose(
        together[TIMES < 12.0], np.outer(bateman(TIMES[TIMES < 12.0], 300.0), fs), rtol=1e-9, atol=0
    )


# --- 8. time-varying elimination (hemodialysis) -----------------------------------------------------

K0, K1 = 0.1, 0.6


def test_phase_change_switches_elimination_of_a_central_bolus() -> None:
    # e^{-k0·t} before 10; e^{-10·k0}·e^{-k1(t-10)} during the session to 14; then back to k0.
    t = np.array([0.0, 5.0, 9.99, 10.0, 11.0, 13.5, 14.0, 15.0, 30.0])
    got = conc(
        [dose(0.0, 2, 400.0)],
        t,
        kinetics(KA, K0, K1),
        [PhaseChange(10.0, 1), PhaseChange(14.0, 0)],
    )
    decay = np.where(
        t < 10,
        np.exp(-K0 * t),
        np.where(
            t < 14,
            np.exp(-K0 * 10) * np.exp(-K1 * (t - 10)),
            np.exp(-K0 * 10) * np.exp(-K1 * 4) * np.exp(-K0 * (t - 14)),
        ),
    )
    np.testing.assert_allclose(got, 400.0 / V * decay, rtol=1e-9, atol=0)


def test_phase_change_during_absorption_and_infusion() -> None:
    # After T = 3 with k1: A2 = A2(T)·e^{-k1·s} + A1(T)·ka/(ka-k1)·(e^{-k1·s} - e^{-ka·s}), and the
    # infusion adds R/k1·(1 - e^{-k1·s}) on top of its amount at T, R/k0·(1 - e^{-k0·T}).
    switch, rate = 3.0, 20.0
    s = np.array([0.0, 0.5, 1.0, 4.0, 10.0])
    got = conc(
        [dose(0.0, 1, 300.0), dose(0.0, 2, 600.0, rate=rate)],  # infusion runs to 30
        switch + s,
        kinetics(KA, K0, K1),
        [PhaseChange(switch, 1)],
    )
    a1 = 300.0 * np.exp(-KA * switch)
    a2_bolus = V * float(bateman(np.array(switch), 300.0, KA, K0))
    a2_infusion = rate / K0 * (1 - np.exp(-K0 * switch))
    expected = (
        (a2_bolus + a2_infusion) * np.exp(-K1 * s)
        + a1 * KA / (KA - K1) * (np.exp(-K1 * s) - np.exp(-KA * s))
        + rate / K1 * (1 - np.exp(-K1 * s))
    ) / V
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


def test_phase_changes_survive_a_reset() -> None:
    t = np.array([12.0, 20.0])
    got = conc([reset(5.0), dose(8.0, 2, 400.0)], t, kinetics(KA, K0, K1), [PhaseChange(10.0, 1)])
    expected = 400.0 / V * np.exp(-K0 * 2.0) * np.exp(-K1 * (t - 10.0))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0)


# --- 9. data set validation -------------------------------------------------------------------------


def base_rows() -> list[dict[str, float | str]]:
    return [
        {
            "ID": 1,
            "TIME": 0,
            "EVID": 1,
            "AMT": 300,
            "CMT": 1,
            "II": 12,
            "ADDL": 0,
            "SS": 0,
            "RATE": 0,
        },
        {"ID": 1, "TIME": 2, "EVID": 0, "AMT": 0, "CMT": 2, "II": 0, "ADDL": 0, "SS": 0, "RATE": 0},
        {"ID": 1, "TIME": 4, "EVID": 0, "AMT": 0, "CMT": 2, "II": 0, "ADDL": 0, "SS": 0, "RATE": 0},
        {
            "ID": 2,
            "TIME": 0,
            "EVID": 1,
            "AMT": 100,
            "CMT": 2,
            "II": 0,
            "ADDL": 0,
            "SS": 0,
            "RATE": 0,
        },
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        pytest.param({(2, "EVID"): "7"}, "row 2: EVID must be 0, 1, 2, 3 or 4; got 7", id="EVID-7"),
        pytest.param(
            {(1, "CMT"): "3"}, "row 1: CMT must be 1 (depot) or 2 (central); got 3", id="CMT-3"
        ),
        pytest.param({(4, "AMT"): "-5"}, "row 4: AMT must be 0 or more; got -5", id="AMT-negative"),
        pytest.param({(1, "SS"): "3"}, "row 1: SS must be 0, 1 or 2; got 3", id="SS-3"),
        pytest.param(
            {(1, "RATE"): "-3"}, "row 1: RATE must be ≥ 0, -1 or -2; got -3", id="RATE-minus-3"
        ),
        pytest.param(
            {(1, "ADDL"): "1.5"}, "row 1: ADDL must be a whole number ≥ 0; got 1.5", id="ADDL-1.5"
        ),
        pytest.param(
            {(4, "ADDL"): "2"}, "row 4: II must be > 0 when ADDL is given; got 0", id="ADDL-II-0"
        ),
        pytest.param(
            {(4, "RATE"): "-1"},
            "row 4: R1/R2 must be > 0 when RATE is -1; got -1",
            id="RATE-minus-1-without-R2",
        ),
        pytest.param(
            {(4, "RATE"): "-2"},
            "row 4: D1/D2 must be > 0 when RATE is -2; got -2",
            id="RATE-minus-2-without-D2",
        ),
        pytest.param(
            {(3, "TIME"): "1"},
            "row 3: TIME must not decrease within subject ID 1; got 1 after 2",
            id="TIME-decreasing",
        ),
        pytest.param(
            {(2, "AMT"): "ten"}, "row 2: AMT must be a number; got 'ten'", id="non-numeric"
        ),
        pytest.param({(1, "AMT"): ""}, "row 1: AMT must be a number; got ''", id="blank-required"),
        pytest.param({(3, "II"): "nan"}, "row 3: II must be a number; got 'nan'", id="nan"),
        pytest.param(
            {(1, "TIME"): "-1"}, "row 1: TIME must be 0 or more hours; got -1", id="TIME-neg"
        ),
        pytest.param(
            {(1, "SS"): "1", (1, "II"): "0"},
            "row 1: II must be > 0 for a steady-state dose (or AMT 0 with RATE > 0 for a steady "
            "infusion); got 0",
            id="SS-without-II",
        ),
        pytest.param(
            {(3, "ID"): "2", (4, "ID"): "1"},
            "ID: each subject's rows must be contiguous",
            id="ID-not-contiguous",
        ),
        pytest.param({(None, "CMT"): None}, "column CMT is required", id="missing-CMT"),
    ],
)
def test_read_dataset_names_the_bad_cell(
    changes: dict[tuple[int | None, str], str | None], problem: str
) -> None:
    rows = base_rows()
    for (row, column), value in changes.items():
        if row is None:
            for r in rows:
                del r[column]
        else:
            assert value is not None
            rows[row - 1][column] = value
    with pytest.raises(InputError) as caught:
        read_dataset(table(*rows))
    assert caught.value.problems == (problem,)


def test_base_rows_are_valid() -> None:
    cp = run_dataset(read_dataset(table(*base_rows())), cl=K * V, v=V, ka=KA)
    np.testing.assert_allclose(cp[1:3], bateman(np.array([2.0, 4.0]), 300.0), rtol=1e-9)


def test_many_problems_are_capped() -> None:
    rows: list[dict[str, float | str]] = [
        {"ID": 1, "TIME": i, "EVID": 9, "AMT": 0, "CMT": 2} for i in range(30)
    ]
    with pytest.raises(InputError) as caught:
        read_dataset(table(*rows))
    assert len(caught.value.problems) == 21
    assert caught.value.problems[0] == "row 1: EVID must be 0, 1, 2, 3 or 4; got 9"
    assert caught.value.problems[-1] == "… and 10 more"


@pytest.mark.parametrize(
    ("cl", "v", "ka", "problem"),
    [
        pytest.param(-1.0, V, KA, "CL must be > 0; got -1", id="CL-negative"),
        pytest.param(6.0, 0.0, KA, "V must be > 0; got 0", id="V-zero"),
        pytest.param(6.0, V, float("nan"), "KA must be > 0; got nan", id="KA-nan"),
    ],
)
def test_run_dataset_rejects_bad_parameters(cl: float, v: float, ka: float, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        run_dataset(read_dataset(table(*base_rows())), cl=cl, v=v, ka=ka)
    assert caught.value.problems == (problem,)


# --- 10. gabaguide pk run ---------------------------------------------------------------------------

PARAMS = ("--param", "CL=6", "--param", "V=40", "--param", "KA=1.2")
CSV_IN = (
    "id,time,evid,amt,cmt,note\n"
    "1,0,1,300,1,first dose\n"
    "1,1,0,0,2,\n"
    '1,4,0,0,2,"peak, maybe"\n'
    "2,0,1,100,2,\n"
    "2,2,0,0,2,x\n"
)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "gabaguide", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )


def check_round_trip(text: str) -> None:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["id", "time", "evid", "amt", "cmt", "note", "CP"]
    inputs = list(csv.reader(io.StringIO(CSV_IN)))[1:]
    assert [r[:-1] for r in rows[1:]] == inputs
    assert rows[1][-1] == ""
    assert rows[4][-1] == ""
    cp = [float(rows[i][-1]) for i in (2, 3, 5)]
    expected = [*bateman(np.array([1.0, 4.0]), 300.0), 100 / V * np.exp(-2 * K)]
    assert cp == pytest.approx(expected, rel=1e-9)


def test_pk_run_writes_the_data_set_back_with_cp(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text(CSV_IN, encoding="utf-8")
    r = cli("pk", "run", str(data), *PARAMS)
    assert r.returncode == 0, r.stderr
    check_round_trip(r.stdout)


def test_pk_run_output_option_writes_the_file(tmp_path: Path) -> None:
    data, out = tmp_path / "data.csv", tmp_path / "out.csv"
    data.write_text(CSV_IN, encoding="utf-8")
    r = cli("pk", "run", str(data), *PARAMS, "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    check_round_trip(out.read_text(encoding="utf-8"))


def test_pk_run_replaces_an_existing_cp_column_in_place(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("ID,TIME,cp,EVID,AMT,CMT\n1,0,9,1,100,2\n1,2,9,0,0,2\n", encoding="utf-8")
    r = cli("pk", "run", str(data), *PARAMS)
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["ID", "TIME", "cp", "EVID", "AMT", "CMT"]
    assert rows[1][2] == ""
    assert float(rows[2][2]) == pytest.approx(100 / V * np.exp(-2 * K), rel=1e-9)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        pytest.param(
            ("--param", "CL=6", "--param", "V=40"),
            "error: --param KA=… is required",
            id="missing-KA",
        ),
        pytest.param(
            ("--param", "CL=-1", "--param", "V=40", "--param", "KA=1.2"),
            "error: --param CL must be more than 0; got -1",
            id="CL-negative",
        ),
        pytest.param(
            (*PARAMS, "--param", "Q=3"),
            "error: --param must be NAME=VALUE with NAME one of CL, V, KA; got 'Q=3'",
            id="unknown-name",
        ),
    ],
)
@pytest.mark.parametrize("to_file", [pytest.param(False, id="stdout"), pytest.param(True, id="-o")])
def test_pk_run_bad_param_exits_2_and_writes_nothing(
    tmp_path: Path, params: tuple[str, ...], message: str, to_file: bool
) -> None:
    data, out = tmp_path / "data.csv", tmp_path / "out.csv"
    data.write_text(CSV_IN, encoding="utf-8")
    r = cli("pk", "run", str(data), *params, *(("-o", str(out)) if to_file else ()))
    assert r.returncode == 2
    assert r.stdout == ""
    assert "Traceback" not in r.stderr
    assert r.stderr.splitlines() == [message]
    assert not out.exists()


def test_pk_run_param_that_is_not_a_number_is_one_problem(tmp_path: Path) -> None:
    # CL was given, only its value is wrong: one sentence, not also "CL=… is required".
    data, out = tmp_path / "data.csv", tmp_path / "out.csv"
    data.write_text(CSV_IN, encoding="utf-8")
    bad = ("--param", "CL=six", "--param", "V=40", "--param", "KA=1.2")
    r = cli("pk", "run", str(data), *bad, "-o", str(out))
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr.splitlines() == ["error: --param CL must be a number; got 'six'"]
    assert not out.exists()


def test_pk_run_bad_data_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    data, out = tmp_path / "data.csv", tmp_path / "out.csv"
    data.write_text(CSV_IN.replace("2,2,0,0,2,x", "2,2,7,0,2,x"), encoding="utf-8")
    r = cli("pk", "run", str(data), *PARAMS, "-o", str(out))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.splitlines() == ["error: row 5: EVID must be 0, 1, 2, 3 or 4; got 7"]
    assert not out.exists()
