"""``tolerant`` and ``read_resources``: FHIR R4 documents as EHRs send them (decision D17).

Unknown elements (a later FHIR version's, an EHR's own) are dropped and a lone object where FHIR
wants a list is wrapped; ``modifierExtension`` is never dropped; anything else invalid is a
FhirInputError naming its location.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient

from gabaguide.errors import InputError
from gabaguide.interop.fhirread import FhirInputError, read_resources, tolerant
from tests.interop.cdscases import bundle, medication_request, observation

MODIFIER = [{"url": "http://example.org/fhir/StructureDefinition/not-given", "valueBoolean": True}]


def order(**extra: Any) -> dict[str, Any]:
    """300 mg three times a day of the 300 mg capsule (RxNorm 310431)."""
    return medication_request("m1", rxcui="310431", mg=300, **extra)


def problems(data: object, model: type[Any] = MedicationRequest) -> tuple[str, ...]:
    with pytest.raises(FhirInputError) as caught:
        tolerant(model, data, "prefetch.x")
    assert isinstance(caught.value, InputError)
    return caught.value.problems


def test_valid_resource_is_read_unchanged() -> None:
    data = order()
    read = tolerant(MedicationRequest, data, "x")
    assert read.model_dump(mode="json", exclude_none=True) == data


@pytest.mark.parametrize(
    ("path", "element"),
    [
        pytest.param((), "bogus", id="top-level"),
        # FHIR R5 only: MedicationRequest.renderedDosageInstruction.
        pytest.param((), "renderedDosageInstruction", id="R5-renderedDosageInstruction"),
        pytest.param(("dosageInstruction", 0), "ehrSig", id="in-a-list"),
        pytest.param(("dosageInstruction", 0, "timing", "repeat"), "vendorFlag", id="deep"),
    ],
)
def test_unknown_element_is_dropped(path: tuple[str | int, ...], element: str) -> None:
    data = order()
    parent: Any = data
    for part in path:
        parent = parent[part]
    parent[element] = "1 capsule three times a day"
    before = copy.deepcopy(data)
    read = tolerant(MedicationRequest, data, "x")
    assert read.model_dump(mode="json", exclude_none=True) == order()
    assert data == before  # the caller's document is not changed


def test_several_unknown_elements_at_several_depths_are_dropped() -> None:
    data = order(bogus=1, renderedDosageInstruction="x")
    data["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"]["vendor"] = "y"
    data["medicationCodeableConcept"]["coding"][0]["vendor"] = "z"
    assert (
        tolerant(MedicationRequest, data, "x").model_dump(mode="json", exclude_none=True) == order()
    )


def test_lone_doseAndRate_object_is_wrapped() -> None:  # noqa: N802 - the FHIR element's name
    # The CDS Hooks order-select example sends doseAndRate as one object.
    data = order()
    entry = data["dosageInstruction"][0]
    entry["doseAndRate"] = entry["doseAndRate"][0]
    read = tolerant(MedicationRequest, data, "x")
    assert read.model_dump(mode="json", exclude_none=True) == order()


def test_lone_dosageInstruction_object_is_wrapped() -> None:  # noqa: N802 - the FHIR element's name
    data = order()
    data["dosageInstruction"] = data["dosageInstruction"][0]
    data["dosageInstruction"]["doseAndRate"] = data["dosageInstruction"]["doseAndRate"][0]
    read = tolerant(MedicationRequest, data, "x")
    assert read.model_dump(mode="json", exclude_none=True) == order()


def test_modifier_extension_is_kept() -> None:
    data = order(modifierExtension=MODIFIER)
    data["dosageInstruction"][0]["modifierExtension"] = MODIFIER
    read = tolerant(MedicationRequest, data, "x")
    assert read.model_dump(mode="json", exclude_none=True)["modifierExtension"] == MODIFIER
    assert read.dosageInstruction is not None
    assert read.dosageInstruction[0].modifierExtension is not None


@pytest.mark.parametrize(
    ("place", "element"),
    [
        # Quantity has no modifierExtension in FHIR: an error, not a silent drop.
        pytest.param(
            ("dosageInstruction", 0, "doseAndRate", 0, "doseQuantity"),
            "modifierExtension",
            id="where-not-allowed",
        ),
        pytest.param((), "modifierExtensionR5", id="look-alike"),
    ],
)
def test_modifier_elements_are_never_dropped_silently(
    place: tuple[str | int, ...], element: str
) -> None:
    data = order()
    parent: Any = data
    for part in place:
        parent = parent[part]
    parent[element] = MODIFIER
    found = problems(data)
    assert len(found) == 1
    location = "prefetch.x" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in place)
    assert found[0].startswith(f"{location}.{element}: ")


@pytest.mark.parametrize(
    ("change", "location"),
    [
        # FHIR code: no leading, trailing or double whitespace.
        pytest.param({"status": "  "}, "prefetch.x.status: ", id="status-not-a-code"),
        pytest.param({"status": 5}, "prefetch.x.status: ", id="status-not-a-string"),
        pytest.param({"intent": None}, "prefetch.x.intent: ", id="intent-missing"),
        pytest.param({"authoredOn": "yesterday"}, "prefetch.x.authoredOn: ", id="bad-date"),
    ],
)
def test_invalid_resource_names_the_location(change: dict[str, Any], location: str) -> None:
    data = {k: v for k, v in (order() | change).items() if v is not None}
    found = problems(data)
    assert any(p.startswith(location) for p in found), found


def test_invalid_nested_element_names_the_list_index() -> None:
    data = order()
    data["dosageInstruction"][0]["timing"]["repeat"]["frequency"] = "three"
    found = problems(data)
    assert any(
        p.startswith("prefetch.x.dosageInstruction[0].timing.repeat.frequency: ") for p in found
    ), found


def test_every_problem_is_listed_and_unknown_elements_are_not_among_them() -> None:
    data = order(status="  ", authoredOn="yesterday", bogus=1)
    found = problems(data)
    assert sorted(p.split(":")[0] for p in found) == ["prefetch.x.authoredOn", "prefetch.x.status"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            order() | {"resourceType": "Patient"},
            "prefetch.x.resourceType must be 'MedicationRequest'; got 'Patient'",
            id="wrong-resourceType",
        ),
        pytest.param(
            {k: v for k, v in order().items() if k != "resourceType"},
            "prefetch.x.resourceType must be 'MedicationRequest'; got None",
            id="no-resourceType",
        ),
        pytest.param(
            [order()], "prefetch.x must be a FHIR resource (a JSON object)", id="not-an-object"
        ),
    ],
)
def test_not_a_resource_of_the_model(data: object, message: str) -> None:
    assert problems(data) == (message,)


def test_wrong_model_for_a_valid_resource() -> None:
    assert problems(order(), FhirPatient) == (
        "prefetch.x.resourceType must be 'Patient'; got 'MedicationRequest'",
    )


def test_read_resources_from_a_bundle_skips_other_types() -> None:
    value = bundle(order(), {"resourceType": "OperationOutcome", "issue": []}, order(id="m2"))
    read = read_resources(MedicationRequest, value, "prefetch.medications")
    assert [r.id for r in read] == ["m1", "m2"]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="null"),
        pytest.param(bundle(), id="empty-bundle"),
        pytest.param({"resourceType": "Bundle", "type": "searchset"}, id="bundle-without-entry"),
    ],
)
def test_read_resources_of_nothing(value: object) -> None:
    assert read_resources(Observation, value, "prefetch.creatinine") == []


def test_read_resources_of_a_lone_resource() -> None:
    read = read_resources(Observation, observation("2160-0", 1.1, "mg/dL", "2026-11-01"), "p")
    assert [r.id for r in read] == ["obs"]


def test_read_resources_lists_every_broken_entry() -> None:
    value = bundle(order(), order(status="  "), order(intent="  "))
    with pytest.raises(FhirInputError) as caught:
        read_resources(MedicationRequest, value, "prefetch.medications")
    places = [p.split(":")[0] for p in caught.value.problems]
    assert places == [
        "prefetch.medications.entry[1].resource.status",
        "prefetch.medications.entry[2].resource.intent",
    ]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(
            "Patient/1", "prefetch.medications must be a FHIR resource or Bundle", id="string"
        ),
        pytest.param(
            {"resourceType": "Bundle", "entry": {"resource": {}}},
            "prefetch.medications.entry must be a list",
            id="entry-object",
        ),
    ],
)
def test_read_resources_of_something_else(value: object, message: str) -> None:
    with pytest.raises(FhirInputError) as caught:
        read_resources(MedicationRequest, value, "prefetch.medications")
    assert caught.value.problems[0].startswith(message)
