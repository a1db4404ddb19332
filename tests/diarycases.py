"""Patients and phrases the diary tests share (core and web)."""

from __future__ import annotations

from typing import Any

# Label titration for PHN to 1800 mg/day (NEU48 §2.1): day 1 300 mg (1 dose), day 2 600 mg
# (2 doses), days 3-9 900 mg, days 10-16 1500 mg, day 17 on 1800 mg (3 doses a day).
PHN: dict[str, Any] = {
    "age_years": 60,
    "crcl_ml_min": 80,
    "indication": "postherpetic neuralgia",
    "target_daily_mg": 1800,
}
# A prescription kept as it is: 400 mg three times a day, 1200 mg/day from day 1.
KEPT: dict[str, Any] = {
    "age_years": 60,
    "crcl_ml_min": 80,
    "goal": "review",
    "current_regimen": {"product": "gabapentin", "dose_mg": 400, "times_per_day": 3},
}
# Stopping 600 mg three times a day: a taper that ends (NEU48 §2.5, decision D7).
STOP: dict[str, Any] = {
    "age_years": 50,
    "crcl_ml_min": 90,
    "goal": "stop",
    "current_regimen": {"product": "gabapentin", "dose_mg": 600, "times_per_day": 3},
}
# A dose change, in any words: no talking point or report may contain one.
FORBIDDEN = (
    "increase your dose",
    "increase the dose",
    "raise your dose",
    "take more",
    "take less",
    "reduce your dose",
    "reduce the dose",
    "lower your dose",
    "decrease your dose",
    "higher dose",
    "lower dose",
)
