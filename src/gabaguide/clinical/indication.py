"""Indication screen: approved, off-label (with the evidence the sources give) or not recommended,
and what the treatments the patient already tried mean for it."""

from __future__ import annotations

from gabaguide.domain import Finding, Patient
from gabaguide.knowledge import Knowledge, normalise
from gabaguide.knowledge.schema import Indication, Product

from .findings import finding
from .screening import mentions


def match_indication(k: Knowledge, text: str) -> Indication | None:
    """The indication whose id, name or synonym equals the text (case and punctuation ignored)."""
    return k.indication_by_name.get(normalise(text))


def indication_id(k: Knowledge, patient: Patient) -> str | None:
    """The id of the patient's indication, when it is a known one."""
    found = match_indication(k, patient.indication) if patient.indication else None
    return found.id if found is not None else None


def indication_finding(
    k: Knowledge, ind: Indication, product: Product, patient: Patient
) -> Finding:
    """``indication.approved`` / ``off-label`` / ``not-recommended`` with the failed-treatment notes."""
    if product.id in ind.approved_products:
        code, summary = "indication.approved", f"{ind.name}: FDA-approved use of {product.name}."
    elif ind.gabapentin_status == "not-recommended":
        code, summary = (
            "indication.not-recommended",
            f"{ind.name}: gabapentinoids are not recommended.",
        )
    elif ind.gabapentin_status == "approved" and product.ingredient == "gabapentin":
        code, summary = "indication.off-label", f"{ind.name}: not a labelled use of {product.name}."
    else:
        code, summary = "indication.off-label", f"{ind.name}: off-label for {product.name}."
    tried = tuple(normalise(t) for t in patient.failed_treatments)
    notes = [
        n
        for n in k.failed_treatments
        if (not n.indications or ind.id in n.indications) and mentions(k, n.group, tried)
    ]
    detail = " ".join([ind.evidence, *(n.text for n in notes)])
    return finding(k, code, summary, detail, [*ind.cite, *(c for n in notes for c in n.cite)])
