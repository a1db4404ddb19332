"""Hypothesis strategies for patients, shared by every property test."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

INDICATIONS = [
    "postherpetic neuralgia",
    "PHN",
    "diabetic neuropathy",
    "neuropathic pain",
    "epilepsy",
    "restless legs",
    "fibromyalgia",
    "sciatica",
    "acute pain",
    "something unknown",
]
PRODUCTS = ["gabapentin", "Neurontin", "gralise", "horizant"]


def creatinine() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda v: {"value": v, "unit": "mg/dL"}, st.floats(0.1, 25)),
        st.builds(lambda v: {"value": v, "unit": "umol/L"}, st.floats(9, 2200)),
    )


@st.composite
def patient_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Valid patient JSON objects across ages, kidney function, products, goals and targets."""
    d: dict[str, Any] = {}
    optional = {
        "age_years": st.floats(0, 120),
        "sex": st.sampled_from(["female", "male"]),
        "weight_kg": st.floats(0.5, 400),
        "serum_creatinine": creatinine(),
        "crcl_ml_min": st.floats(0, 250),
        "indication": st.sampled_from(INDICATIONS),
        "product": st.sampled_from(PRODUCTS),
        "target_daily_mg": st.floats(1, 20000),
        "current_regimen": st.fixed_dictionaries(
            {
                "product": st.sampled_from(PRODUCTS),
                "dose_mg": st.sampled_from([100, 150, 300, 400, 600, 800, 1200, 1600]),
                "times_per_day": st.integers(1, 4),
            }
        ),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            d[name] = draw(strategy)
    d["dialysis"] = draw(st.sampled_from(["none", "none", "none", "hemodialysis", "peritoneal"]))
    d["goal"] = draw(st.sampled_from(["start", "start", "review", "stop", "switch"]))
    return d
