"""Start plans: the dosing scheme for the patient, then the titration read through the renal
grid (:mod:`.grid`), or a held start that is safe in every kidney-function row (:mod:`.gate`)."""

from __future__ import annotations

from gabaguide.domain import Finding, Maintenance, Patient, Plan, PlanDay, RenalColumn
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import DosingScheme, Indication, Product

from .findings import finding
from .grid import grid_for
from .regimen import doses_for, scheme_cap_mg, titrate
from .renal import RenalRange


def choose_scheme(
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


def start_plan(
    k: Knowledge,
    patient: Patient,
    product: Product,
    indication: Indication | None,
    rng: RenalRange | None,
    findings: list[Finding],
) -> Plan | None:
    if rng is not None and rng.avoid:
        return None
    scheme = choose_scheme(k, patient, product, indication, rng, findings)
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
    grid = grid_for(k, product.id, scheme.indication, rng)
    mapped = grid is not None and not grid.is_normal
    renal_cap = rng.daily_max_mg if rng is not None and not mapped else None
    limit = min(cap, renal_cap) if renal_cap is not None else cap
    target = (
        patient.target_daily_mg
        if patient.target_daily_mg is not None
        else scheme.target_daily * factor
    )
    if patient.target_daily_mg is not None:
        findings += _target_findings(
            k, patient.target_daily_mg, scheme, indication, rng, cap, limit, factor
        )
    ceiling = _titration_ceiling(scheme, factor)
    if ceiling is not None and min(target, limit) > ceiling + 1e-9:
        findings.append(
            finding(
                k,
                "plan.titration-stops",
                f"The titration stops at {ceiling:g} mg/day, the top of the usual range; going on "
                f"to {min(target, limit):g} mg/day is for the prescriber, in steps.",
                f"Scheme {scheme.id} gives no steps above its usual range "
                f"({scheme.maintenance_min_daily * factor:g}-{ceiling:g} mg/day); gabaguide does not "
                "invent them.",
                scheme.cite,
            )
        )
        target = ceiling
    try:
        plan = titrate(k, product, scheme, rng, target, patient.weight_kg, scheme.indication)
    except ValueError:
        findings.append(
            finding(
                k,
                "plan.withheld",
                f"No plan: no dose of {product.name} this small can be measured"
                + (f" at CrCl {rng.label}." if rng is not None else "."),
                "The dose the label's table gives here is below the smallest amount the product's "
                "strengths (or its oral solution) can measure; dose with specialist advice.",
                [*product.cite, *(rng.citations if rng is not None else ())],
            )
        )
        return None
    column = None
    wanted = min(target, limit)
    reading = plan.column
    if reading is not None:
        wanted = reading.row_daily_mg
        column = RenalColumn(
            row=reading.grid.row_label,
            column=reading.index + 1,
            columns=len(reading.grid.normal_daily_mg),
            normal_daily_mg=reading.normal_daily_mg,
            row_daily_mg=reading.row_daily_mg,
            text=reading.describe(),
        )
        findings.append(
            finding(
                k,
                "renal.column",
                reading.describe() + ".",
                "The label's renal table maps each regimen at normal kidney function (a column) "
                "to the regimen with the same exposure in each kidney-function row; the start, "
                "every step and the target are read through it, the start at the row's first "
                "column.",
                [
                    *reading.grid.citations,
                    k.citation("GG-DECISIONS", "D1b Renal tables read by column"),
                ],
            )
        )
    if plan.maintenance.daily_mg < wanted - 1e-9:
        findings.append(
            finding(
                k,
                "dose.rounded",
                f"Maintenance {plan.maintenance.daily_mg:g} mg/day: the nearest lower dose that splits "
                f"into equal doses of real strengths (asked {wanted:g}).",
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
        renal_column=column,
    )


def _titration_ceiling(scheme: DosingScheme, factor: float) -> float | None:
    """Where a scheme without a step-up rule stops: the top of its usual range (never below its
    last printed step). None when the scheme keeps stepping up to the target."""
    if scheme.step_up is not None and scheme.step_interval_days is not None:
        return None
    last = scheme.steps[-1].daily * factor
    return max(last, scheme.maintenance_max_daily * factor)


def _target_findings(
    k: Knowledge,
    target: float,
    scheme: DosingScheme,
    indication: Indication | None,
    rng: RenalRange | None,
    cap: float,
    limit: float,
    factor: float,
) -> list[Finding]:
    """A target above the maximum (the label's, or a row's that prints no columns) or below the
    usual maintenance range."""
    if target > limit:
        renal_cap = limit if limit < cap else None
        why = "the renal maximum" if renal_cap is not None else "the label maximum"
        return [
            finding(
                k,
                "dose.exceeds-max",
                f"Target {target:g} mg/day is above {why} of {limit:g} mg/day; the plan stops there.",
                f"Scheme {scheme.id} allows at most {cap:g} mg/day"
                + (
                    f"; CrCl row {rng.label} allows at most {renal_cap:g} mg/day."
                    if rng and renal_cap
                    else "."
                ),
                [*scheme.cite, *(rng.citations if rng else ()), *k.dosing.limits.cite],
            )
        ]
    if target < scheme.maintenance_min_daily * factor and scheme.indication == (
        indication.id if indication else None
    ):
        return [
            finding(
                k,
                "dose.below-maintenance",
                f"Target {target:g} mg/day is below the usual "
                f"{scheme.maintenance_min_daily * factor:g}-{scheme.maintenance_max_daily * factor:g} mg/day.",
                "A lower dose may be right for this patient; the label's or guideline's range is "
                "shown for reference.",
                scheme.cite,
            )
        ]
    return []


def held_start(k: Knowledge, product: Product, indication: Indication | None) -> Plan | None:
    """A start that is safe in every kidney-function row down to the gate's lowest CrCl: the
    smallest first-column regimen of the product's rows (None where a row avoids the product or
    the table prints no columns)."""
    lowest = k.planning.gate.held_start_down_to_crcl
    rows = [
        b
        for b in k.bands_for(product.id, indication.id if indication else None)
        if b.dialysis == "none" and (b.crcl_max is None or b.crcl_max >= lowest)
    ]
    if not rows or any(b.action == "avoid" or not b.regimen_options_mg for b in rows):
        return None
    row = min(rows, key=lambda b: b.regimen_options_mg[0] * (b.doses_per_day or 1))
    assert row.doses_per_day is not None
    per_dose = row.regimen_options_mg[0]
    doses = doses_for(
        k, product, indication.id if indication else None, per_dose, row.doses_per_day
    )
    daily = per_dose * row.doses_per_day
    return Plan(
        product=product.id,
        target_daily_mg=daily,
        max_daily_mg=daily,
        titration=(PlanDay(day=1, daily_mg=daily, doses=doses),),
        maintenance=Maintenance(daily_mg=daily, doses=doses),
        instructions=(
            *product.instructions,
            f"Held start: stay at {daily:g} mg a day until kidney function is known; the "
            "prescriber then continues by the renal table.",
        ),
        held=True,
    )
