"""What a CDS Hooks request's FHIR resources say about the patient and the orders.

:func:`read_chart` turns the prefetched Patient, creatinine and weight Observations, active
MedicationRequests, Conditions and AllergyIntolerances into the facts gabaguide's :class:`Patient`
holds; :func:`read_order` reads one MedicationRequest (product by RxNorm code or by name, dose and
frequency from its dosage). Nothing is guessed: a result in a unit not listed in ``cds.toml`` is not
used, and the chart's ``notes`` say so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medication import Medication as FhirMedication
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from pydantic import ValidationError

from gabaguide.clinical.recognise import product_named
from gabaguide.domain import WEIGHT_KG_RANGE, Medication, SerumCreatinine, Sex
from gabaguide.interop.fhirdosage import DosageRead, Strength, read_dosage, unreadable
from gabaguide.knowledge import Knowledge, normalise
from gabaguide.knowledge.cdsfile import ObservationCodes
from gabaguide.knowledge.schema import Product

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
_USABLE_RESULT = {"final", "amended", "corrected"}
_INACTIVE_CLINICAL = {"inactive", "resolved", "remission"}
_NOT_TRUE = {"refuted", "entered-in-error"}
_STOPPING = {"stopped", "cancelled"}


@dataclass(frozen=True)
class Chart:
    """The patient as the EHR's FHIR resources describe them."""

    age_years: float | None = None
    sex: Sex | None = None
    weight_kg: float | None = None
    creatinine: SerumCreatinine | None = None
    pregnant: bool | None = None
    medications: tuple[MedicationRequest, ...] = ()
    conditions: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    """What was read and from where (e.g. the creatinine result's value and date)."""
    notes: tuple[str, ...] = ()
    """What was present but could not be used, and why."""


@dataclass(frozen=True)
class Order:
    """One MedicationRequest as gabaguide reads it."""

    resource: MedicationRequest
    key: str
    """The order's reference (``MedicationRequest/<id>``), or a hash of it when it has no id."""
    name: str
    rxcui: str | None
    product: Product | None
    """The gabapentinoid product ordered, when it is one."""
    dosage: DosageRead
    stops: bool
    """The order stops the medicine (status stopped/cancelled, or doNotPerform)."""

    def as_medication(self) -> Medication:
        """The order as one of the patient's other medicines (dose kept when readable and plausible)."""
        name = self.name[:200] or "unnamed medication"
        try:
            return Medication(
                name=name,
                rxcui=self.rxcui,
                dose_mg=self.dosage.dose_mg,
                times_per_day=self.dosage.times_per_day,
            )
        except ValidationError:
            return Medication(name=name, rxcui=self.rxcui)


def read_chart(
    k: Knowledge,
    today: date,
    patient: FhirPatient | None,
    creatinine: Sequence[Observation],
    weight: Sequence[Observation],
    medications: Sequence[MedicationRequest],
    conditions: Sequence[Condition],
    allergies: Sequence[AllergyIntolerance],
) -> Chart:
    facts: list[str] = []
    notes: list[str] = []
    age, sex = _demographics(patient, today, notes)
    codes = k.cds.observations
    scr = _latest(creatinine, codes.creatinine, "serum creatinine", notes)
    serum: SerumCreatinine | None = None
    if scr is not None:
        value, unit, when, code = scr
        try:
            serum = SerumCreatinine.model_validate({"value": value, "unit": unit})
            facts.append(f"Serum creatinine {value:g} {unit} on {when} (LOINC {code}).")
        except ValidationError:
            notes.append(f"Serum creatinine {value:g} {unit} on {when} is implausible: not used.")
    wt = _latest(weight, codes.weight, "body weight", notes)
    weight_kg: float | None = None
    if wt is not None:
        value, _, when, code = wt
        if WEIGHT_KG_RANGE[0] <= value <= WEIGHT_KG_RANGE[1]:
            weight_kg = round(value, 1)
            facts.append(f"Weight {weight_kg:g} kg on {when} (LOINC {code}).")
        else:
            notes.append(f"Body weight {value:g} kg on {when} is implausible: not used.")
    condition_texts, pregnant = _conditions(k, conditions)
    return Chart(
        age_years=age,
        sex=sex,
        weight_kg=weight_kg,
        creatinine=serum,
        pregnant=pregnant,
        medications=tuple(m for m in medications if m.status == "active"),
        conditions=condition_texts,
        allergies=_allergies(allergies),
        facts=tuple(facts),
        notes=tuple(notes),
    )


def _demographics(
    patient: FhirPatient | None, today: date, notes: list[str]
) -> tuple[float | None, Sex | None]:
    if patient is None:
        return None, None
    age: float | None = None
    birth = patient.birthDate
    if isinstance(birth, date):
        years = today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
        if 0 <= years <= 120:
            age = float(years)
        else:
            notes.append(f"Birth date {birth.isoformat()} gives an implausible age: not used.")
    elif birth is not None:
        notes.append("Birth date is not a full date: age not known.")
    sex: Sex | None = (
        "female" if patient.gender == "female" else "male" if patient.gender == "male" else None
    )
    if sex is None:
        notes.append(
            "Administrative gender is not female or male: the Cockcroft-Gault estimate needs one."
        )
    return age, sex


def _latest(
    observations: Iterable[Observation], codes: ObservationCodes, what: str, notes: list[str]
) -> tuple[float, str, str, str] | None:
    """(value in the rule's unit, unit, date, LOINC code) of the most recent usable result."""
    found: list[tuple[datetime, str, float, str, str]] = []
    for obs in observations:
        code = _loinc(obs.code, codes.loinc)
        if code is None or obs.status not in _USABLE_RESULT:
            continue
        when = _effective(obs)
        q = obs.valueQuantity
        if q is None or q.value is None:
            continue
        unit = (q.code or q.unit or "").strip()
        rule = next((u for u in codes.units if unit in u.ucum), None)
        if rule is None:
            notes.append(
                f"A {what} result of {when or 'unknown date'} is in unit {unit!r}: not used."
            )
            continue
        if when is None:
            notes.append(f"A {what} result has no date: not used.")
            continue
        found.append((_moment(when), when, float(Decimal(q.value)) * rule.factor, rule.to, code))
    if not found:
        return None
    _, day, value, unit, code = max(found, key=lambda f: f[0])
    return value, unit, day[:10], code


def _moment(when: str) -> datetime:
    """An ISO date or date-time as a moment in UTC (a date, or a time without zone, read as UTC),
    so that results from different time zones compare correctly."""
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        moment = datetime.fromisoformat(when[:10])
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _loinc(concept: CodeableConcept | None, codes: Sequence[str]) -> str | None:
    for coding in (concept.coding or ()) if concept is not None else ():
        if coding.system == LOINC and coding.code in codes:
            return str(coding.code)
    return None


def _effective(obs: Observation) -> str | None:
    value: Any = obs.effectiveDateTime or obs.effectiveInstant
    if value is None and obs.effectivePeriod is not None:
        value = obs.effectivePeriod.start or obs.effectivePeriod.end
    if value is None:
        value = obs.issued
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if value is not None else None


def _active(clinical: CodeableConcept | None, verification: CodeableConcept | None) -> bool:
    def codes(c: CodeableConcept | None) -> set[str]:
        return {str(x.code) for x in (c.coding or ())} if c is not None else set()

    return not (codes(clinical) & _INACTIVE_CLINICAL or codes(verification) & _NOT_TRUE)


def _conditions(
    k: Knowledge, conditions: Iterable[Condition]
) -> tuple[tuple[str, ...], bool | None]:
    texts: list[str] = []
    pregnant: bool | None = None
    rule = k.cds.pregnancy
    codes = {(c.system, c.code) for c in rule.codes}
    words = {normalise(w) for w in rule.words}
    for cond in conditions:
        if not _active(cond.clinicalStatus, cond.verificationStatus):
            continue
        text = _text(cond.code)
        if text:
            texts.append(text[:200])
        coded = (
            any((c.system, c.code) in codes for c in (cond.code.coding or ()))
            if cond.code
            else False
        )
        if coded or words & set(normalise(text).split()):
            pregnant = True
    return tuple(dict.fromkeys(texts)), pregnant


def _allergies(allergies: Iterable[AllergyIntolerance]) -> tuple[str, ...]:
    out = [
        _text(a.code)[:200]
        for a in allergies
        if _active(a.clinicalStatus, a.verificationStatus) and _text(a.code)
    ]
    return tuple(dict.fromkeys(out))


def _text(concept: CodeableConcept | None) -> str:
    if concept is None:
        return ""
    if concept.text:
        return str(concept.text).strip()
    for coding in concept.coding or ():
        if coding.display:
            return str(coding.display).strip()
    return ""


def read_order(k: Knowledge, resource: MedicationRequest) -> Order:
    """One MedicationRequest: what it orders (by RxNorm code, else by name) and its regimen."""
    concept = _medication_concept(resource)
    codings = (concept.coding or ()) if concept is not None else ()
    rxcui = next((str(c.code) for c in codings if c.system == RXNORM and c.code), None)
    name = _text(concept) or (
        str(resource.medicationReference.display)
        if resource.medicationReference and resource.medicationReference.display
        else ""
    )
    product, strength = _product(k, rxcui, name)
    if strength is None and rxcui is not None:
        strength = _opioid_strength(k, rxcui)
    key = (
        f"MedicationRequest/{resource.id}"
        if resource.id
        else "sha256:" + hashlib.sha256(resource.model_dump_json().encode()).hexdigest()[:32]
    )
    dosage = read_dosage(resource.dosageInstruction, strength)
    modifiers = bool(resource.modifierExtension) or any(
        d.modifierExtension for d in resource.dosageInstruction or ()
    )
    if modifiers:  # FHIR: a modifier extension that is not understood must not be ignored
        dosage = unreadable("the order carries a modifierExtension gabaguide does not understand")
    return Order(
        resource=resource,
        key=key,
        name=name,
        rxcui=rxcui if rxcui and rxcui.isdigit() and len(rxcui) <= 10 else None,
        product=product,
        dosage=dosage,
        stops=bool(resource.doNotPerform) or resource.status in _STOPPING,
    )


def _medication_concept(resource: MedicationRequest) -> CodeableConcept | None:
    if resource.medicationCodeableConcept is not None:
        return resource.medicationCodeableConcept
    ref = resource.medicationReference
    if ref is not None and ref.reference and ref.reference.startswith("#"):
        for contained in resource.contained or ():
            if isinstance(contained, FhirMedication) and contained.id == ref.reference[1:]:
                return contained.code
    return None


def _product(k: Knowledge, rxcui: str | None, name: str) -> tuple[Product | None, Strength | None]:
    """The gabapentinoid product: by its RxNorm code (with the strength), else by name."""
    if rxcui is not None and rxcui in k.product_form_by_rxcui:
        product, form = k.product_form_by_rxcui[rxcui]
        return product, Strength(form.strength_mg, form.measure)
    return product_named(k, None, name), None


def _opioid_strength(k: Knowledge, rxcui: str) -> Strength | None:
    found = k.opioid_strength_by_rxcui.get(rxcui)
    if found is None:
        return None
    if found.strength_unit == "MG":
        return Strength(found.strength_value, "tablet")
    if found.strength_unit == "MG/ML":
        return Strength(found.strength_value, "mL")
    return None
