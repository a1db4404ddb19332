"""Alternatives to gabapentin, with their guideline place and the cautions for this patient.

The list is the knowledge base's (``alternatives.toml``), filtered to the patient's indication when
one is known; each caution is kept when its predicates hold for the patient (:mod:`.screening`).
"""

from __future__ import annotations

from gabaguide.domain import Alternative, Caution, ComparisonRow
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import AlternativeRecord

from .screening import PatientFacts, holds


def alternatives_for(
    k: Knowledge, indication: str | None, facts: PatientFacts
) -> tuple[Alternative, ...]:
    """The alternatives for an indication (all of them when none is given)."""
    records = [
        a for a in k.alternatives.alternatives if indication is None or indication in a.indications
    ]
    return tuple(_alternative(k, a, facts) for a in records)


def _alternative(k: Knowledge, a: AlternativeRecord, facts: PatientFacts) -> Alternative:
    cautions = tuple(
        Caution(severity=c.severity, summary=c.summary, citations=c.cite)
        for c in a.cautions
        if any(holds(k, p, facts) for p in c.when)
    )
    comparison = tuple(
        ComparisonRow(
            feature=row.feature,
            gabapentin=row.gabapentin,
            alternative=row.other,
            article_says=row.article_says,
            citations=row.cite,
        )
        for row in k.alternatives.comparison
        if row.alternative == a.id
    )
    return Alternative(
        id=a.id,
        name=a.name,
        drug_class=a.drug_class,
        line_of_therapy=a.line_of_therapy,
        usual_dose=a.usual_dose,
        notes=a.notes,
        cautions=cautions,
        comparison=comparison,
        citations=a.cite,
    )
