"""The public surface is small and pinned (cf. httpx tests/test_exported_members.py)."""

from __future__ import annotations

import gabaguide


def test_exported_members() -> None:
    assert gabaguide.__all__ == sorted(gabaguide.__all__)
    assert gabaguide.__all__ == [
        "Assessment",
        "Citation",
        "CurrentRegimen",
        "Dose",
        "Finding",
        "GabaguideError",
        "InputError",
        "Knowledge",
        "KnowledgeError",
        "Maintenance",
        "Medication",
        "Patient",
        "Plan",
        "PlanDay",
        "Renal",
        "SerumCreatinine",
        "Simulation",
        "Unit",
        "assess",
        "load_knowledge",
        "parse_patient",
        "simulate",
    ]
    for name in gabaguide.__all__:
        assert getattr(gabaguide, name) is not None
