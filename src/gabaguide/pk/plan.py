"""The maintenance regimen of an assessed plan as a simulation scenario, or the reason it cannot be
one. Used by the web result page to draw this patient's concentration curve."""

from __future__ import annotations

from dataclasses import dataclass

from gabaguide.domain import Assessment, Patient
from gabaguide.knowledge import Knowledge
from gabaguide.pk.models import Covariates, Drug
from gabaguide.pk.regimen import Regimen, parse_clock
from gabaguide.pk.simulate import Scenario


@dataclass(frozen=True)
class PlanScenario:
    scenario: Scenario | None
    reason: str | None = None
    """Why no scenario could be built (missing kidney function, a product the models do not cover)."""


def plan_scenario(
    k: Knowledge, patient: Patient, a: Assessment, *, n: int, seed: int, days: int
) -> PlanScenario:
    """The plan's maintenance doses at the patient's kidney function, for ``n`` virtual patients.
    Nothing is assumed: without a creatinine clearance there is no curve, and the reason says so."""
    plan = a.plan
    if plan is None or plan.maintenance is None or not plan.maintenance.doses:
        return PlanScenario(None, "there is no maintenance regimen to simulate")
    product = k.product_by_id.get(plan.product)
    drug: Drug | None = None
    if product is not None and product.ingredient in ("gabapentin", "pregabalin"):
        drug = "gabapentin" if product.ingredient == "gabapentin" else "pregabalin"
    if (
        product is None
        or drug is None
        or drug not in k.pk_model_by_drug
        or product.release != "immediate"
    ):
        name = plan.product if product is None else product.name
        return PlanScenario(None, f"the models cover immediate-release products only, not {name}")
    if a.renal.crcl_ml_min is None:
        return PlanScenario(None, "kidney function is unknown, so the curve cannot be drawn")
    if patient.dialysis in ("hemodialysis", "peritoneal"):
        return PlanScenario(
            None,
            "on dialysis the curve depends on the session days: use `gabaguide simulate "
            "--dialysis-days`",
        )
    m = plan.maintenance
    amounts = {d.mg for d in m.doses}
    if m.every_n_days != 1 or len(amounts) != 1:
        return PlanScenario(None, "the model draws equal doses every day only")
    times = tuple(parse_clock(d.time, "dose time") for d in m.doses)
    dose_mg = amounts.pop()
    regimen = Regimen(dose_mg=dose_mg, times_h=times, text=f"{dose_mg:g} mg x {len(times)}/day")
    covariates = Covariates(
        crcl_ml_min=a.renal.crcl_ml_min, weight_kg=patient.weight_kg, sex=patient.sex
    )
    scenario = Scenario(
        drug=drug, regimen=regimen, covariates=covariates, days=days, n=n, seed=seed
    )
    return PlanScenario(scenario)
