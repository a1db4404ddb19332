"""Advice for a CDS Hooks order-select or order-sign call: the same :func:`assess` that serves the
CLI and the web app runs for each gabapentinoid order, and its findings become cards.

One problem is one card: the findings about the ordered dose (renal band, maximum, frequency) make
one card with one corrected order; every other finding at or above the policy's minimum severity
is a card of its own; findings below it wait behind the card's link to the full plan. An order for
another medicine (an opioid, a benzodiazepine) is checked against the gabapentinoid the patient
already takes, and only the combination's findings are cards.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from pydantic import ValidationError

from gabaguide.clinical.assess import assess
from gabaguide.clinical.current import corrected_regimen
from gabaguide.clinical.findings import finding
from gabaguide.clinical.recognise import recognise
from gabaguide.domain import SEVERITY_ORDER, Assessment, CurrentRegimen, Finding, Patient
from gabaguide.interop.cdshooks import (
    OVERRIDE_SYSTEM,
    SUMMARY_MAX,
    Action,
    Card,
    Coding,
    OrderContext,
    Source,
    Suggestion,
)
from gabaguide.interop.fhirchart import Chart, Order, read_order
from gabaguide.interop.fhirread import read_resources
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.cdsfile import CardGroup

UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class CardDraft:
    """A card before the web layer adds its link and decides whether it was shown already."""

    order_key: str
    problem: str
    """The card group's id or the finding's code."""
    fingerprint: str
    """Changes when what the card says changes (a new dose is a new problem)."""
    card: Card
    patient: Patient
    """The patient as assessed (the link's full plan is made from it)."""


def advise(
    k: Knowledge, hook: str, context: OrderContext, chart: Chart, min_severity: str = ""
) -> list[CardDraft]:
    """Cards for the orders of an order-select (the selected ones) or order-sign call (all).
    ``min_severity`` overrides the knowledge base's card policy."""
    floor = SEVERITY_ORDER[min_severity or k.cds.cards.min_severity]  # type: ignore[index]
    drafts = [
        read_order(k, r)
        for r in read_resources(MedicationRequest, context.draftOrders, "context.draftOrders")
    ]
    if hook == "order-select" and context.selections:
        chosen = [o for o in drafts if o.key in set(context.selections)]
    else:
        chosen = drafts
    active = [read_order(k, r) for r in chart.medications]
    out: list[CardDraft] = []
    ordered = [o for o in chosen if o.product is not None]
    for order in ordered:
        out += _order_cards(k, chart, order, active, drafts, floor)
    if not ordered:
        for order in chosen:
            out += _comedication_cards(k, chart, order, active, drafts, floor)
    return out


def _patient(chart: Chart, others: Sequence[Order], **update: Any) -> Patient:
    return Patient(
        age_years=chart.age_years,
        sex=chart.sex,
        weight_kg=chart.weight_kg,
        serum_creatinine=chart.creatinine,
        pregnant=chart.pregnant,
        allergies=chart.allergies,
        conditions=chart.conditions,
        medications=tuple(o.as_medication() for o in others),
        **update,
    )


def _regimen(order: Order) -> CurrentRegimen | None:
    d = order.dosage
    if order.product is None or d.dose_mg is None or d.times_per_day is None:
        return None
    try:
        return CurrentRegimen(
            product=order.product.id, dose_mg=d.dose_mg, times_per_day=d.times_per_day
        )
    except ValidationError:
        return None


def _order_cards(
    k: Knowledge,
    chart: Chart,
    order: Order,
    active: Sequence[Order],
    drafts: Sequence[Order],
    floor: int,
) -> list[CardDraft]:
    """A draft order that has an active order's id replaces (or stops) that order."""
    assert order.product is not None
    regimen = _regimen(order)
    others = [o for o in (*active, *drafts) if o is not order and o.key != order.key]
    extra: list[Finding] = []
    if order.stops:
        if regimen is None:  # a stop order rarely repeats the dose: take the active prescription's
            same = [o for o in active if o.product == order.product and _regimen(o) is not None]
            regimen = _regimen(same[0]) if same else None
        others = [o for o in others if o.product != order.product]
        patient = _patient(chart, others, goal="stop", current_regimen=regimen)
    else:
        patient = _patient(
            chart, others, goal="review", product=order.product.id, current_regimen=regimen
        )
        if regimen is None:
            extra.append(_unreadable(k, order))
    assessment = assess(patient, k)
    findings = [*extra, *assessment.findings]
    if order.stops:  # the taper is the point; the dose being stopped needs no card of its own
        dose = {code for g in k.cds.cards.groups if g.corrects_dose for code in g.findings}
        findings = [f for f in findings if f.code not in dose]
    return _cards(k, chart, order, patient, assessment, findings, floor)


def _comedication_cards(
    k: Knowledge,
    chart: Chart,
    order: Order,
    active: Sequence[Order],
    drafts: Sequence[Order],
    floor: int,
) -> list[CardDraft]:
    """An order for another medicine while the patient takes a gabapentinoid."""
    if recognise(k, order.as_medication()) is None:
        return []
    taking = [a for a in active if a.product is not None and not a.stops]
    if not taking:
        return []
    current = taking[0]
    assert current.product is not None
    others = [o for o in (*active, *drafts) if o is not current]
    patient = _patient(
        chart, others, goal="review", product=current.product.id, current_regimen=_regimen(current)
    )
    assessment = assess(patient, k)
    prefixes = k.cds.cards.comedication.finding_prefixes
    findings = [f for f in assessment.findings if f.code.startswith(prefixes)]
    return _cards(k, chart, order, patient, assessment, findings, floor)


def _unreadable(k: Knowledge, order: Order) -> Finding:
    return finding(
        k,
        "order.dose-not-readable",
        f"Dose of this {order.name or 'order'} could not be read: not checked.",
        "The order's dosage could not be read: " + "; ".join(order.dosage.problems) + ". Check "
        "the dose against the label and the renal band in the full plan.",
        [k.citation("GG-DECISIONS", "D17 CDS Hooks: reading FHIR dosage")],
    )


def _cards(
    k: Knowledge,
    chart: Chart,
    order: Order,
    patient: Patient,
    assessment: Assessment,
    findings: Sequence[Finding],
    floor: int,
) -> list[CardDraft]:
    policy = k.cds.cards
    shown = [f for f in findings if SEVERITY_ORDER[f.severity] >= floor]
    group_of = {code: g for g in policy.groups for code in g.findings}
    problems: dict[str, list[Finding]] = {}
    for f in shown:
        group = group_of.get(f.code)
        problems.setdefault(group.id if group else f.code, []).append(f)
    groups = {g.id: g for g in policy.groups}
    out = []
    for problem, members in problems.items():
        group = groups.get(problem)
        suggestion = None
        if group is not None and any(f.code in group.corrects_dose for f in members):
            suggestion = _corrected_order(k, patient, order, assessment)
        card = _card(k, chart, order, group, members, suggestion)
        fingerprint = hashlib.sha256(
            (card.summary + (card.detail or "") + (suggestion.label if suggestion else "")).encode()
        ).hexdigest()
        out.append(CardDraft(order.key, problem, fingerprint, card, patient))
    return out


def _card(
    k: Knowledge,
    chart: Chart,
    order: Order,
    group: CardGroup | None,
    members: Sequence[Finding],
    suggestion: Suggestion | None,
) -> Card:
    policy = k.cds.cards
    worst = max(members, key=lambda f: SEVERITY_ORDER[f.severity])
    lines: list[str] = []
    if group is not None:
        lines.append(f"**{group.title}** — order: {order.name}, {order.dosage.describe()}.")
    for f in members:
        lines.append(f"- **{f.summary}** {f.detail}")
    if chart.facts:
        lines.append("\nData used: " + " ".join(chart.facts))
    if chart.notes:
        lines.append("\nNot used: " + " ".join(chart.notes))
    if order.dosage.notes:
        lines.append("\nHow the order was read: " + "; ".join(order.dosage.notes) + ".")
    citations = list(dict.fromkeys(c for f in members for c in f.citations))
    lines.append("\nSources:")
    for c in citations:
        src = k.source_by_id[c.source]
        title = f"[{src.title}]({src.url})" if src.url else src.title
        lines.append(f"- {title}: {c.locator}")
    lines.append("\ngabaguide advises; the prescriber decides. The full plan is behind the link.")
    label_cite = next(
        (c for c in citations if k.source_by_id[c.source].kind == "label"), citations[0]
    )
    label_source = k.source_by_id[label_cite.source]
    return Card(
        uuid=str(uuid.uuid4()),
        summary=_summary(worst.summary),
        detail="\n".join(lines),
        indicator=getattr(policy.indicator, worst.severity),
        source=Source(
            label=f"gabaguide · {label_source.title} ({label_cite.locator})"[:200],
            url=label_source.url,
        ),
        suggestions=(suggestion,) if suggestion else (),
        selectionBehavior="at-most-one" if suggestion else None,
        overrideReasons=tuple(
            Coding(code=r.code, system=OVERRIDE_SYSTEM, display=r.display)
            for r in policy.override_reasons
        ),
    )


def _summary(text: str) -> str:
    return text if len(text) < SUMMARY_MAX else text[: SUMMARY_MAX - 2].rstrip() + "…"


def _corrected_order(
    k: Knowledge, patient: Patient, order: Order, assessment: Assessment
) -> Suggestion | None:
    """The order at the dose gabaguide would plan (:func:`corrected_regimen`: an order above the
    renal row read through the renal grid's columns, the row's doses a day, real strengths)."""
    assert order.product is not None
    if order.dosage.daily_mg is None or order.stops:
        return None
    regimen = corrected_regimen(
        k,
        patient,
        order.product,
        order.dosage.daily_mg,
        order.dosage.times_per_day or 1,
        assessment.findings,
    )
    if regimen is None:
        return None
    mg, times = regimen
    if mg * times == order.dosage.daily_mg and times == order.dosage.times_per_day:
        return None
    how = "once a day" if times == 1 else f"{times} times a day"
    text = f"{mg:g} mg {how} ({mg * times:g} mg/day)"
    resource = order.resource.model_dump(mode="json", exclude_none=True)
    first = resource.get("dosageInstruction", [{}])[0]
    dosage: dict[str, Any] = {
        "text": text,
        "timing": {"repeat": {"frequency": times, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [
            {"doseQuantity": {"value": mg, "unit": "mg", "system": UCUM, "code": "mg"}}
        ],
    }
    if "route" in first:
        dosage["route"] = first["route"]
    resource["dosageInstruction"] = [dosage]
    try:
        MedicationRequest.model_validate(resource)
    except ValidationError:  # pragma: no cover - a bug: never offer an invalid order
        return None
    return Suggestion(
        label=f"Change to {text}"[:200],
        uuid=str(uuid.uuid4()),
        isRecommended=True,
        actions=(
            Action(
                type="update",
                description=f"Update the order to {text}.",
                resource=resource,
            ),
        ),
    )
