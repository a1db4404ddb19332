"""``assess``: one patient in, one Assessment out, composed from the pure rules.

Order: resolve the product and indication, assess kidney function, screen the indication, review
the other medicines (interactions, MME) and the patient (safety screens), plan the titration (goal
``start``), the overnight switch to pregabalin (goal ``switch``) or a taper (goal ``stop``), check
the current regimen against the maxima, fit every dose to a clock time, count what to dispense, and
list the alternatives with this patient's cautions. Findings are merged by code and ordered by
severity. Every finding carries its citations; nothing missing is assumed.
"""

from __future__ import annotations

from gabaguide.domain import (
    Assessment,
    Finding,
    Patient,
    Plan,
    PlanStatus,
    Renal,
    ScheduledDose,
)
from gabaguide.errors import InputError
from gabaguide.knowledge import Knowledge, load_knowledge
from gabaguide.knowledge.schema import Indication, Product

from .alternatives import alternatives_for
from .current import check_current
from .dialysis import with_supplement
from .dispensing import dispensing
from .findings import by_severity, finding, merge_duplicates
from .gate import Gate, can_plan
from .grid import grid_for
from .indication import indication_finding, match_indication
from .interactions import (
    MedicationReview,
    assessed,
    daily_mme,
    interaction_findings,
    interchange_findings,
    review,
)
from .plausibility import implausible, impossible, inputs_used
from .renal import (
    CrCl,
    RenalRange,
    estimate_crcl,
    patient_renal_range,
    renal_findings,
    renal_range,
)
from .schedule import Scheduled, schedule_plan
from .screening import patient_facts, screen_findings
from .start import held_start, start_plan
from .switch import switch_to_pregabalin
from .taper import taper_plan

DEFAULT_PRODUCT = "gabapentin"
ANTACID_CLASS = "antacid"


def resolve_product(k: Knowledge, name: str, field: str) -> Product:
    """A product by id, name or brand; InputError naming the field and the choices otherwise."""
    product = k.product_by_name.get(name.strip().lower())
    if product is None:
        choices = ", ".join(sorted(p.id for p in k.products))
        raise InputError([f"{field} must be one of {choices} (or a brand name); got {name!r}"])
    return product


def resolve_products(k: Knowledge, patient: Patient) -> tuple[Product, Product | None]:
    """(product to plan, current product): InputError naming every unknown product reference."""
    problems: list[str] = []
    product: Product | None = None
    current: Product | None = None
    try:
        if patient.current_regimen is not None:
            current = resolve_product(k, patient.current_regimen.product, "current_regimen.product")
    except InputError as exc:
        problems.extend(exc.problems)
    try:
        product = resolve_product(k, patient.product, "product") if patient.product else None
    except InputError as exc:
        problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return product or current or k.product_by_id[DEFAULT_PRODUCT], current


def check_patient(k: Knowledge, patient: Patient) -> None:
    """InputError naming every unknown product reference and impossible combination (the checks
    every shell makes before it answers, so nothing is written for bad input)."""
    problems: list[str] = []
    try:
        resolve_products(k, patient)
    except InputError as exc:
        problems.extend(exc.problems)
    problems += impossible(k, patient)
    if problems:
        raise InputError(problems)


def assess(patient: Patient, knowledge: Knowledge | None = None) -> Assessment:
    """Assess one validated patient. Raises InputError for an impossible combination of inputs or
    a reference the knowledge lacks."""
    k = knowledge or load_knowledge()
    check_patient(k, patient)
    product, current = resolve_products(k, patient)
    findings: list[Finding] = []
    indication = match_indication(k, patient.indication) if patient.indication else None
    if patient.indication and indication is None:
        findings.append(
            finding(
                k,
                "plan.indication-unknown",
                f"Indication {patient.indication!r} is not recognised.",
                "Known indications: " + ", ".join(i.name for i in k.indications) + ".",
                [k.citation("GG-DECISIONS", "D4 Off-label neuropathic pain; explicit targets")],
            )
        )
    ind_id = indication.id if indication else None
    switching = patient.goal == "switch" and _switch_target(k, patient).id == (
        k.switch.conversion.to_product
    )
    if patient.goal in ("stop", "switch") and current is not None:
        product = current  # the assessment is about the product being stopped
    crcl = estimate_crcl(patient, k)
    rng = patient_renal_range(k, patient, product.id, ind_id, crcl)
    findings += renal_findings(k, patient, crcl, rng, product.id)
    doubts = implausible(k, patient, crcl)
    findings += doubts.all
    if indication is not None:
        findings.append(indication_finding(k, indication, product, patient))
    if product.release != "immediate":
        findings += _formulation_findings(k, product)

    meds = review(k, patient)
    mme = daily_mme(k, meds.recognised)
    own = assessed(k, meds, product, current, patient.goal)
    findings += interaction_findings(k, meds, mme, own)
    findings += interchange_findings(k, meds, product, own)
    facts = patient_facts(patient, crcl.ml_min, meds.classes)
    findings += screen_findings(k, facts)

    gate = can_plan(k, patient, product, crcl, findings, doubts.kidneys)
    answer: list[Finding] = []  # why there is (or is no) plan: first within each severity
    if patient.goal in ("start", "switch") or gate.contraindicated:
        # a stop is tapered unless the patient must not take it at all
        answer += gate.findings
    plan: Plan | None = None
    if patient.goal == "start":
        plan = _start(k, patient, product, indication, rng, gate, answer)
    if current is not None and patient.current_regimen is not None:
        findings += check_current(k, patient, current, ind_id, crcl)
    if switching:
        if gate.decision == "plan":
            plan = _switch_plan(k, patient, current, ind_id, crcl.ml_min, findings)
        else:
            findings.append(_no_switch(k, gate))
    elif patient.goal in ("stop", "switch"):
        if patient.goal == "switch":
            target = _switch_target(k, patient)
            findings.append(
                finding(
                    k,
                    "switch.not-possible",
                    f"No conversion to {target.name}: taper the current product and start "
                    f"{target.name} by its own label.",
                    "The only published conversion is gabapentin to pregabalin; gabapentin "
                    "products are not interchangeable milligram for milligram.",
                    [*k.switch.conversion.cite, *target.cite],
                )
            )
        if not gate.contraindicated:
            plan = taper_plan(k, patient, current, ind_id, crcl, findings)

    if plan is not None and patient.dialysis == "hemodialysis" and rng is not None:
        plan, more = with_supplement(k, patient, plan, rng)
        findings += more
    schedule: tuple[ScheduledDose, ...] = ()
    if plan is not None:
        scheduled = _schedule(k, patient, plan, ind_id, meds)
        plan, schedule = scheduled.plan, scheduled.doses
        findings += scheduled.findings
    return Assessment(
        patient_id=patient.patient_id,
        plan_status=_status(patient, plan),
        inputs=inputs_used(k, patient, crcl),
        renal=_renal_summary(crcl, rng, plan),
        plan=plan,
        findings=by_severity(merge_duplicates([*answer, *findings])),
        alternatives=alternatives_for(k, ind_id, facts),
        schedule=schedule,
        dispensing=dispensing(k, plan, schedule) if plan is not None else (),
        mme_daily=mme.total if mme is not None else None,
    )


def _start(
    k: Knowledge,
    patient: Patient,
    product: Product,
    indication: Indication | None,
    rng: RenalRange | None,
    gate: Gate,
    findings: list[Finding],
) -> Plan | None:
    """The start plan the gate allows: the full plan, a held start, or none."""
    if gate.decision == "plan":
        return start_plan(k, patient, product, indication, rng, findings)
    if gate.decision == "none":
        return None
    held = held_start(k, product, indication)
    if held is None:
        findings.append(
            finding(
                k,
                "plan.withheld",
                f"No plan: {product.name} has no start that is safe in every kidney-function row.",
                "Give the missing kidney-function data (see the renal findings) to plan it.",
                k.planning.gate.cite,
            )
        )
        return None
    findings.append(
        finding(
            k,
            "plan.held-start",
            f"Held start: {held.target_daily_mg:g} mg a day, and no higher until kidney function "
            "is known.",
            "This is the lowest first-column regimen of the label's renal table, safe in every row "
            f"down to CrCl {k.planning.gate.held_start_down_to_crcl:g} mL/min. Give creatinine "
            "with age, weight and sex (or a measured CrCl) to plan the titration.",
            [*k.planning.gate.cite, k.citation("NEU48", "§2.3 Table 1")],
        )
    )
    return held


def _no_switch(k: Knowledge, gate: Gate) -> Finding:
    return finding(
        k,
        "switch.not-possible",
        "No switch planned: " + (gate.findings[0].summary if gate.findings else "see findings"),
        "The pregabalin dose depends on kidney function and on there being no contraindication; "
        "the findings say what is needed.",
        k.switch.conversion.cite,
    )


def _status(patient: Patient, plan: Plan | None) -> PlanStatus:
    if plan is not None:
        return "held" if plan.held else "planned"
    return "not-asked" if patient.goal == "review" else "not-planned"


def schedule_for(k: Knowledge, patient: Patient, plan: Plan, indication: str | None) -> Scheduled:
    """Place a plan's doses in the patient's day, clear of the antacids they take (the scheduler
    the assessment uses, for a plan made elsewhere: a prescription kept as it is)."""
    return _schedule(k, patient, plan, indication, review(k, patient))


def _schedule(
    k: Knowledge, patient: Patient, plan: Plan, indication: str | None, meds: MedicationReview
) -> Scheduled:
    return schedule_plan(
        k,
        plan,
        k.product_by_id[plan.product],
        indication,
        patient.routine,
        _antacid_times(meds),
        ANTACID_CLASS in meds.classes,
    )


def _antacid_times(meds: MedicationReview) -> tuple[str, ...]:
    times = {t for m, r in meds.recognised if ANTACID_CLASS in r.classes for t in m.times}
    return tuple(sorted(times))


def _switch_target(k: Knowledge, patient: Patient) -> Product:
    if patient.product:
        return resolve_product(k, patient.product, "product")
    return k.product_by_id[k.switch.conversion.to_product]


def _switch_plan(
    k: Knowledge,
    patient: Patient,
    current: Product | None,
    ind: str | None,
    crcl_ml_min: float | None,
    findings: list[Finding],
) -> Plan | None:
    conv = k.switch.conversion
    reg = patient.current_regimen
    if current is None or reg is None:
        findings.append(
            finding(
                k,
                "switch.not-possible",
                "No switch planned: the current gabapentin regimen is not given.",
                "Give current_regimen with product, dose_mg and times_per_day.",
                conv.cite,
            )
        )
        return None
    rng = renal_range(k, current.id, ind, crcl_ml_min, patient.dialysis)
    result = switch_to_pregabalin(
        k,
        current,
        reg.dose_mg * reg.times_per_day,
        crcl_ml_min,
        ind,
        grid_for(k, current.id, ind, rng),
    )
    if result.plan is None or result.plan.switch is None:
        findings.append(
            finding(
                k,
                "switch.not-possible",
                f"No switch planned: {result.problem}.",
                "Stop the current product as the prescriber directs (taper) and start the new one "
                "by its own label.",
                conv.cite,
            )
        )
        return None
    sw = result.plan.switch
    findings.append(
        finding(
            k,
            "switch.pregabalin",
            f"Switch {current.name} {sw.from_daily_mg:g} mg/day to pregabalin {sw.daily_mg:g} mg/day "
            f"({sw.doses_per_day} doses a day) overnight.",
            f"Conversion table row: {sw.table_row} -> {sw.converted_daily_mg:g} mg/day. "
            f"{sw.caveat} {sw.last_previous_dose}",
            sw.citations,
        )
    )
    return result.plan


def _renal_summary(crcl: CrCl, rng: RenalRange | None, plan: Plan | None) -> Renal:
    supplement = plan.dialysis_supplement if plan is not None else None
    return Renal(
        crcl_ml_min=None if crcl.ml_min is None else round(crcl.ml_min, 1),
        method=crcl.method,
        band=rng.label if rng else None,
        daily_min_mg=rng.daily_min_mg if rng else None,
        daily_max_mg=rng.daily_max_mg if rng else None,
        doses_per_day=rng.doses_per_day if rng else None,
        hemodialysis_supplement_mg=supplement.mg if supplement is not None else None,
        citations=(*crcl.citations, *(rng.citations if rng else ())),
    )


def _formulation_findings(k: Knowledge, product: Product) -> list[Finding]:
    text = " ".join(product.instructions)
    return [
        finding(
            k,
            "formulation.not-interchangeable",
            f"{product.name} is not interchangeable with other gabapentin products.",
            text,
            product.cite,
        ),
        finding(
            k,
            "formulation.do-not-crush",
            "Swallow whole: do not crush, split or chew.",
            text,
            product.cite,
        ),
    ]
