"""Read FHIR R4 resources, tolerantly, with fhir.resources.

fhir.resources (pydantic 2) ships FHIR R5 as its default package and R4B (4.3.0) beside it; there is
no 4.0.1 package for pydantic 2. The resources read here (Patient, Observation, Condition,
AllergyIntolerance, MedicationRequest with Dosage and Timing) are the same in R4 and R4B, so their
R4B models validate R4 documents (docs/decisions.md D17).

Real EHRs send documents that are not quite valid: an element from a later FHIR version, or one
object where the specification wants a list (the CDS Hooks order-select example's ``doseAndRate``).
:func:`tolerant` drops unknown elements and wraps lone objects, and reports everything else: a
resource it cannot read is a :class:`FhirInputError` naming each problem's location.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from fhir.resources.R4B.resource import Resource
from pydantic import ValidationError

from gabaguide.errors import InputError

R = TypeVar("R", bound=Resource)

RESOURCE_TYPES: Mapping[str, type[Resource]] = {
    "Patient": FhirPatient,
    "Observation": Observation,
    "Condition": Condition,
    "AllergyIntolerance": AllergyIntolerance,
    "MedicationRequest": MedicationRequest,
}
_MAX_REPAIRS = 8


class FhirInputError(InputError):
    """FHIR content that cannot be read: one sentence per problem, each naming its location."""


def tolerant(model: type[R], data: object, where: str) -> R:
    """``data`` as ``model``, after dropping unknown elements and wrapping lone objects in lists."""
    if not isinstance(data, dict):
        raise FhirInputError([f"{where} must be a FHIR resource (a JSON object)"])
    kind = data.get("resourceType")
    expected = model.get_resource_type()
    if kind != expected:
        raise FhirInputError([f"{where}.resourceType must be {expected!r}; got {kind!r}"])
    doc: dict[str, Any] = data
    copied = False
    for _ in range(_MAX_REPAIRS):
        try:
            return model.model_validate(doc)
        except ValidationError as exc:
            errors = exc.errors()
        if not copied:
            doc, copied = copy.deepcopy(doc), True
        fixable = [e for e in errors if _repair(doc, e)]
        if len(fixable) != len(errors):
            raise FhirInputError(
                [f"{_where(where, e['loc'])}: {e['msg']}" for e in errors if e not in fixable]
            ) from None
    raise FhirInputError([f"{where}: too many elements to repair"])


def _repair(doc: dict[str, Any], error: Mapping[str, Any]) -> bool:
    """Drop an unknown element or wrap a lone object in a list; False when neither applies."""
    loc = tuple(error["loc"])
    if not loc:
        return False
    parent = _at(doc, loc[:-1])
    key = loc[-1]
    if not isinstance(parent, dict) or not isinstance(key, str) or key not in parent:
        return False
    if error["type"] == "extra_forbidden" and not key.startswith("modifier"):
        del parent[key]
        return True
    if error["type"] == "list_type" and isinstance(parent[key], dict):
        parent[key] = [parent[key]]
        return True
    return False


def _at(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        try:
            doc = doc[part]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def _where(where: str, loc: tuple[Any, ...]) -> str:
    out = where
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def resources_in(value: object, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The resources of a prefetch value: a resource itself, or the entries of a Bundle."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise FhirInputError([f"{where} must be a FHIR resource or Bundle (a JSON object)"])
    if "resourceType" not in value:
        raise FhirInputError([f"{where} must be a FHIR resource or Bundle (no resourceType)"])
    if value.get("resourceType") != "Bundle":
        yield where, value
        return
    entries = value.get("entry") or []
    if not isinstance(entries, list):
        raise FhirInputError([f"{where}.entry must be a list"])
    for i, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict):
            yield f"{where}.entry[{i}].resource", resource


def read_resources(model: type[R], value: object, where: str) -> list[R]:
    """Every resource of ``model``'s type in a prefetch value (others, e.g. OperationOutcome,
    are skipped); FhirInputError lists every resource that cannot be read."""
    out: list[R] = []
    problems: list[str] = []
    for place, resource in resources_in(value, where):
        if resource.get("resourceType") != model.get_resource_type():
            continue
        try:
            out.append(tolerant(model, resource, place))
        except FhirInputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise FhirInputError(problems)
    return out


def foreign_subjects(resources: Sequence[Resource], patient_id: str, where: str) -> list[str]:
    """Resources about another patient than ``patient_id`` (by subject or patient reference)."""
    out = []
    for resource in resources:
        ref = getattr(resource, "subject", None) or getattr(resource, "patient", None)
        target = getattr(ref, "reference", None)
        if target and not (
            target == f"Patient/{patient_id}" or target.endswith(f"/Patient/{patient_id}")
        ):
            out.append(
                f"{where}: {resource.get_resource_type()}/{resource.id} is about {target}, "
                f"not the context's Patient/{patient_id}"
            )
    return out
