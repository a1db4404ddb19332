"""Shared fixtures: the packaged knowledge base and a patient builder."""

from __future__ import annotations

from typing import Any

import pytest

from gabaguide import Assessment, Knowledge, Patient, assess, load_knowledge, parse_patient

# An adult starting gabapentin for PHN with normal kidney function (label titration to 1800 mg/day).
PHN = {
    "age_years": 60,
    "sex": "female",
    "weight_kg": 70,
    "serum_creatinine": {"value": 0.9, "unit": "mg/dL"},
    "indication": "postherpetic neuralgia",
    "target_daily_mg": 1800,
}


@pytest.fixture(scope="session")
def k() -> Knowledge:
    return load_knowledge()


def patient(**fields: Any) -> Patient:
    """A validated patient from keyword fields (JSON-shaped values)."""
    return parse_patient(fields)


def run(**fields: Any) -> Assessment:
    """Assess a patient given as keyword fields."""
    return assess(patient(**fields))


def codes(a: Assessment) -> set[str]:
    return {f.code for f in a.findings}


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many generated cases each property test skipped, and why."""
    from tests.strategies import SKIPS

    if SKIPS:
        terminalreporter.section("property tests: generated cases skipped")
        for reason, n in sorted(SKIPS.items()):
            terminalreporter.write_line(f"{n:6d}  {reason}")
