"""Simulations as plain JSON-ready data: the contract of ``gabaguide simulate --json`` and the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gabaguide.pk.simulate import METRIC_UNITS, Simulation


def simulation_summary(label: str, sim: Simulation, curve_points: int = 2000) -> dict[str, Any]:
    """Metrics (median, 5th and 95th percentile), shares above thresholds, what was assumed, and
    the percentile curves thinned to at most ``curve_points`` times."""
    s = sim.scenario
    stride = max(1, int(np.ceil(sim.times_h.shape[0] / curve_points)))
    return {
        "label": label,
        "drug": s.drug,
        "regimen": s.regimen.text,
        "dose_times_h": list(s.regimen.times_h),
        "crcl_ml_min": s.covariates.crcl_ml_min,
        "weight_kg": s.covariates.weight_kg,
        "sex": s.covariates.sex,
        "days": s.days,
        "n": s.n,
        "seed": s.seed if s.n > 1 else None,
        "steady_state_window_h": list(sim.window_h),
        "metrics": {
            name: {"median": m.median, "p5": m.p5, "p95": m.p95, "unit": METRIC_UNITS[name]}
            for name, m in sim.metrics.items()
        },
        "shares_above_mg_l": {f"{t:g}": shares for t, shares in sim.shares_above.items()},
        "assumptions": list(sim.assumptions),
        "notes": list(sim.notes),
        "doses": [
            {
                "time_h": d.time_h,
                "amount_mg": d.amount_mg,
                "typical_f": d.typical_f,
                "after_antacid": d.after_antacid,
            }
            for d in sim.doses
        ],
        "dialysis_h": [list(session) for session in sim.dialysis_h],
        "curve": {
            "time_h": sim.times_h[::stride].tolist(),
            **{
                f"p{p}": values[::stride].astype(float).tolist()
                for p, values in sim.percentiles.items()
            },
        },
    }


def simulations_document(sims: Sequence[tuple[str, Simulation]]) -> dict[str, Any]:
    """Several simulations of one drug with the model they share, its choices and citations."""
    model = sims[0][1].model
    return {
        "model": {
            "drug": model.drug,
            "name": model.name,
            "summary": model.summary,
            "decisions": list(model.decisions),
            "citations": [c.model_dump() for c in model.citations],
        },
        "simulations": [simulation_summary(label, sim) for label, sim in sims],
    }
