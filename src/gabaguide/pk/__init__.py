"""The pharmacokinetic engine: NONMEM-style event tables, gabapentin and pregabalin models,
virtual populations. NumPy only; no I/O.

>>> from gabaguide.pk import simulate_regimen
>>> sim = simulate_regimen("gabapentin", "400 mg TID", crcl_ml_min=90, days=3)
>>> round(sim.metrics["half_life_h"].median, 1)
6.0
"""

from __future__ import annotations

from collections.abc import Sequence

from gabaguide.knowledge import Knowledge, load_knowledge
from gabaguide.pk.dataset import Dataset, read_dataset, run_dataset
from gabaguide.pk.models import Covariates, Drug, Sex
from gabaguide.pk.regimen import Regimen, parse_clock, parse_regimen
from gabaguide.pk.simulate import Scenario, Simulation, Spread, simulate

__all__ = [
    "Covariates",
    "Dataset",
    "Regimen",
    "Scenario",
    "Simulation",
    "Spread",
    "read_dataset",
    "run_dataset",
    "simulate",
    "simulate_regimen",
]


def simulate_regimen(
    drug: Drug,
    regimen: str,
    crcl_ml_min: float,
    *,
    days: int = 7,
    n: int = 1,
    seed: int | None = None,
    times: Sequence[str] = (),
    weight_kg: float | None = None,
    sex: Sex | None = None,
    antacid_times: Sequence[str] = (),
    dialysis_days: Sequence[int] = (),
    dialysis_start: str = "08:00",
    after_dialysis_mg: float = 0.0,
    thresholds_mg_l: Sequence[float] = (),
    grid_minutes: float = 15.0,
    knowledge: Knowledge | None = None,
    times_field: str = "times",
) -> Simulation:
    """Simulate a regimen written as text (``"400 mg TID"``) for a typical patient (``n = 1``) or a
    virtual population of ``n`` (seeded by ``seed``); times of day as ``"HH:MM"``."""
    scenario = Scenario(
        drug=drug,
        regimen=parse_regimen(regimen, tuple(times), times_field),
        covariates=Covariates(crcl_ml_min=crcl_ml_min, weight_kg=weight_kg, sex=sex),
        days=days,
        n=n,
        seed=seed,
        grid_minutes=grid_minutes,
        antacid_times_h=tuple(parse_clock(t, "antacid time") for t in antacid_times),
        dialysis_days=tuple(dialysis_days),
        dialysis_start_h=parse_clock(dialysis_start, "dialysis start"),
        after_dialysis_mg=after_dialysis_mg,
        thresholds_mg_l=tuple(thresholds_mg_l),
    )
    return simulate(knowledge or load_knowledge(), scenario)
