"""Interaction checker: the patient's other medicines (and alcohol) against gabapentin.

Each rule of the knowledge base fires once, listing every medicine that triggered it, with its
effect, mechanism, what to do and citations; a citation to a non-US label is said to be one. The
opioid rule's severity comes from the daily morphine milligram equivalents (MME) when every opioid's
dose and frequency are known, and from the rule's "unknown" severity otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from gabaguide.domain import Citation, Finding, Medication, Patient, Severity
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import InteractionRule, MmeFactor, Product

from .findings import by_severity, finding, merge_duplicates
from .recognise import Recognised, recognise

ALCOHOL_CLASS = "alcohol"
GABAPENTINOID_CLASS = "gabapentinoid"
OPIOID_CLASS = "opioid"


@dataclass(frozen=True)
class Mme:
    """Daily MME of the opioids taken: ``total`` is None unless every opioid could be counted."""

    total: float | None
    counted: float
    parts: tuple[str, ...]
    unknown: tuple[str, ...]


@dataclass(frozen=True)
class MedicationReview:
    recognised: tuple[tuple[Medication, Recognised], ...]
    unrecognised: tuple[Medication, ...]

    @property
    def classes(self) -> frozenset[str]:
        return frozenset().union(*(r.classes for _, r in self.recognised))


def review(k: Knowledge, patient: Patient) -> MedicationReview:
    """Recognise every medication; alcohol use counts as taking alcohol."""
    meds = list(patient.medications)
    if patient.alcohol_use:
        meds.append(Medication(name="alcohol"))
    known: list[tuple[Medication, Recognised]] = []
    unknown: list[Medication] = []
    for med in meds:
        hit = recognise(k, med)
        if hit is None:
            unknown.append(med)
        else:
            known.append((med, hit))
    return MedicationReview(tuple(known), tuple(unknown))


def daily_mme(k: Knowledge, meds: Iterable[tuple[Medication, Recognised]]) -> Mme | None:
    """Daily MME from each opioid's dose (mg of the opioid per administration) and frequency."""
    parts: list[str] = []
    unknown: list[str] = []
    counted = 0.0
    opioids = [(m, r) for m, r in meds if OPIOID_CLASS in r.classes]
    if not opioids:
        return None
    for med, rec in opioids:
        f, why = mme_factor(k, rec)
        if f is None:
            unknown.append(f"{med.name} ({why})")
            continue
        if med.dose_mg is None or med.times_per_day is None:
            unknown.append(f"{med.name} (dose_mg and times_per_day needed)")
            continue
        mme = med.dose_mg * med.times_per_day * f.factor
        counted += mme
        parts.append(
            f"{med.name}: {med.dose_mg:g} mg x {med.times_per_day}/day x {f.factor:g} "
            f"({f.ingredient}) = {mme:g} MME/day"
        )
    return Mme(
        None if unknown else round(counted, 1), round(counted, 1), tuple(parts), tuple(unknown)
    )


def mme_factor(k: Knowledge, rec: Recognised) -> tuple[MmeFactor | None, str]:
    """The CDC factor converting the opioid's mg to MME, or None and why there is none."""
    factors = [
        k.mme_factor_by_ingredient[i]
        for i in sorted(rec.ingredients)
        if i in k.mme_factor_by_ingredient
    ]
    if len(factors) == 1 and factors[0].unit_note == "per mg":
        return factors[0], ""
    if not factors:
        return None, "no CDC conversion factor"
    return None, "dose is not in mg" if len(factors) == 1 else "more than one opioid"


def interaction_findings(
    k: Knowledge,
    meds: MedicationReview,
    mme: Mme | None,
    assessed: tuple[Medication, ...] = (),
) -> list[Finding]:
    """One finding per rule that any medication triggers, plus one for unrecognised medicines.
    ``assessed``: the medications that are the product being assessed (see :func:`assessed`)."""
    out: list[Finding] = []
    for rule in k.interactions.rules:
        hits = [
            (m, r)
            for m, r in meds.recognised
            if r.classes & set(rule.classes)
            and not (rule.not_the_assessed_product and m in assessed)
        ]
        if hits:
            out.append(_rule_finding(k, rule, hits, mme))
    if meds.unrecognised:
        names = ", ".join(repr(m.name) for m in meds.unrecognised)
        out.append(
            finding(
                k,
                "interaction.unrecognised",
                f"Not recognised, interactions not checked: {names}.",
                "gabaguide knows medicines by RxNorm code, ingredient, brand and common "
                "combination names from its vocabulary. An unrecognised medicine may still "
                "interact: check it against the label.",
                [k.citation("CDC-VALUESETS", "vocabulary")],
            )
        )
    return out


def _rule_finding(
    k: Knowledge,
    rule: InteractionRule,
    hits: Sequence[tuple[Medication, Recognised]],
    mme: Mme | None,
) -> Finding:
    names = ", ".join(dict.fromkeys(m.name for m, _ in hits))
    severity: Severity | None = None
    first, _, rest = rule.effect.partition(". ")
    detail = [rest, f"Mechanism: {rule.mechanism}", f"What to do: {rule.action}"]
    if rule.mme_tiers and mme is not None:
        severity, text = _mme_severity(rule, mme)
        detail.append(text)
    non_us = _non_us(k, rule.cite)
    if non_us:
        detail.append(f"Numbers from a non-US label ({', '.join(non_us)}).")
    detail.append("Recognised: " + "; ".join(f"{m.name} by {r.matched_by}" for m, r in hits) + ".")
    first = first.rstrip(".")
    return finding(
        k,
        rule.finding,
        f"{names} with gabapentin: {first[:1].lower()}{first[1:]}.",
        " ".join(d for d in detail if d),
        rule.cite,
        severity=severity,
    )


def _mme_severity(rule: InteractionRule, mme: Mme) -> tuple[Severity, str]:
    assert rule.mme_unknown_severity is not None
    if mme.total is None:
        text = (
            f"Daily MME cannot be fully computed ({'; '.join(mme.unknown)})"
            + (f"; counted so far {mme.counted:g} MME/day" if mme.parts else "")
            + ": rated as for a high dose."
        )
        return rule.mme_unknown_severity, text
    tier = [t for t in rule.mme_tiers if mme.total >= t.at_least][-1]
    return tier.severity, f"Daily MME {mme.total:g} ({'; '.join(mme.parts)}): {tier.label}."


def _non_us(k: Knowledge, cites: Iterable[Citation]) -> list[str]:
    return [c.source for c in cites if k.source_by_id[c.source].kind == "label-non-us"]


def assessed(
    k: Knowledge, meds: MedicationReview, planned: Product, current: Product | None, goal: str
) -> tuple[Medication, ...]:
    """The listed medications that are the product being reviewed, stopped or switched from (on
    goal ``start`` the patient is not yet meant to take anything: a listed gabapentinoid counts)."""
    if goal == "start":
        return ()
    own = {p.id for p in (planned, current) if p is not None}
    out = []
    for med, rec in meds.recognised:
        product = _product_named(k, med)
        if (product is not None and product.id in own) or (
            product is None and current is not None and current.ingredient in rec.ingredients
        ):
            out.append(med)
    return tuple(out)


def interchange_findings(
    k: Knowledge, meds: MedicationReview, planned: Product, assessed: tuple[Medication, ...]
) -> list[Finding]:
    """A listed product of the planned ingredient but another release form is not interchangeable."""
    out: list[Finding] = []
    for med, rec in meds.recognised:
        product = _product_named(k, med)
        if (
            GABAPENTINOID_CLASS in rec.classes
            and med not in assessed
            and product is not None
            and product.ingredient == planned.ingredient
            and product.interchange_group != planned.interchange_group
        ):
            out.append(
                finding(
                    k,
                    "formulation.not-interchangeable",
                    f"{product.name} and {planned.name} are not interchangeable.",
                    " ".join(dict.fromkeys((*product.instructions, *planned.instructions))),
                    (*product.cite, *planned.cite),
                )
            )
    return out


def _product_named(k: Knowledge, med: Medication) -> Product | None:
    if med.rxcui is not None and med.rxcui in k.product_form_by_rxcui:
        return k.product_form_by_rxcui[med.rxcui][0]
    return k.product_by_name.get(med.name.strip().lower())


def check_medications(
    k: Knowledge, patient: Patient, product: Product
) -> tuple[tuple[Finding, ...], Mme | None]:
    """The quick check: interactions of the patient's medicines with ``product`` (not yet taken)."""
    meds = review(k, patient)
    mme = daily_mme(k, meds.recognised)
    found = [*interaction_findings(k, meds, mme), *interchange_findings(k, meds, product, ())]
    return by_severity(merge_duplicates(found)), mme
