"""Seeded synthetic patients for the benchmarks: one JSON object per line (JSON Lines).

Realistic-looking, not real: mostly adults (18-95 years) and some children (3-17), a weight that
fits the age, serum creatinine in mg/dL or umol/L (about 10% give a measured creatinine clearance
instead and about 10% give no kidney value at all), about 5% on hemodialysis, a mix of indications
(some only off-label or unknown), goals start/review/stop/switch with a current gabapentin regimen
for the last three, and sometimes a target daily dose. Only fields of ``gabaguide.domain.Patient``
are used. The same ``n`` and ``seed`` always give the same bytes.

Usage::

    python benchmarks/generate_patients.py --n 1000 --seed 1 --out benchmarks/out/patients.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

INDICATIONS = [
    "postherpetic neuralgia",
    "PHN",
    "diabetic neuropathy",
    "epilepsy",
    "neuropathic pain",
    "fibromyalgia",
    "sciatica",
    "restless legs",
]
PHN = {"postherpetic neuralgia", "PHN"}
RLS = {"restless legs"}
GOALS = ["start", "review", "stop", "switch"]
GOAL_WEIGHTS = [55, 20, 15, 10]
DOSES_MG = [100, 300, 400, 600, 800, 1200]


def _age(rng: random.Random) -> float:
    if rng.random() < 0.08:  # children and adolescents
        return float(rng.randint(3, 17))
    return float(min(95, max(18, round(rng.gauss(60, 16)))))


def _weight(rng: random.Random, age: float) -> float:
    if age < 18:
        # roughly 2 kg per year plus 8 kg up to 10 years, faster afterwards
        typical = 2 * age + 8 if age <= 10 else 28 + 5.5 * (age - 10)
        w = rng.gauss(typical, typical * 0.15)
    else:
        w = rng.gauss(80, 18)
    return round(min(150.0, max(12.0, w)), 1)


def _creatinine(rng: random.Random, age: float, dialysis: bool) -> dict[str, Any]:
    # mostly normal, a tail of impaired kidney function; dialysis patients sit at the top
    if dialysis:
        mg_dl = rng.uniform(4.0, 8.0)
    elif age < 18:
        mg_dl = rng.uniform(0.4, 1.0)
    else:
        mg_dl = min(8.0, max(0.4, rng.lognormvariate(0.05, 0.45)))
    if rng.random() < 0.5:
        return {"value": round(mg_dl, 2), "unit": "mg/dL"}
    return {"value": float(round(min(700.0, max(35.0, mg_dl * 88.4)))), "unit": "umol/L"}


def patient(rng: random.Random, i: int) -> dict[str, Any]:
    """One synthetic patient as a JSON-ready dict (uses ``rng``; ``i`` only names it)."""
    age = _age(rng)
    dialysis = rng.random() < 0.05
    p: dict[str, Any] = {
        "patient_id": f"bench-{i:06d}",
        "age_years": age,
        "sex": rng.choice(["female", "male"]),
        "weight_kg": _weight(rng, age),
    }
    kidney = rng.random()
    if kidney < 0.10:
        pass  # no kidney value at all
    elif kidney < 0.20:
        crcl = rng.uniform(5, 15) if dialysis else rng.uniform(8, 140)
        p["crcl_ml_min"] = round(crcl, 1)
    else:
        p["serum_creatinine"] = _creatinine(rng, age, dialysis)
    if dialysis:
        p["dialysis"] = "hemodialysis"
    indication = rng.choice(INDICATIONS)
    p["indication"] = indication
    r = rng.random()
    if indication in PHN and r < 0.15:
        p["product"] = "gralise" if r < 0.08 else "horizant"
    elif indication in RLS and r < 0.30:
        p["product"] = "horizant"
    goal = rng.choices(GOALS, GOAL_WEIGHTS)[0]
    p["goal"] = goal
    if goal != "start":
        p["current_regimen"] = {
            "product": "gabapentin",
            "dose_mg": float(rng.choice(DOSES_MG)),
            "times_per_day": rng.randint(1, 3),
        }
    if rng.random() < 0.25:
        p["target_daily_mg"] = float(rng.randrange(300, 4801, 100))
    return p


def patients(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """``n`` patients from ``random.Random(seed)``; deterministic."""
    rng = random.Random(seed)
    for i in range(1, n + 1):
        yield patient(rng, i)


def write_jsonl(path: Path, n: int, seed: int) -> int:
    """Write ``n`` patients to ``path`` as JSON Lines; returns the size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as f:
        f.writelines(json.dumps(p, separators=(",", ":")) + "\n" for p in patients(n, seed))
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of patients")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/patients.jsonl"))
    args = parser.parse_args()
    size = write_jsonl(args.out, args.n, args.seed)
    print(f"wrote {args.n} patients ({size} bytes) to {args.out}")


if __name__ == "__main__":
    main()
