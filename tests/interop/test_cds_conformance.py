"""gabaguide's CDS Hooks documents against the specification's own examples.

The examples are ``../shared/conformance/cds-hooks`` (see its README), read at test time and never
copied into the project: ``$GABAGUIDE_SHARED/conformance`` if that variable is set, else
``shared/conformance`` next to the project. Without them the tests skip, except under CI (``CI``
set), where they fail. They are: the discovery response, the patient-view request and the response
of the HL7 cds-hooks repository (``binary-*.json``), and the R4 ``context`` examples of the
order-select and order-sign hook definitions (a NutritionOrder and an amoxicillin/clavulanate
MedicationRequest; order-select sends ``doseAndRate`` as an object, order-sign puts ``doseQuantity``
straight into the Dosage).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from gabaguide.interop.cdsadvice import advise
from gabaguide.interop.cdshooks import (
    SERVICES,
    Card,
    CdsResponse,
    FhirAuthorization,
    HookRequest,
    OrderContext,
    discovery,
    prefetch_templates,
)
from gabaguide.knowledge import load_knowledge
from tests.interop.cdscases import (
    bundle,
    chart_of,
    example,
    medication_request,
    request_of,
    shared_document,
)

K = load_knowledge()
RESPONSE = "binary-CDSHooksResponse.json"
SERVICES_EXAMPLE = "binary-CDSHookServices.json"
PATIENT_VIEW = "binary-CDSHooksRequestPV.json"
ORDER_CONTEXTS = [
    pytest.param("order-select", "hook-library-order-select-context-example-R4.json", id="select"),
    pytest.param("order-sign", "hook-library-order-sign-context-example-R4.json", id="sign"),
]
# The spec examples' patient (patient-view prefetch): male, born 1925-12-23.
SPEC_PATIENT = {
    "resourceType": "Patient",
    "id": "1288992",
    "gender": "male",
    "birthDate": "1925-12-23",
}


# --- where the examples are ------------------------------------------------------------------------


def test_missing_examples_fail_under_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GABAGUIDE_SHARED", str(tmp_path))
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="CI must run the conformance tests"):
        shared_document(RESPONSE)


def test_missing_examples_skip_outside_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GABAGUIDE_SHARED", str(tmp_path))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not found"):
        shared_document(RESPONSE)


# --- (a) the response ------------------------------------------------------------------------------


def without_icons(response: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(response)
    for card in out["cards"]:
        card["source"].pop("icon", None)
    return out


def test_spec_response_is_a_cds_response() -> None:
    CdsResponse.model_validate(shared_document(RESPONSE))


def test_spec_response_cards_validate_as_our_cards() -> None:
    response = CdsResponse.model_validate(without_icons(shared_document(RESPONSE)))
    assert [c.summary for c in response.cards] == ["Example Card", "Another card"]
    assert [c.indicator for c in response.cards] == ["info", "warning"]
    assert [len(c.links) for c in response.cards] == [3, 0]
    assert [len(c.overrideReasons) for c in response.cards] == [0, 2]


def test_our_cards_use_only_fields_of_the_spec_card() -> None:
    spec_fields = {key for card in shared_document(RESPONSE)["cards"] for key in card}
    # Fields of the specification's Card that its example leaves out.
    spec_fields |= {"suggestions", "selectionBehavior"}
    data = example("order-sign.json")
    request, context = request_of(data)
    cards = [d.card for d in advise(K, request.hook, context, chart_of(K, data["prefetch"]))]
    assert cards
    for card in cards:
        written = card.model_dump(mode="json", exclude_defaults=True)
        assert set(written) <= spec_fields
        assert Card.model_validate(written) == card


# --- (b) discovery ---------------------------------------------------------------------------------


def test_spec_services_and_ours_have_the_required_fields() -> None:
    required = ("hook", "description", "id")
    spec = shared_document(SERVICES_EXAMPLE)["services"]
    ours = discovery(K)["services"]
    for service in (*spec, *ours):
        for field in required:
            assert isinstance(service[field], str)
            assert service[field]


def test_our_services_use_only_fields_of_the_spec_services() -> None:
    spec_fields = {key for s in shared_document(SERVICES_EXAMPLE)["services"] for key in s}
    ours = discovery(K)["services"]
    assert {s["id"]: s["hook"] for s in ours} == {sid: hook for sid, (hook, _) in SERVICES.items()}
    for service in ours:
        assert set(service) <= spec_fields


def test_prefetch_templates_are_strings_about_the_context_patient() -> None:
    spec_templates = [
        t
        for s in shared_document(SERVICES_EXAMPLE)["services"]
        for t in s.get("prefetch", {}).values()
    ]
    ours = prefetch_templates(K)
    assert set(ours) == {
        "patient",
        "creatinine",
        "weight",
        "medications",
        "conditions",
        "allergies",
    }
    for template in (*spec_templates, *ours.values()):
        assert isinstance(template, str)
        assert "{{context.patientId}}" in template
    assert ours["patient"] == "Patient/{{context.patientId}}"
    assert "http://loinc.org|2160-0" in ours["creatinine"]
    assert all(s["prefetch"] == ours for s in discovery(K)["services"])


# --- (c) the order-select and order-sign contexts -------------------------------------------------


@pytest.mark.parametrize(("hook", "name"), ORDER_CONTEXTS)
def test_spec_order_context_parses(hook: str, name: str) -> None:
    context = OrderContext.model_validate(shared_document(name)["context"])
    assert context.patientId == "1288992"
    assert context.draftOrders["resourceType"] == "Bundle"
    if hook == "order-select":
        assert context.selections == (
            "NutritionOrder/pureeddiet-simple",
            "MedicationRequest/smart-MedicationRequest-103",
        )


@pytest.mark.parametrize(("hook", "name"), ORDER_CONTEXTS)
def test_spec_order_context_gives_no_cards(hook: str, name: str) -> None:
    # Amoxicillin, with no gabapentinoid taken: nothing for gabaguide to say (the malformed
    # doseAndRate or doseQuantity is tolerated, the NutritionOrder is not read).
    context = OrderContext.model_validate(shared_document(name)["context"])
    assert advise(K, hook, context, chart_of(K, {"patient": SPEC_PATIENT})) == []


@pytest.mark.parametrize(("hook", "name"), ORDER_CONTEXTS)
def test_spec_order_context_gives_no_cards_while_taking_gabapentin(hook: str, name: str) -> None:
    # Amoxicillin is neither an opioid, a CNS depressant nor a gabapentinoid: no interaction card.
    context = OrderContext.model_validate(shared_document(name)["context"])
    gabapentin = medication_request(
        "gaba-1", name="gabapentin 300 MG Oral Capsule", rxcui="310431", mg=1, unit="{capsule}"
    )
    chart = chart_of(K, {"patient": SPEC_PATIENT, "medications": bundle(gabapentin)})
    assert len(chart.medications) == 1
    assert advise(K, hook, context, chart) == []


# --- (d) the patient-view request -----------------------------------------------------------------


def test_spec_patient_view_request_parses() -> None:
    request = HookRequest.model_validate(shared_document(PATIENT_VIEW))
    assert request.hook == "patient-view"
    assert request.hookInstance == "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea"
    assert str(request.fhirServer).startswith("http://hooks.smarthealthit.org:9080")
    assert request.fhirAuthorization == FhirAuthorization(
        access_token="some-opaque-fhir-access-token",
        token_type="Bearer",
        expires_in=300,
        scope="user/Patient.read user/Observation.read",
        subject="cds-service4",
    )
    assert request.context["patientId"] == "1288992"
    assert request.prefetch is not None
    chart = chart_of(K, {"patient": request.prefetch["patientToGreet"]})
    assert (chart.sex, chart.age_years) == ("male", 100)
