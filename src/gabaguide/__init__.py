"""gabaguide: gabapentin therapy decision support.

Advice for clinicians, with reasons and citations; it never replaces their judgement.

>>> from gabaguide import assess, parse_patient
>>> a = assess(parse_patient({"age_years": 70, "crcl_ml_min": 45, "indication": "PHN"}))
>>> a.renal.band
'>30 to 59'
"""

from __future__ import annotations

from gabaguide.clinical.assess import assess
from gabaguide.domain import (
    Assessment,
    Citation,
    CurrentRegimen,
    Dose,
    Finding,
    Maintenance,
    Medication,
    Patient,
    Plan,
    PlanDay,
    Renal,
    SerumCreatinine,
    Unit,
    parse_patient,
)
from gabaguide.errors import GabaguideError, InputError, KnowledgeError
from gabaguide.knowledge import Knowledge, load_knowledge
from gabaguide.pk import Simulation
from gabaguide.pk import simulate_regimen as simulate

__all__ = [
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
