"""CDS Hooks 2.0 documents: the services gabaguide offers, the request it reads and the cards it
answers with (https://cds-hooks.hl7.org/2.0/).

Requests are read tolerantly (unknown fields, such as 3.0 additions, are kept and ignored); the
documents gabaguide writes are strict and leave out empty fields.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from gabaguide.knowledge import Knowledge

_TOLERANT = ConfigDict(extra="allow", frozen=True)
_STRICT = ConfigDict(extra="forbid", frozen=True)

Indicator = Literal["info", "warning", "critical"]
FHIR_ID = r"^[A-Za-z0-9\-\.]{1,64}$"  # FHIR R4 id datatype
SUMMARY_MAX = 140  # the specification: "<140-character summary"
OVERRIDE_SYSTEM = "urn:gabaguide:cds:override-reason"

SERVICES: dict[str, tuple[str, str]] = {
    "gabaguide-order-select": (
        "order-select",
        "gabaguide: gabapentinoid order check (on select)",
    ),
    "gabaguide-order-sign": (
        "order-sign",
        "gabaguide: gabapentinoid order check (on sign)",
    ),
}
REQUIRED_PREFETCH = ("patient", "creatinine", "weight", "medications", "conditions", "allergies")


# --- request ---------------------------------------------------------------------------------------


class FhirAuthorization(BaseModel):
    model_config = _TOLERANT

    access_token: str = Field(min_length=1)
    token_type: Literal["Bearer"]
    expires_in: int | None = None
    scope: str
    subject: str
    patient: str | None = None


class HookRequest(BaseModel):
    """A CDS Hooks service call. ``context`` is read by the hook's own rules."""

    model_config = _TOLERANT

    hook: str = Field(min_length=1)
    hookInstance: str = Field(min_length=1)
    fhirServer: HttpUrl | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


class OrderContext(BaseModel):
    """The context of order-select and order-sign (HL7 hook definitions, R4)."""

    model_config = _TOLERANT

    userId: str = Field(min_length=1)
    patientId: str = Field(pattern=FHIR_ID, description="A FHIR id: it goes into FHIR queries.")
    encounterId: str | None = None
    selections: tuple[str, ...] = ()
    draftOrders: dict[str, Any]


# --- response --------------------------------------------------------------------------------------


class Coding(BaseModel):
    model_config = _STRICT

    code: str
    system: str
    display: str | None = None


class Source(BaseModel):
    model_config = _STRICT

    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None


class Action(BaseModel):
    model_config = _STRICT

    type: Literal["create", "update", "delete"]
    description: str = Field(min_length=1)
    resource: dict[str, Any] | None = None
    resourceId: str | None = None


class Suggestion(BaseModel):
    model_config = _STRICT

    label: str = Field(min_length=1)
    uuid: str | None = None
    isRecommended: bool | None = None
    actions: tuple[Action, ...] = ()


class Link(BaseModel):
    model_config = _STRICT

    label: str
    url: str
    type: Literal["absolute", "smart"]
    appContext: str | None = None
    autolaunchable: bool | None = None


class Card(BaseModel):
    model_config = _STRICT

    uuid: str | None = None
    summary: str = Field(min_length=1, max_length=SUMMARY_MAX - 1)
    detail: str | None = None
    indicator: Indicator
    source: Source
    suggestions: tuple[Suggestion, ...] = ()
    selectionBehavior: Literal["at-most-one", "any"] | None = None
    overrideReasons: tuple[Coding, ...] = ()
    links: tuple[Link, ...] = ()


class OperationOutcomeIssue(BaseModel):
    model_config = _STRICT

    severity: Literal["error"]
    code: str
    diagnostics: str


class OperationOutcome(BaseModel):
    """The body of every error answer of the CDS routes (FHIR R4 OperationOutcome)."""

    model_config = _STRICT

    resourceType: Literal["OperationOutcome"]
    issue: tuple[OperationOutcomeIssue, ...]


class CdsResponse(BaseModel):
    model_config = _STRICT

    cards: tuple[Card, ...] = ()
    systemActions: tuple[Action, ...] = ()


class OverrideReason(BaseModel):
    model_config = _TOLERANT

    reason: Coding | None = None
    userComment: str | None = Field(None, max_length=2000)


class AcceptedSuggestion(BaseModel):
    model_config = _TOLERANT

    id: str


class FeedbackItem(BaseModel):
    model_config = _TOLERANT

    card: str = Field(min_length=1, max_length=64)
    outcome: Literal["accepted", "overridden"]
    acceptedSuggestions: tuple[AcceptedSuggestion, ...] = ()
    overrideReason: OverrideReason | None = None
    outcomeTimestamp: str = Field(min_length=1, max_length=64)


class Feedback(BaseModel):
    model_config = _TOLERANT

    feedback: tuple[FeedbackItem, ...] = Field(min_length=1, max_length=100)


# --- discovery -------------------------------------------------------------------------------------


def prefetch_templates(k: Knowledge) -> dict[str, str]:
    """What each service asks the EHR to send: the patient, their latest creatinine and weight
    (LOINC codes from cds.toml), active medications, conditions and allergies."""
    obs = k.cds.observations

    def observations(codes: tuple[str, ...], count: int) -> str:
        coded = ",".join(f"http://loinc.org|{c}" for c in codes)
        return (
            f"Observation?patient={{{{context.patientId}}}}&code={coded}&_sort=-date&_count={count}"
        )

    return {
        "patient": "Patient/{{context.patientId}}",
        "creatinine": observations(obs.creatinine.loinc, 3),
        "weight": observations(obs.weight.loinc, 1),
        "medications": "MedicationRequest?patient={{context.patientId}}&status=active",
        "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
        "allergies": "AllergyIntolerance?patient={{context.patientId}}&clinical-status=active",
    }


def discovery(k: Knowledge) -> dict[str, Any]:
    """The discovery document (``GET /cds-services``)."""
    templates = prefetch_templates(k)
    return {
        "services": [
            {
                "hook": hook,
                "title": title,
                "description": (
                    "Checks a gabapentin or pregabalin order (or a co-prescribed opioid or CNS "
                    "depressant) against the label: renal dose with a corrected order, maximum "
                    "dose, opioid and CNS-depressant co-prescription with MME, duplicate "
                    "gabapentinoids, pregnancy, and a taper when the order stops therapy."
                ),
                "id": service_id,
                "prefetch": templates,
                "usageRequirements": (
                    "Send the prefetch, or a fhirServer with fhirAuthorization to fetch it; "
                    "without either the service answers 412."
                ),
            }
            for service_id, (hook, title) in SERVICES.items()
        ]
    }
