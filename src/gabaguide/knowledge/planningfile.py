"""The shape of ``planning.toml``: when gabaguide plans, holds a start or withholds a plan (the
planning gate), the reference ranges it reads kidney function against, the weight-free eGFR it
shows when weight is missing, and the plausibility limits that make a typing error a finding."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gabaguide.domain import Severity
from gabaguide.knowledge.schema import Cite, NonEmptyCite, Record


class Gate(Record):
    likely_impaired_age_years: float = Field(gt=0)
    held_start_down_to_crcl: float = Field(gt=0)
    withhold_on_severity: Severity
    no_taper_prefixes: tuple[str, ...] = Field(min_length=1)
    indication_suggestion_cutoff: float = Field(gt=0, lt=1)
    cite: Cite = NonEmptyCite


class CreatinineReference(Record):
    """Upper reference limit of serum creatinine for one sex and age band (mg/dL)."""

    sex: Literal["female", "male", "any"]
    min_age_years: float = Field(ge=0)
    max_age_years: float | None = None
    upper_mg_dl: float = Field(gt=0)
    cite: Cite = NonEmptyCite


class CkdEpi2021(Record):
    """eGFR (mL/min/1.73 m2) = constant x min(Scr/kappa, 1)^alpha x max(Scr/kappa, 1)^exponent_above
    x age_base^age [x female_factor]."""

    constant: float
    kappa_female: float
    kappa_male: float
    alpha_female: float
    alpha_male: float
    exponent_above: float
    age_base: float
    female_factor: float
    min_age_years: float
    cite: Cite = NonEmptyCite


class Bounds(Record):
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.low >= self.high:
            raise ValueError("low must be below high")
        return self


class Plausibility(Record):
    adult_age_years: float
    creatinine_mg_dl: Bounds
    estimated_crcl_high_ml_min: float
    measured_vs_estimated_ratio: float = Field(gt=1)
    adult_weight_kg: Bounds
    adult_height_cm: Bounds
    pregnancy_possible_age_years: Bounds
    pregnancy_usual_age_years: Bounds
    cite: Cite = NonEmptyCite


class PlanningFile(Record):
    gate: Gate
    creatinine_upper_reference: tuple[CreatinineReference, ...] = Field(min_length=1)
    ckd_epi_2021: CkdEpi2021
    plausibility: Plausibility
