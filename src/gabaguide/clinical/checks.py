"""The two quick answers every shell offers besides the full assessment: the interaction check and
the dose schedule. The CLI, the JSON API and the web pages all call these."""

from __future__ import annotations

from gabaguide.clinical.assess import resolve_products
from gabaguide.clinical.interactions import check_medications
from gabaguide.domain import Assessment, InteractionCheck, InteractionsRequest, ScheduleReport
from gabaguide.knowledge import Knowledge


def interaction_check(k: Knowledge, request: InteractionsRequest) -> InteractionCheck:
    """Interactions of the named medicines (and alcohol) with the product; InputError names an
    unknown product."""
    patient = request.as_patient()
    product, _ = resolve_products(k, patient)
    found, mme = check_medications(k, patient, product)
    return InteractionCheck(
        product=product.id,
        mme_daily=None if mme is None else mme.total,
        mme_parts=() if mme is None else (*mme.parts, *mme.unknown),
        findings=found,
    )


def schedule_report(a: Assessment) -> ScheduleReport:
    """The dose times, dispensing lines and scheduling notes of an assessment."""
    return ScheduleReport(
        patient_id=a.patient_id,
        schedule=a.schedule,
        dispensing=a.dispensing,
        findings=tuple(f for f in a.findings if f.code.startswith("schedule.")),
    )
