"""Request examples shown in the OpenAPI document (and tried by its tests)."""

from __future__ import annotations

from typing import Any

EXAMPLE_PATIENT: dict[str, Any] = {
    "patient_id": "example-1",
    "age_years": 68,
    "sex": "female",
    "weight_kg": 70,
    "crcl_ml_min": 40,
    "indication": "postherpetic neuralgia",
    "goal": "start",
    "medications": [{"name": "oxycodone", "dose_mg": 10, "times_per_day": 3}],
    "routine": {"start_date": "2026-12-01"},
}
EXAMPLE_INTERACTIONS: dict[str, Any] = {
    "medications": [
        {"name": "Norco", "dose_mg": 5, "times_per_day": 4},
        {"name": "Maalox"},
    ],
    "product": "gabapentin",
    "alcohol_use": True,
}
EXAMPLE_SIMULATION: dict[str, Any] = {
    "regimen": "400 mg TID",
    "crcl_ml_min": [90, 25],
    "drug": "gabapentin",
    "days": 5,
    "n": 100,
    "seed": 1,
}
