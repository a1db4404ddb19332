"""Hypothesis strategies for patients, shared by every property test."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import event
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
MEDICINES = [
    "oxycodone",
    "Norco",
    "morphine",
    "fentanyl patch",
    "Xanax",
    "zolpidem",
    "sertraline",
    "Maalox",
    "naproxen",
    "cimetidine",
    "Lyrica",
    "Gralise",
    "vitamin D",
    "1049621",
]
CONDITIONS = ["COPD", "depression", "substance use disorder", "cirrhosis", "hypertension", "gout"]
ALLERGIES = ["gabapentin", "pregabalin", "penicillin"]
TREATMENTS = ["NSAIDs", "opioids", "amitriptyline", "gabapentin"]


def clock() -> st.SearchStrategy[str]:
    return st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))


def medication() -> st.SearchStrategy[dict[str, Any]]:
    def build(name: str, dose: float | None, times: int | None, at: list[str]) -> dict[str, Any]:
        med: dict[str, Any] = {"name": name}
        if name.isdigit():
            med["rxcui"] = name
        if dose is not None:
            med["dose_mg"] = dose
        if times is not None:
            med["times_per_day"] = times
        if at:
            med["times"] = at
        return med

    return st.builds(
        build,
        st.sampled_from(MEDICINES),
        st.one_of(st.none(), st.floats(0.5, 400)),
        st.one_of(st.none(), st.integers(1, 6)),
        st.lists(clock(), max_size=3),
    )


def routine() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "wake": clock(),
            "sleep": clock(),
            "meals": st.lists(clock(), max_size=4),
            "start_date": st.sampled_from(["2026-12-01", "2027-02-28"]),
            "dialysis_days": st.lists(
                st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
                max_size=4,
                unique=True,
            ),
            "dialysis_end": clock(),
        },
    )


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
    optional |= {
        "medications": st.lists(medication(), max_size=4),
        "conditions": st.lists(st.sampled_from(CONDITIONS), max_size=3),
        "allergies": st.lists(st.sampled_from(ALLERGIES), max_size=2),
        "failed_treatments": st.lists(st.sampled_from(TREATMENTS), max_size=2),
        "pregnant": st.booleans(),
        "breastfeeding": st.booleans(),
        "alcohol_use": st.booleans(),
        "routine": routine(),
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            d[name] = draw(strategy)
    d["dialysis"] = draw(st.sampled_from(["none", "none", "none", "hemodialysis", "peritoneal"]))
    d["goal"] = draw(st.sampled_from(["start", "start", "review", "stop", "switch"]))
    return d


SKIPS: Counter[str] = Counter()
"""Cases a property test drew but could not check, by reason (printed after the run)."""


def skip(reason: str) -> None:
    """Count a drawn case the property does not apply to (reported in the terminal summary)."""
    SKIPS[reason] += 1
    event(reason)
