"""PK engine throughput, memory and accuracy, against a same-run per-subject scipy solve_ivp loop.

What it measures
    The scenario of the issue: gabapentin 400 mg TID, CrCl 90 mL/min, ``--n`` subjects (default
    100,000, seed ``--seed``), ``--days`` days (14) on a ``--grid-minutes`` grid (15), i.e.
    ``n x len(times_h)`` subject-timepoints (134.5 million by default).

    1. engine: ``gabaguide.pk.simulate.simulate(...)`` -- dose events, the threaded chunked solve,
       float32 storage and steady-state metrics -- timed alone and together with the (lazy)
       ``Simulation.percentiles`` (the 5th/50th/95th percentile at every time), best of
       ``--repeat``. The goals are judged on the whole thing (simulate + percentiles).
    2. where the time goes: the stages of one chunk of subjects (``simulate.CHUNK``) rebuilt from
       public functions, like ``simulate._solve_chunk`` does it, on one thread: building the event
       list, ``gabaguide.pk.engine.solve`` writing C = A/V straight into float32 storage, and the
       metrics (on the window rows, in float64); times the
       number of chunks, plus the one-off page faults of the fresh (time, n) float32 array, as a
       one-core estimate next to the observed time.
    3. memory: in a fresh subprocess (so that neither scipy nor this process's arrays count), the
       ``tracemalloc`` peak (NumPy reports its buffers to it) around simulate + percentiles, and
       the process's maximum RSS (``ru_maxrss``) before and after.
    4. baseline: the same model and the same individual parameters (the first ``--baseline-n``
       subjects, drawn with ``gabaguide.pk.models.individuals`` and the same seed, per-dose F as in
       ``simulate.dose_bioavailability``) integrated per subject with ``scipy.integrate.solve_ivp`` (``--method``
       LSODA by default, rtol 1e-8, atol 1e-10, ``t_eval`` the same grid), piecewise between
       administrations (the integration restarts at each dose time + lag with the bolus added to
       the depot) -- how a per-subject loop engine works. Best of ``--repeat``, scaled to ``n``.
       Engine and scipy runs are interleaved, after an untimed warm-up of each (imports, first
       calls).
    5. accuracy: against an independent float64 superposition of Bateman curves
       ``sum F*D*ka/(V*(ka-k)) * (exp(-k*(t-td)) - exp(-ka*(t-td)))`` over administrations
       ``td`` = dose time + lag, for the engine's stored float32 concentrations and a float64
       ``engine.solve`` of the first ``--check-n`` subjects (1,000), and for scipy's
       ``--baseline-n``: the maximum relative error where the reference is above 1e-3 mg/L.

Goals (from the issue): at least 50 million subject-timepoints/s on 2 cores (published R engines
reach about 1 million), at least 100x the scipy loop, peak memory under 2 GiB.

How to run
    python benchmarks/bench_pk.py                        # the full size; about 20 s
    python benchmarks/bench_pk.py --n 10000 --days 7 --baseline-n 5 --repeat 1
    python benchmarks/bench_pk.py --json                 # results as JSON

Exit status: 0 when every run succeeded (whether or not the goals are met), 1 when scipy failed to
integrate or the engine disagrees with the analytic reference by more than 1e-4 (relative): then
the benchmark's rebuilt inputs no longer match ``simulate``'s, or the engine is wrong.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench_assess import cpu_model, git_rev
from gabaguide.knowledge import Knowledge, load_knowledge
from gabaguide.pk.engine import Kinetics, solve
from gabaguide.pk.models import Covariates, Individuals, Model, individuals, load_model
from gabaguide.pk.regimen import parse_regimen
from gabaguide.pk.simulate import (
    DoseGiven,
    Scenario,
    dose_bioavailability,
    regimen_events,
    simulate,
)

# The module (``gabaguide.pk`` re-exports the function under the same name): for CHUNK, WINDOW_H.
pk_simulate = importlib.import_module("gabaguide.pk.simulate")

Array = npt.NDArray[np.float64]

DRUG = "gabapentin"
REGIMEN = "400 mg TID"
CRCL_ML_MIN = 90.0
GOAL_RATE = 50e6
GOAL_RATIO = 100.0
GOAL_MIB = 2048.0
R_ENGINES_RATE = 1e6
RTOL, ATOL = 1e-8, 1e-10
FLOOR_MG_L = 1e-3  # relative errors are taken where the reference is above this
SANITY_REL = 1e-4  # the engine must agree with the reference at least this well
MIB = 1024.0 * 1024.0


def scenario(args: argparse.Namespace) -> Scenario:
    return Scenario(
        DRUG,
        parse_regimen(REGIMEN),
        Covariates(CRCL_ML_MIN),
        days=args.days,
        n=args.n,
        seed=args.seed,
        grid_minutes=args.grid_minutes,
    )


def best(times: list[float]) -> float:
    return min(times)


def run_engine(
    k: Knowledge, s: Scenario, keep: int
) -> tuple[float, float, np.ndarray, Array, tuple[DoseGiven, ...]]:
    """Seconds for simulate and for its percentiles; the first ``keep`` subjects' concentrations,
    the times and the doses (the population itself is freed on return)."""
    start = time.perf_counter()
    sim = simulate(k, s)
    mid = time.perf_counter()
    _ = sim.percentiles
    end = time.perf_counter()
    return mid - start, end - mid, sim.concentrations[:, :keep].copy(), sim.times_h, sim.doses


# --- the engine's inputs, rebuilt from public functions --------------------------------------------


def people_of(model: Model, args: argparse.Namespace) -> Individuals:
    """The subjects ``simulate`` draws: the same call with the same seed (all ``n``, then slice)."""
    rng = np.random.default_rng(args.seed) if args.n > 1 else None
    return individuals(model, Covariates(CRCL_ML_MIN), args.n, rng)


def administrations(
    model: Model, doses: tuple[DoseGiven, ...], f_factor: Array
) -> tuple[Array, Array]:
    """Administration times (dose time + lag) and absorbed amounts ``F*D``, (dose, subject)."""
    when = np.array([d.time_h + model.lag_h for d in doses])
    amounts = np.array([d.amount_mg * dose_bioavailability(model, d, f_factor) for d in doses])
    return when, amounts.reshape(len(doses), f_factor.shape[0])


def engine_float64(
    model: Model,
    people: Individuals,
    hi: int,
    doses: tuple[DoseGiven, ...],
    times: Array,
) -> Array:
    """Concentrations (time, subject) of subjects ``0:hi`` from ``engine.solve``, in float64."""
    kin = Kinetics(ka=people.ka[:hi], k_by_phase=(people.k[:hi],), v=people.v[:hi])
    events = regimen_events(model, doses, people.f_factor[:hi], times)
    return solve(events, kin, n_outputs=times.shape[0]) / people.v[:hi]


# --- the independent references ----------------------------------------------------------------


def bateman(times: Array, when: Array, amounts: Array, ka: Array, k: Array, v: Array) -> Array:
    """Float64 superposition of one-compartment oral Bateman curves, (time, subject).

    Where ``ka`` and ``k`` coincide (to 1e-9 relative) the limit ``F*D*ka*t*exp(-k*t)/V`` is used.
    """
    out = np.zeros((times.shape[0], ka.shape[0]))
    close = np.abs(ka - k) < 1e-9 * ka
    diff = np.where(close, 1.0, ka - k)
    coef = ka / (v * diff)
    for td, amount in zip(when, amounts, strict=True):
        rows = times > td
        dt = (times[rows] - td)[:, None]
        ek = np.exp(-k * dt)
        curve = np.where(close, ka * dt * ek / v, coef * (ek - np.exp(-ka * dt)))
        out[rows] += amount * curve
    return out


def scipy_subject(
    ka: float, k: float, v: float, when: Array, amounts: Array, times: Array, method: str
) -> tuple[Array, int]:
    """One subject's concentrations on ``times`` with ``solve_ivp``, restarted at each
    administration with the bolus added to the depot; and the number of right-hand-side calls."""
    from scipy.integrate import solve_ivp  # here: the memory probe's process must not load scipy

    def rhs(_t: float, y: Array) -> list[float]:
        return [-ka * y[0], ka * y[0] - k * y[1]]

    matrix = np.array([[-ka, 0.0], [ka, -k]])

    def jac(_t: float, _y: Array) -> Array:
        return matrix

    # The Jacobian (constant) for the methods that use one; the others would warn about it.
    extra = {"jac": jac} if method in ("LSODA", "BDF", "Radau") else {}
    end = float(times[-1])
    bounds = [0.0, *(float(t) for t in when if t < end), end]
    y = np.zeros(2)
    out = np.zeros(times.shape[0])
    nfev, dose = 0, 0
    for a, b in itertools.pairwise(bounds):
        while dose < when.shape[0] and when[dose] <= a:  # administrations at this segment's start
            y[0] += amounts[dose]
            dose += 1
        last = b == end
        rows = np.flatnonzero((times >= a) & ((times <= b) if last else (times < b)))
        if b <= a:
            out[rows] = y[1] / v
            continue
        t_eval = times[rows]
        if not (t_eval.shape[0] and t_eval[-1] == b):
            t_eval = np.append(t_eval, b)  # the state at the segment's end carries on
        sol = solve_ivp(rhs, (a, b), y, method=method, t_eval=t_eval, rtol=RTOL, atol=ATOL, **extra)
        if not sol.success:
            sys.exit(f"FAILED: scipy solve_ivp ({method}) on [{a}, {b}]: {sol.message}")
        nfev += int(sol.nfev)
        out[rows] = sol.y[1, : rows.shape[0]] / v
        y = sol.y[:, -1].copy()
    return out, nfev


def scipy_loop(
    people: Individuals, n: int, when: Array, amounts: Array, times: Array, method: str
) -> tuple[Array, int]:
    """The first ``n`` subjects one at a time: concentrations (time, subject), right-hand-side calls."""
    cols, calls = [], 0
    for i in range(n):
        col, n_calls = scipy_subject(
            float(people.ka[i]),
            float(people.k[i]),
            float(people.v[i]),
            when,
            amounts[:, i],
            times,
            method,
        )
        cols.append(col)
        calls += n_calls
    return np.stack(cols, axis=1), calls


def max_rel(got: np.ndarray, ref: Array) -> float:
    mask = ref > FLOOR_MG_L
    return float(np.max(np.abs(got.astype(np.float64)[mask] - ref[mask]) / ref[mask]))


# --- memory, in a fresh process -------------------------------------------------------------------


def memory_probe(args: argparse.Namespace) -> dict[str, float]:
    """Run in the child: tracemalloc peak and max RSS around simulate + percentiles (MiB)."""
    k = load_knowledge()
    s = scenario(args)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    tracemalloc.start()
    sim = simulate(k, s)
    _, peak_sim = tracemalloc.get_traced_memory()
    _ = sim.percentiles
    _, peak_all = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {
        "tracemalloc_peak_simulate_mib": peak_sim / MIB,
        "tracemalloc_peak_mib": peak_all / MIB,
        "concentrations_mib": sim.concentrations.nbytes / MIB,
        "rss_max_before_mib": rss_before,
        "rss_max_mib": rss_after,
    }


def measure_memory(args: argparse.Namespace) -> dict[str, float]:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--memory-probe",
        f"--n={args.n}",
        f"--days={args.days}",
        f"--grid-minutes={args.grid_minutes}",
        f"--seed={args.seed}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"FAILED: memory probe exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# --- the benchmark -----------------------------------------------------------------------------


def chunk_stages(
    model: Model,
    people: Individuals,
    doses: tuple[DoseGiven, ...],
    times: Array,
    repeat: int,
) -> dict[str, Any]:
    """Seconds per stage of one chunk on one thread, best of ``repeat`` each; and the one-off cost
    of faulting in the (time, n) float32 array that all chunks write to."""
    size = min(getattr(pk_simulate, "CHUNK", 8192), people.n)
    chunks = math.ceil(people.n / size)
    window = times >= times[-1] - getattr(pk_simulate, "WINDOW_H", 24.0)
    kin = Kinetics(ka=people.ka[:size], k_by_phase=(people.k[:size],), v=people.v[:size])
    shape = (times.shape[0], people.n)
    warm = np.zeros(shape, dtype=np.float32)
    warm.fill(1.0)  # every page present: the copy alone
    names = ("events", "solve into float32 C = A/V", "metrics")
    stages: dict[str, list[float]] = {name: [] for name in names}
    faults: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        events = regimen_events(model, doses, people.f_factor[:size], times)
        t1 = time.perf_counter()
        solve(
            events, kin, n_outputs=times.shape[0], out=warm[:, :size], scale=1.0 / people.v[:size]
        )
        t2 = time.perf_counter()
        w, tw = warm[window, :size].astype(np.float64), times[window]
        auc = np.trapezoid(w, tw, axis=0)
        w.max(axis=0), w.min(axis=0), auc / (tw[-1] - tw[0])
        t3 = time.perf_counter()
        c = warm[:, :size]
        for name, t in zip(names, itertools.pairwise((t0, t1, t2, t3)), strict=True):
            stages[name].append(t[1] - t[0])
        # simulate writes every chunk's block into a fresh np.empty array: the first writes fault
        # its pages in (with transparent huge pages, the first block faults in nearly all of it)
        t6 = time.perf_counter()
        fresh = np.empty(shape, dtype=np.float32)
        for lo in range(0, people.n, size):
            fresh[:, lo : lo + size] = c[:, : min(size, people.n - lo)]
        t7 = time.perf_counter()
        for lo in range(0, people.n, size):
            warm[:, lo : lo + size] = c[:, : min(size, people.n - lo)]
        t8 = time.perf_counter()
        faults.append(max(0.0, (t7 - t6) - (t8 - t7)))
        del fresh
    return {
        "subjects": size,
        "chunks": chunks,
        "per_chunk": {name: best(ts) for name, ts in stages.items()},
        "once": {"page faults of the float32 (time, n) array": best(faults)},
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    k: Knowledge = load_knowledge()
    s = scenario(args)
    model = load_model(k, DRUG)
    memory = measure_memory(args)  # first, and alone: nothing else runs meanwhile

    sim_times: list[float] = []
    pct_times: list[float] = []
    scipy_times: list[float] = []
    check_n = min(args.check_n, args.n)
    base_n = min(args.baseline_n, args.n)
    people = people_of(model, args)
    kept, times, doses = None, np.zeros(0), ()
    scipy_conc, nfev = np.zeros(0), 0
    # warm-up, untimed: imports and first calls of both (one small simulation, one scipy subject)
    _, _, _, small_times, small_doses = run_engine(k, replace(s, n=2, days=1), 1)
    when, amounts = administrations(model, small_doses, people.f_factor[:1])
    scipy_loop(people, 1, when, amounts, small_times, args.method)
    for _ in range(args.repeat):  # interleaved: engine, then scipy
        t_sim, t_pct, first, times, doses = run_engine(k, s, check_n)
        sim_times.append(t_sim)
        pct_times.append(t_pct)
        kept = first if kept is None else kept
        when, amounts = administrations(model, doses, people.f_factor[:base_n])
        start = time.perf_counter()
        scipy_conc, nfev = scipy_loop(people, base_n, when, amounts, times, args.method)
        scipy_times.append(time.perf_counter() - start)
    assert kept is not None

    stages = chunk_stages(model, people, doses, times, args.repeat)

    when, amounts = administrations(model, doses, people.f_factor[:check_n])
    ref = bateman(times, when, amounts, people.ka[:check_n], people.k[:check_n], people.v[:check_n])
    err_f32 = max_rel(kept, ref)
    err_f64 = max_rel(engine_float64(model, people, check_n, doses, times), ref)
    err_scipy = max_rel(scipy_conc, ref[:, :base_n])

    points = args.n * times.shape[0]
    t_sim, t_pct = best(sim_times), best(pct_times)
    t_whole = best([a + b for a, b in zip(sim_times, pct_times, strict=True)])
    t_scipy = best(scipy_times)
    scipy_rate = base_n * times.shape[0] / t_scipy
    engine_rate = points / t_whole
    one_core = sum(stages["per_chunk"].values()) * stages["chunks"] + sum(stages["once"].values())
    return {
        "scenario": {
            "drug": DRUG,
            "regimen": REGIMEN,
            "crcl_ml_min": CRCL_ML_MIN,
            "n": args.n,
            "days": args.days,
            "grid_minutes": args.grid_minutes,
            "seed": args.seed,
            "timepoints": int(times.shape[0]),
            "doses": len(doses),
            "subject_timepoints": points,
        },
        "repeat": args.repeat,
        "engine": {
            "simulate_s": t_sim,
            "percentiles_s": t_pct,
            "whole_s": t_whole,
            "simulate_rate": points / t_sim,
            "whole_rate": engine_rate,
            "all_simulate_s": sim_times,
            "all_percentiles_s": pct_times,
        },
        "stages": stages,
        "one_core_estimate_s": one_core,
        "scipy": {
            "method": args.method,
            "rtol": RTOL,
            "atol": ATOL,
            "subjects": base_n,
            "seconds": t_scipy,
            "all_seconds": scipy_times,
            "rhs_calls_per_subject": nfev / base_n,
            "rate": scipy_rate,
            "scaled_s": t_scipy * args.n / base_n,
        },
        "ratio_engine_over_scipy": engine_rate / scipy_rate,
        "memory_mib": memory,
        "accuracy": {
            "reference": "float64 superposition of Bateman curves",
            "floor_mg_l": FLOOR_MG_L,
            "engine_float32_subjects": check_n,
            "engine_float32_max_rel": err_f32,
            "engine_float64_max_rel": err_f64,
            "scipy_subjects": base_n,
            "scipy_max_rel": err_scipy,
        },
        "goals": {
            "rate": {"goal": GOAL_RATE, "value": engine_rate, "met": engine_rate >= GOAL_RATE},
            "ratio": {
                "goal": GOAL_RATIO,
                "value": engine_rate / scipy_rate,
                "met": engine_rate / scipy_rate >= GOAL_RATIO,
            },
            "memory": {
                "goal": GOAL_MIB,
                "value": memory["rss_max_mib"],
                "met": memory["rss_max_mib"] < GOAL_MIB,
            },
        },
        "machine": {
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "numpy": np.__version__,
            "scipy": scipy_version(),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "git": git_rev(),
        },
    }


def scipy_version() -> str:
    import scipy

    return str(scipy.__version__)


def times_x(ratio: float) -> str:
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.2f}x"


def mrate(rate: float) -> str:
    """A rate in millions (or thousands, below a million)."""
    if rate < 1e6:
        return f"{rate / 1e3:,.1f} k"
    return f"{rate / 1e6:,.2f} M" if rate < 1e7 else f"{rate / 1e6:,.1f} M"


def report(r: dict[str, Any]) -> None:
    sc, e, sp, mem, acc, m = (
        r["scenario"],
        r["engine"],
        r["scipy"],
        r["memory_mib"],
        r["accuracy"],
        r["machine"],
    )
    print(
        f"gabaguide PK engine benchmark: {sc['drug']} {sc['regimen']}, CrCl {sc['crcl_ml_min']:g}, "
        f"{sc['n']:,} subjects x {sc['days']} days x {sc['grid_minutes']:g}-minute grid "
        f"(seed {sc['seed']}), best of {r['repeat']}"
    )
    print(
        f"size      {sc['timepoints']:,} timepoints x {sc['n']:,} subjects = "
        f"{sc['subject_timepoints'] / 1e6:,.1f} M subject-timepoints; {sc['doses']} doses"
    )
    print(f"machine   {m['cpu']}, {m['cores']} core(s); {m['python']}; numpy {m['numpy']}")
    print(f"          scipy {m['scipy']}; {m['platform']}; git {m['git']}")
    print()
    print(f"{'run':<38} {'seconds':>9} {'subject-timepoints/s':>21}")
    rows = [
        ("engine: simulate", e["simulate_s"], e["simulate_rate"]),
        ("engine: percentiles (lazy)", e["percentiles_s"], None),
        ("engine: simulate + percentiles", e["whole_s"], e["whole_rate"]),
        (
            f"scipy {sp['method']}: {sp['subjects']} subjects",
            sp["seconds"],
            sp["rate"],
        ),
        (f"scipy {sp['method']}: scaled to {sc['n']:,}", sp["scaled_s"], sp["rate"]),
    ]
    for name, seconds, rate in rows:
        shown = "" if rate is None else f"{mrate(rate)}"
        print(f"{name:<38} {seconds:>9.3f} {shown:>21}")
    print(
        f"ratio engine (simulate + percentiles) / scipy: {times_x(r['ratio_engine_over_scipy'])}"
        f"   (scipy: {sp['rhs_calls_per_subject']:,.0f} right-hand-side calls per subject)"
    )
    print()
    st = r["stages"]
    chunks, one_core = st["chunks"], r["one_core_estimate_s"]
    print(
        f"where the time goes: one chunk of {st['subjects']:,} subjects on one thread, "
        f"x {chunks} chunks = a one-core estimate for {sc['n']:,}"
    )
    rows_st = [(name, x, x * chunks) for name, x in st["per_chunk"].items()]
    rows_st += [(f"{name} (once)", None, x) for name, x in st["once"].items()]
    for name, per_chunk, total in rows_st:
        chunk_ms = "" if per_chunk is None else f"{per_chunk * 1e3:.1f} ms"
        print(f"  {name:<50} {chunk_ms:>9}  {total:>6.3f} s  {total / one_core:>4.0%}")
    print(
        f"  {'one-core estimate':<50} {'':>9}  {one_core:>6.3f} s"
        f"  (observed simulate on {m['cores']} core(s): {e['simulate_s']:.3f} s)"
    )
    print()
    print("peak memory (fresh process, simulate + percentiles)")
    print(
        f"  tracemalloc peak     {mem['tracemalloc_peak_mib']:>8.0f} MiB"
        f"  (simulate alone {mem['tracemalloc_peak_simulate_mib']:.0f} MiB; "
        f"float32 concentrations {mem['concentrations_mib']:.0f} MiB)"
    )
    print(
        f"  max RSS              {mem['rss_max_mib']:>8.0f} MiB"
        f"  (after imports and knowledge: {mem['rss_max_before_mib']:.0f} MiB)"
    )
    print()
    print(
        f"accuracy: max relative error vs {acc['reference']} (where C > {acc['floor_mg_l']:g} mg/L)"
    )
    print(
        f"  engine, stored float32 ({acc['engine_float32_subjects']:,} subjects)"
        f"   {acc['engine_float32_max_rel']:.2e}"
    )
    print(
        f"  engine, solve float64  ({acc['engine_float32_subjects']:,} subjects)"
        f"   {acc['engine_float64_max_rel']:.2e}"
    )
    print(
        f"  scipy {sp['method']} rtol {sp['rtol']:g} atol {sp['atol']:g} "
        f"({acc['scipy_subjects']} subjects)   {acc['scipy_max_rel']:.2e}"
    )
    print()
    g = r["goals"]

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    print(
        f"goal >= {g['rate']['goal'] / 1e6:g} M subject-timepoints/s on {m['cores']} cores: "
        f"{mrate(g['rate']['value'])}/s, {verdict(g['rate']['met'])}"
        f"  (published R engines: about {R_ENGINES_RATE / 1e6:g} M/s, not measured here)"
    )
    print(
        f"goal >= {g['ratio']['goal']:g}x the scipy loop: {times_x(g['ratio']['value'])}, "
        f"{verdict(g['ratio']['met'])}"
    )
    print(
        f"goal peak memory < {g['memory']['goal'] / 1024:g} GiB: max RSS "
        f"{g['memory']['value'] / 1024:.2f} GiB, {verdict(g['memory']['met'])}"
    )
    print()
    print("README:")
    print(
        f"  {sc['n']:,} subjects x {sc['days']} days of {sc['regimen']} on a "
        f"{sc['grid_minutes']:g}-minute grid ({sc['subject_timepoints'] / 1e6:,.1f} M "
        f"subject-timepoints, percentiles included) in {e['whole_s']:.2f} s on {m['cores']} cores: "
        f"{mrate(e['whole_rate'])} subject-timepoints/s, {times_x(r['ratio_engine_over_scipy'])} a "
        f"per-subject scipy solve_ivp ({sp['method']}) loop; peak RSS "
        f"{mem['rss_max_mib'] / 1024:.2f} GiB; max relative error {acc['engine_float32_max_rel']:.0e}"
        f" (float32 storage) vs analytic superposition (scipy: {acc['scipy_max_rel']:.0e})."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="subjects (default 100000)")
    parser.add_argument("--days", type=int, default=14, help="days simulated (default 14)")
    parser.add_argument(
        "--grid-minutes", type=float, default=15.0, help="output grid in minutes (default 15)"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--baseline-n", type=int, default=20, help="subjects solved with scipy (default 20)"
    )
    parser.add_argument(
        "--check-n",
        type=int,
        default=1000,
        help="subjects whose engine concentrations are checked (default 1000)",
    )
    parser.add_argument(
        "--method",
        default="LSODA",
        choices=("LSODA", "RK45", "DOP853", "BDF", "Radau"),
        help="scipy solve_ivp method (default LSODA)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.n, args.days, args.baseline_n, args.check_n, args.repeat) < 1:
        parser.error("--n, --days, --baseline-n, --check-n and --repeat must be at least 1")
    if args.memory_probe:
        print(json.dumps(memory_probe(args)))
        return
    results = bench(args)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        report(results)
    acc = results["accuracy"]
    worst = max(acc["engine_float32_max_rel"], acc["engine_float64_max_rel"])
    if not worst <= SANITY_REL:
        sys.exit(
            f"FAILED: the engine is {worst:.1e} (relative) from the analytic reference; "
            f"expected at most {SANITY_REL:g}"
        )


if __name__ == "__main__":
    main()
