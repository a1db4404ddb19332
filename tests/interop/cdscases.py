"""FHIR resources and CDS Hooks requests the interop tests share (builders, not fixtures).

Every builder returns plain JSON (dicts), so a test can break a document before it is read.
"""

from __future__ import annotations

import copy
import json
import os
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient

from gabaguide.interop.cdshooks import HookRequest, OrderContext
from gabaguide.interop.fhirchart import LOINC, RXNORM, Chart, read_chart
from gabaguide.interop.fhirread import read_resources
from gabaguide.knowledge import Knowledge

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cds"
TODAY = date(2026, 12, 1)  # the examples' patient (born 1948-03-02) is 78 on this day
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
PATIENT_ID = "example-78m"


def shared_conformance() -> Path:
    """``$GABAGUIDE_SHARED/conformance``, else ``shared/conformance`` beside the project."""
    shared = os.environ.get("GABAGUIDE_SHARED")
    if shared:
        return Path(shared) / "conformance"
    return Path(__file__).resolve().parents[3] / "shared" / "conformance"


def shared_document(name: str) -> dict[str, Any]:
    """A CDS Hooks specification example from ``../shared``: skipped when missing, except under
    CI (``CI`` set), where a missing document fails."""
    path = shared_conformance() / "cds-hooks" / name
    if not path.is_file():
        message = f"CDS Hooks conformance document not found at {path}"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; CI must run the conformance tests")
        pytest.skip(message)
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def example(name: str) -> dict[str, Any]:
    """A request from ``examples/cds`` (a fresh copy: tests may change it)."""
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": copy.deepcopy(r)} for r in resources],
    }


def quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def dose(value: float, unit: str = "mg") -> dict[str, Any]:
    """A ``doseAndRate`` list with one ``doseQuantity``."""
    return {"doseAndRate": [{"doseQuantity": quantity(value, unit)}]}


def every(frequency: int, period: float = 1, unit: str = "d") -> dict[str, Any]:
    """A ``timing`` of ``frequency`` doses per ``period`` ``unit``."""
    return {"timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}}}


def medication_request(
    ident: str | None,
    *,
    name: str | None = None,
    rxcui: str | None = None,
    mg: float | None = None,
    unit: str = "mg",
    times: int = 3,
    status: str = "active",
    dosage: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A MedicationRequest for ``mg`` (in ``unit``) ``times`` a day, or the given ``dosage``."""
    concept: dict[str, Any] = {}
    if rxcui is not None:
        concept["coding"] = [{"system": RXNORM, "code": rxcui}]
    if name is not None:
        concept["text"] = name
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": concept,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if ident is not None:
        resource["id"] = ident
    if dosage is not None:
        resource["dosageInstruction"] = dosage
    elif mg is not None:
        resource["dosageInstruction"] = [{**dose(mg, unit), **every(times)}]
    return resource | extra


def observation(
    loinc: str, value: float, unit: str, when: str, status: str = "final", ident: str = "obs"
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": when,
        "valueQuantity": quantity(value, unit),
    }


def condition(
    text: str | None = None,
    *,
    code: tuple[str, str] | None = None,
    clinical: str = "active",
    verification: str | None = None,
) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code is not None:
        concept["coding"] = [{"system": code[0], "code": code[1]}]
    if text is not None:
        concept["text"] = text
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"code": clinical}]},
        "code": concept,
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
    }
    if verification is not None:
        resource["verificationStatus"] = {"coding": [{"code": verification}]}
    return resource


def allergy(text: str, clinical: str = "active") -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [{"code": clinical}]},
        "code": {"text": text},
        "patient": {"reference": f"Patient/{PATIENT_ID}"},
    }


def chart_of(k: Knowledge, prefetch: dict[str, Any], today: date = TODAY) -> Chart:
    """The chart as the CDS service reads it (``gabaguide.web.cds._answer``)."""
    patients = read_resources(FhirPatient, prefetch.get("patient"), "prefetch.patient")
    return read_chart(
        k,
        today,
        patients[0] if patients else None,
        read_resources(Observation, prefetch.get("creatinine"), "prefetch.creatinine"),
        read_resources(Observation, prefetch.get("weight"), "prefetch.weight"),
        read_resources(MedicationRequest, prefetch.get("medications"), "prefetch.medications"),
        read_resources(Condition, prefetch.get("conditions"), "prefetch.conditions"),
        read_resources(AllergyIntolerance, prefetch.get("allergies"), "prefetch.allergies"),
    )


def request_of(data: dict[str, Any]) -> tuple[HookRequest, OrderContext]:
    request = HookRequest.model_validate(data)
    return request, OrderContext.model_validate(request.context)


def with_drafts(data: dict[str, Any], *orders: dict[str, Any]) -> dict[str, Any]:
    """The request with these draft orders instead of its own."""
    out = copy.deepcopy(data)
    out["context"]["draftOrders"] = bundle(*orders) | {"type": "collection"}
    out["context"].pop("selections", None)
    return out
