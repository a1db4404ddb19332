"""Safety screens: who the patient is, against the label's warnings and populations.

A screen (knowledge ``screens.toml``) fires when any of its predicates holds for the patient; its
finding gives the reasons that held, what to do, and the text of the statements it cites. The same
predicates pick the alternatives' cautions. Missing data never makes a predicate hold: an unknown
age is not "elderly", an unknown CrCl is only ``crcl_unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gabaguide.domain import Finding, Patient
from gabaguide.knowledge import Knowledge, normalise
from gabaguide.knowledge.schema import Predicate, Screen

from .findings import finding


@dataclass(frozen=True)
class PatientFacts:
    """What the predicates look at, gathered once per assessment."""

    age_years: float | None
    crcl_ml_min: float | None
    conditions: tuple[str, ...]
    allergies: tuple[str, ...]
    flags: frozenset[str]
    drug_classes: frozenset[str]


def patient_facts(
    patient: Patient, crcl_ml_min: float | None, drug_classes: frozenset[str]
) -> PatientFacts:
    flags = {
        name
        for name, value in (
            ("pregnant", patient.pregnant),
            ("breastfeeding", patient.breastfeeding),
            ("alcohol_use", patient.alcohol_use),
        )
        if value
    }
    return PatientFacts(
        age_years=patient.age_years,
        crcl_ml_min=crcl_ml_min,
        conditions=tuple(normalise(c) for c in patient.conditions),
        allergies=tuple(normalise(a) for a in patient.allergies),
        flags=frozenset(flags),
        drug_classes=drug_classes,
    )


def mentions(k: Knowledge, group: str, texts: Iterable[str]) -> bool:
    """Whether any text contains one of the group's terms as whole words."""
    terms = k.group_terms[group]
    return any(f" {t} " in f" {text} " for text in texts for t in terms)


def holds(k: Knowledge, p: Predicate, facts: PatientFacts) -> bool:
    """Whether one predicate holds for the patient (missing data never makes it hold)."""
    if p.always is not None:
        return p.always
    if p.allergy_group is not None:
        return mentions(k, p.allergy_group, facts.allergies)
    if p.condition_group is not None:
        return mentions(k, p.condition_group, facts.conditions)
    if p.flag is not None:
        return p.flag in facts.flags
    if p.crcl_below is not None:
        return facts.crcl_ml_min is not None and facts.crcl_ml_min < p.crcl_below
    if p.crcl_unknown is not None:
        return (facts.crcl_ml_min is None) == p.crcl_unknown
    if p.drug_classes:
        return bool(facts.drug_classes & set(p.drug_classes))
    age = facts.age_years
    if age is None:
        return False
    return (p.age_at_least is None or age >= p.age_at_least) and (
        p.age_below is None or age < p.age_below
    )


def reasons(k: Knowledge, when: Iterable[Predicate], facts: PatientFacts) -> list[str]:
    """How each predicate that holds reads ("" for one without a reason)."""
    return [p.reason or "" for p in when if holds(k, p, facts)]


def screen_findings(k: Knowledge, facts: PatientFacts) -> list[Finding]:
    """A finding for every screen that fires."""
    out: list[Finding] = []
    for screen in k.screens.screens:
        why = reasons(k, screen.when, facts)
        if why:
            out.append(_screen_finding(k, screen, [w for w in why if w]))
    return out


def _screen_finding(k: Knowledge, screen: Screen, why: list[str]) -> Finding:
    facts_text = " ".join(k.statement_by_id[s].text for s in screen.statements)
    because = f"Because: {'; '.join(why)}. " if why else ""
    cites = [*screen.cite, *(c for s in screen.statements for c in k.statement_by_id[s].cite)]
    return finding(
        k,
        screen.finding,
        screen.summary,
        f"{because}What to do: {screen.action} {facts_text}".strip(),
        cites,
    )
