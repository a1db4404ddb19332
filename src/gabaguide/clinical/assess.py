"""``assess``: one patient in, one Assessment out, composed from the pure rules.

Order: resolve the product and indication, assess kidney function, screen the indication, review
the other medicines (interactions, MME) and the patient (safety screens), plan the titration (goal
``start``), the overnight switch to pregabalin (goal ``switch``) or a taper (goal ``stop``), check
the current regimen against the maxima, fit every dose to a clock time, count what to dispense, and
list the alternatives with this patient's cautions. Findings are merged by code and ordered by
severity. Every finding carries its citations; nothing missing is assumed.
"""

from __future__ import annotations

from gabaguide.domain import Assessment, Finding, Patient, Plan, Renal, ScheduledDose
from gabaguide.errors import InputError
from gabaguide.knowledge import Knowledge, load_knowledge, normalise
from gabaguide.knowledge.schema import DosingScheme, Indication, Product

from .alternatives import alternatives_for
from .dispensing import dispensing
from .findings import by_severity, finding, merge_duplicates
from .indication import indication_finding
from .interactions import (
    MedicationReview,
    assessed,
    daily_mme,
    interaction_findings,
    interchange_findings,
    review,
)
from .regimen import scheme_cap_mg, titrate
from .renal import (
    CrCl,
    RenalRange,
    estimate_crcl,
    hemodialysis_supplement,
    patient_renal_range,
    renal_findings,
)
from .schedule import Scheduled, schedule_plan
from .screening import patient_facts, screen_findings
from .switch import switch_to_pregabalin
from .taper import taper, taper_rule

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


def match_indication(k: Knowledge, text: str) -> Indication | None:
    """The indication whose id, name or synonym equals the text (case and punctuation ignored)."""
    return k.indication_by_name.get(normalise(text))


def assess(patient: Patient, knowledge: Knowledge | None = None) -> Assessment:
    """Assess one validated patient. Raises InputError only for references the knowledge lacks."""
    k = knowledge or load_knowledge()
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

    plan: Plan | None = None
    if patient.goal == "start":
        plan = _start_plan(k, patient, product, indication, rng, findings)
    if current is not None and patient.current_regimen is not None:
        findings += _check_current(k, patient, current, ind_id, crcl)
    if switching:
        plan = _switch_plan(k, patient, current, ind_id, crcl.ml_min, findings)
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
        plan = _taper_plan(k, patient, current, ind_id, crcl, findings)

    supplement = None
    if (
        patient.dialysis == "hemodialysis"
        and rng is not None
        and not rng.avoid
        and plan
        and plan.maintenance
        and plan.product == product.id
    ):
        found = hemodialysis_supplement(k, product.id, plan.maintenance.daily_mg)
        if found is not None:
            supplement = found.supplement_mg
            findings.append(
                finding(
                    k,
                    "renal.hemodialysis-supplement",
                    f"After each {found.after_hours_of_dialysis:g} hours of hemodialysis: "
                    f"{supplement:g} mg supplemental dose.",
                    f"For a maintenance dose of {plan.maintenance.daily_mg:g} mg/day the label's "
                    "table gives this supplement (the column at or below the maintenance dose).",
                    found.cite,
                )
            )
    schedule: tuple[ScheduledDose, ...] = ()
    if plan is not None:
        scheduled = _schedule(k, patient, plan, ind_id, meds)
        plan, schedule = scheduled.plan, scheduled.doses
        findings += scheduled.findings
    return Assessment(
        patient_id=patient.patient_id,
        renal=_renal_summary(crcl, rng, supplement),
        plan=plan,
        findings=by_severity(merge_duplicates(findings)),
        alternatives=alternatives_for(k, ind_id, facts),
        schedule=schedule,
        dispensing=dispensing(k, plan) if plan is not None else (),
        mme_daily=mme.total if mme is not None else None,
    )


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
    result = switch_to_pregabalin(k, current, reg.dose_mg * reg.times_per_day, crcl_ml_min, ind)
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


def _renal_summary(crcl: CrCl, rng: RenalRange | None, supplement: float | None) -> Renal:
    return Renal(
        crcl_ml_min=None if crcl.ml_min is None else round(crcl.ml_min, 1),
        method=crcl.method,
        band=rng.label if rng else None,
        daily_min_mg=rng.daily_min_mg if rng else None,
        daily_max_mg=rng.daily_max_mg if rng else None,
        doses_per_day=rng.doses_per_day if rng else None,
        hemodialysis_supplement_mg=supplement,
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


def _choose_scheme(
    k: Knowledge,
    patient: Patient,
    product: Product,
    indication: Indication | None,
    rng: RenalRange | None,
    findings: list[Finding],
) -> DosingScheme | None:
    if rng is not None and rng.band.scheme is not None:
        return k.scheme_by_id[rng.band.scheme]
    age = patient.age_years
    generic = k.scheme_by_id[k.dosing.limits.generic_scheme]
    if indication is None or not indication.schemes:
        adult = age is not None and (generic.min_age_years or 0) <= age
        if patient.target_daily_mg is not None and product.id == generic.product and adult:
            findings.append(
                finding(
                    k,
                    "plan.generic-titration",
                    f"No labelled dosing for this request: the {generic.id} titration is used up to "
                    f"the target you gave ({patient.target_daily_mg:g} mg/day).",
                    "The sources read give no gabapentin dosing for this indication; the start and "
                    "steps are borrowed from the labelled titration and the target is yours.",
                    generic.cite,
                )
            )
            return generic
        if patient.target_daily_mg is not None and age is None:
            findings.append(
                finding(
                    k,
                    "plan.age-required",
                    "Age needed: the generic titration is for adults only.",
                    "Give age_years to plan the titration to the target.",
                    generic.cite,
                )
            )
            return None
        code = (
            "plan.no-indication"
            if indication is None and not patient.indication
            else "plan.no-dosing-source"
        )
        if indication is not None or patient.indication is None:
            findings.append(
                finding(
                    k,
                    code,
                    "No titration planned: no labelled or guideline dosing for this request.",
                    "Give target_daily_mg (adults, immediate-release gabapentin) to plan the generic "
                    f"titration ({generic.id}) to that target.",
                    generic.cite,
                )
            )
        return None
    candidates = [
        k.scheme_by_id[s] for s in indication.schemes if k.scheme_by_id[s].product == product.id
    ]
    if not candidates:
        findings.append(
            finding(
                k,
                "plan.product-not-for-indication",
                f"{product.name} has no labelled dosing for {indication.name}.",
                "Choose a product labelled for this indication: "
                + ", ".join(sorted({k.scheme_by_id[s].product for s in indication.schemes}))
                + ".",
                indication.cite,
            )
        )
        return None
    if age is None:
        if len(candidates) > 1:
            findings.append(
                finding(
                    k,
                    "plan.age-required",
                    "Age needed: dosing for this indication depends on age.",
                    "Give age_years to choose the scheme.",
                    [c for s in candidates for c in s.cite][:3],
                )
            )
            return None
        findings.append(
            finding(
                k,
                "plan.age-required",
                f"Age not given: the plan uses the {candidates[0].id} scheme "
                f"for ages {candidates[0].min_age_years or 0:g} and over.",
                "Confirm the patient's age; the scheme is not checked against it.",
                candidates[0].cite,
            )
        )
        return candidates[0]
    fitting = [
        s
        for s in candidates
        if (s.min_age_years or 0) <= age and (s.max_age_years is None or age < s.max_age_years)
    ]
    if not fitting:
        youngest = min(s.min_age_years or 0 for s in candidates)
        findings.append(
            finding(
                k,
                "population.pediatric",
                f"Not established at age {age:g} for {indication.name}.",
                f"The label's dosing for this indication starts at {youngest:g} years.",
                [k.citation("NEU48", "§2.2; §8.4"), *candidates[0].cite],
            )
        )
        return None
    return fitting[0]


def _start_plan(
    k: Knowledge,
    patient: Patient,
    product: Product,
    indication: Indication | None,
    rng: RenalRange | None,
    findings: list[Finding],
) -> Plan | None:
    if rng is not None and rng.avoid:
        return None
    scheme = _choose_scheme(k, patient, product, indication, rng, findings)
    instructions = [*product.instructions]
    if rng is not None and rng.band.instruction:
        instructions.append(rng.band.instruction)
    if scheme is None:
        if rng is not None and rng.band.dialysis == "hemodialysis" and rng.band.instruction:
            return Plan(
                product=product.id,
                target_daily_mg=None,
                max_daily_mg=rng.daily_max_mg,
                instructions=tuple(instructions),
            )
        return None
    by_weight = scheme.unit == "mg/kg/day"
    if by_weight and patient.weight_kg is None:
        findings.append(
            finding(
                k,
                "plan.weight-required",
                "Weight needed: this dosing is in mg/kg/day.",
                "Give weight_kg to plan the titration.",
                scheme.cite,
            )
        )
        return None
    factor = patient.weight_kg if by_weight and patient.weight_kg else 1.0
    cap = scheme_cap_mg(k, scheme, patient.weight_kg)
    renal_cap = rng.daily_max_mg if rng is not None else None
    limit = min(cap, renal_cap) if renal_cap is not None else cap
    target = (
        patient.target_daily_mg
        if patient.target_daily_mg is not None
        else scheme.target_daily * factor
    )
    if patient.target_daily_mg is not None:
        if patient.target_daily_mg > limit:
            why = (
                "the renal maximum"
                if renal_cap is not None and renal_cap < cap
                else "the label maximum"
            )
            findings.append(
                finding(
                    k,
                    "dose.exceeds-max",
                    f"Target {patient.target_daily_mg:g} mg/day is above {why} of {limit:g} mg/day; "
                    "the plan stops there.",
                    f"Scheme {scheme.id} allows at most {cap:g} mg/day"
                    + (
                        f"; CrCl row {rng.label} allows at most {renal_cap:g} mg/day."
                        if rng and renal_cap
                        else "."
                    ),
                    [*scheme.cite, *(rng.citations if rng else ()), *k.dosing.limits.cite],
                )
            )
        elif (
            patient.target_daily_mg < scheme.maintenance_min_daily * factor
            and scheme.indication == (indication.id if indication else None)
        ):
            findings.append(
                finding(
                    k,
                    "dose.below-maintenance",
                    f"Target {patient.target_daily_mg:g} mg/day is below the usual "
                    f"{scheme.maintenance_min_daily * factor:g}-{scheme.maintenance_max_daily * factor:g} mg/day.",
                    "A lower dose may be right for this patient; the label's or guideline's range is "
                    "shown for reference.",
                    scheme.cite,
                )
            )
    try:
        plan = titrate(k, product, scheme, rng, target, patient.weight_kg, scheme.indication)
    except ValueError:
        return None
    if plan.maintenance.daily_mg < min(target, limit) - 1e-9:
        findings.append(
            finding(
                k,
                "dose.rounded",
                f"Maintenance {plan.maintenance.daily_mg:g} mg/day: the nearest lower dose that splits "
                f"into equal doses of real strengths (asked {min(target, limit):g}).",
                "Each dose is made of the product's strengths (halves only of scored tablets).",
                product.cite,
            )
        )
    return Plan(
        product=product.id,
        scheme=scheme.id,
        target_daily_mg=plan.target_daily_mg,
        max_daily_mg=plan.max_daily_mg,
        titration=plan.days,
        maintenance=plan.maintenance,
        instructions=tuple(dict.fromkeys([*instructions, *scheme.instructions])),
    )


def product_max(k: Knowledge, product: Product, indication: str | None) -> float | None:
    """The product's label maximum daily dose (mg/day) for the indication, else of any scheme."""
    schemes = [s for s in k.dosing.schemes if s.product == product.id and s.unit == "mg/day"]
    specific = [s for s in schemes if s.indication == indication] or schemes
    if not specific:
        return None
    return max(scheme_cap_mg(k, s, None) for s in specific)


def _check_current(
    k: Knowledge, patient: Patient, current: Product, ind: str | None, crcl: CrCl
) -> list[Finding]:
    reg = patient.current_regimen
    assert reg is not None
    daily = reg.dose_mg * reg.times_per_day
    out: list[Finding] = []
    rng = patient_renal_range(k, patient, current.id, ind, crcl)
    label_max = product_max(k, current, ind)
    limits = [(label_max, "label maximum", k.dosing.limits.cite)]
    if rng is not None and rng.daily_max_mg is not None:
        limits.append((rng.daily_max_mg, f"renal maximum for CrCl {rng.label}", rng.citations))
    exceeded = [(m, why, c) for m, why, c in limits if m is not None and daily > m]
    if exceeded:
        m, why, cites = min(exceeded, key=lambda t: t[0] or 0)
        out.append(
            finding(
                k,
                "dose.exceeds-max",
                f"Current {daily:g} mg/day is above the {why} of {m:g} mg/day.",
                f"{reg.dose_mg:g} mg x {reg.times_per_day} a day. Reduce to at most {m:g} mg/day "
                "(taper gradually if reducing a lot).",
                cites,
            )
        )
    if rng is not None and rng.doses_per_day is not None and not rng.avoid:
        if reg.times_per_day != rng.doses_per_day:
            out.append(
                finding(
                    k,
                    "dose.frequency-renal",
                    f"Taken {reg.times_per_day} times a day; the renal table gives {rng.doses_per_day} "
                    f"for CrCl {rng.label}.",
                    "The label's renal table sets the number of doses a day with the dose range.",
                    rng.citations,
                )
            )
        max_gap = k.dosing.limits.max_interval_h
        if (
            current.release == "immediate"
            and rng.doses_per_day > 1
            and 24 / reg.times_per_day > max_gap
        ):
            out.append(
                finding(
                    k,
                    "dose.interval-exceeded",
                    f"{reg.times_per_day} dose a day leaves more than {max_gap:g} hours between doses.",
                    f"The label allows at most {max_gap:g} hours between doses of a divided "
                    "regimen.",
                    k.dosing.limits.cite[:1] or k.dosing.limits.cite,
                )
            )
    if rng is not None and rng.avoid:
        out.append(
            finding(
                k,
                "renal.product-not-recommended",
                f"{current.name}: not for CrCl {rng.label}.",
                rng.band.instruction or "The label advises against this product here.",
                rng.citations,
            )
        )
    return out


def _taper_plan(
    k: Knowledge,
    patient: Patient,
    current: Product | None,
    ind: str | None,
    crcl: CrCl,
    findings: list[Finding],
) -> Plan | None:
    rule = taper_rule(k, current.id if current else "*", ind)
    reg = patient.current_regimen
    rng = patient_renal_range(k, patient, current.id, ind, crcl) if current else None
    if rng is not None and rng.band.no_taper:
        findings.append(
            finding(
                k,
                "taper.not-needed",
                f"{current.name if current else ''} at CrCl {rng.label}: the label gives no taper.",
                "Stop as the prescriber directs.",
                rng.citations,
            )
        )
        return Plan(product=rng.band.product, target_daily_mg=None, max_daily_mg=None)
    cites = rule.cite
    findings.append(
        finding(
            k,
            "taper.required",
            f"Do not stop abruptly: taper over at least {rule.min_days} days.",
            "Abrupt or rapid discontinuation risks increased seizure frequency; withdrawal symptoms "
            "(agitation, confusion, anxiety, insomnia, sweating, pain) and suicidal behaviour have "
            "been reported after stopping.",
            [*cites, k.citation("NEU48", "§5.6; §6.2 Postmarketing Experience")],
        )
    )
    reg = patient.current_regimen
    if current is None or reg is None:
        findings.append(
            finding(
                k,
                "taper.no-current-regimen",
                "No taper planned: the current regimen is not given.",
                "Give current_regimen with product, dose_mg and times_per_day.",
                cites,
            )
        )
        return None
    usable = rng is not None and not rng.avoid
    caps = [product_max(k, current, ind), rng.daily_max_mg if rng is not None and usable else None]
    days = taper(
        k,
        current,
        reg.dose_mg * reg.times_per_day,
        reg.times_per_day,
        ind,
        rng.doses_per_day if rng is not None and usable else None,
        min((c for c in caps if c is not None), default=None),
    )
    if not days and rule.product != "*":
        findings.append(
            finding(
                k,
                "taper.not-needed",
                f"{current.name}: no lower step of the label's taper can be made from this dose.",
                "The product's own taper starts below the current dose; stop as the prescriber "
                "directs.",
                rule.cite,
            )
        )
    return Plan(
        product=current.id,
        target_daily_mg=0,
        max_daily_mg=None,
        taper=days,
        instructions=("Then stop. Do not stop abruptly; follow the prescriber's instructions.",),
    )
