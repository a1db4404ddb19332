"""Gabapentin and pregabalin population models, read from the cited parameters in the knowledge base.

The numbers live in ``knowledge/data/facts-pk.toml`` (``pk_parameters``) and the choice of which
parameters make a model, with the reasons, in its ``pk_models`` table; nothing here is a number
about either drug.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from gabaguide.domain import Citation
from gabaguide.errors import InputError
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.schema import PkVariability
from gabaguide.pk.transfer import Array

Drug = Literal["gabapentin", "pregabalin"]
Sex = Literal["female", "male"]


@dataclass(frozen=True)
class Covariates:
    """What the models adjust for. ``weight_kg`` and ``sex`` matter for pregabalin only."""

    crcl_ml_min: float
    weight_kg: float | None = None
    sex: Sex | None = None


@dataclass(frozen=True)
class Model:
    """Typical values and variabilities of one drug's model, in hours, litres, mg and mL/min."""

    drug: Drug
    name: str
    summary: str
    ka_per_h: float
    lag_h: float
    v_l: float
    cl_l_h: float
    crcl_reference_ml_min: float
    crcl_cap_ml_min: float | None
    weight_reference_kg: float | None
    cl_weight_exponent: float
    v_weight_exponent: float
    cl_female_factor: float
    v_female_factor: float
    dmax_mg: float | None
    d50_mg: float | None
    omega_cl: float
    omega_v: float
    omega_ka: float
    omega_f: float
    dialysis_k_extra_per_h: float | None
    antacid_f_factor: float | None
    decisions: tuple[str, ...]
    citations: tuple[Citation, ...]

    def bioavailability(self, dose_mg: float) -> float:
        """Typical F of one administration: ``dmax/(d50 + dose)`` when saturable, else 1."""
        if self.dmax_mg is None or self.d50_mg is None:
            return 1.0
        return min(1.0, self.dmax_mg / (self.d50_mg + dose_mg))

    def typical_cl(self, cov: Covariates) -> float:
        crcl = cov.crcl_ml_min
        if self.crcl_cap_ml_min is not None:
            crcl = min(crcl, self.crcl_cap_ml_min)
        cl = self.cl_l_h * crcl / self.crcl_reference_ml_min
        if cov.weight_kg is not None and self.weight_reference_kg is not None:
            cl *= (cov.weight_kg / self.weight_reference_kg) ** self.cl_weight_exponent
        if cov.sex == "female":
            cl *= self.cl_female_factor
        return cl

    def typical_v(self, cov: Covariates) -> float:
        v = self.v_l
        if cov.weight_kg is not None and self.weight_reference_kg is not None:
            v *= (cov.weight_kg / self.weight_reference_kg) ** self.v_weight_exponent
        if cov.sex == "female":
            v *= self.v_female_factor
        return v

    def assumptions(self, cov: Covariates) -> tuple[str, ...]:
        """What the simulation assumed because it was not given (never silently)."""
        notes = []
        if self.weight_reference_kg is not None and cov.weight_kg is None:
            notes.append(
                f"weight not given: the model's reference weight ({self.weight_reference_kg:g} kg) "
                "is used"
            )
        if self.cl_female_factor != 1.0 and cov.sex is None:
            notes.append("sex not given: the model's reference (male) values are used")
        if self.crcl_cap_ml_min is not None and cov.crcl_ml_min > self.crcl_cap_ml_min:
            notes.append(
                f"CrCl above {self.crcl_cap_ml_min:g} mL/min adds no clearance in this model"
            )
        return tuple(notes)


@dataclass(frozen=True)
class Individuals:
    """Per-subject parameters: rate constants (1/h), volume (L), clearance (L/h) and the factor
    each subject's bioavailability is multiplied by."""

    ka: Array
    k: Array
    v: Array
    cl: Array
    f_factor: Array

    @property
    def n(self) -> int:
        return int(self.v.shape[0])


def load_model(k: Knowledge, drug: Drug) -> Model:
    """The simulation model for ``drug``, assembled from its cited parameters."""
    spec = k.pk_model_by_drug.get(drug)
    if spec is None:  # pragma: no cover - the loader guarantees both models
        raise InputError([f"drug must be gabapentin or pregabalin; got {drug!r}"])
    params = k.pk_parameter_by_id

    def value(ref: str | None, default: float | None = None) -> float | None:
        return default if ref is None else params[ref].value

    def need(ref: str) -> float:
        return params[ref].value

    on, off = value(spec.dialysis_half_life_on), value(spec.dialysis_half_life_off)
    reduction = value(spec.antacid_bioavailability_reduction)
    cited = [ref for _, ref in spec if isinstance(ref, str) and ref.startswith("pk.")]
    cited += [ref.param for _, ref in spec if isinstance(ref, PkVariability)]
    citations = {
        (c.source, c.locator): k.citation(c.source, c.locator)
        for ref in cited
        for c in params[ref].cite
    }
    return Model(
        drug=drug,
        name=spec.name,
        summary=spec.summary,
        ka_per_h=need(spec.ka),
        lag_h=need(spec.lag),
        v_l=need(spec.v),
        cl_l_h=need(spec.cl),
        crcl_reference_ml_min=need(spec.crcl_reference),
        crcl_cap_ml_min=value(spec.crcl_cap),
        weight_reference_kg=value(spec.weight_reference),
        cl_weight_exponent=value(spec.cl_weight_exponent, 0.0) or 0.0,
        v_weight_exponent=value(spec.v_weight_exponent, 0.0) or 0.0,
        cl_female_factor=value(spec.cl_female_factor, 1.0) or 1.0,
        v_female_factor=value(spec.v_female_factor, 1.0) or 1.0,
        dmax_mg=value(spec.bioavailability_dmax),
        d50_mg=value(spec.bioavailability_d50),
        omega_cl=_omega(k, spec.iiv_cl),
        omega_v=_omega(k, spec.iiv_v),
        omega_ka=_omega(k, spec.iiv_ka),
        omega_f=_omega(k, spec.iiv_f),
        dialysis_k_extra_per_h=(
            math.log(2) / on - math.log(2) / off if on is not None and off is not None else None
        ),
        antacid_f_factor=None if reduction is None else 1.0 - reduction / 100.0,
        decisions=spec.decisions,
        citations=tuple(citations.values()),
    )


def _omega(k: Knowledge, term: PkVariability | None) -> float:
    if term is None:
        return 0.0
    p = k.pk_parameter_by_id[term.param]
    number = p.value / 100.0 if p.unit == "%" else p.value
    return number if term.reads_as == "omega" else math.sqrt(math.log1p(number * number))


def individuals(
    model: Model, cov: Covariates, n: int, rng: np.random.Generator | None
) -> Individuals:
    """``n`` subjects drawn around the typical values (log-normal), or the typical subject
    repeated when ``rng`` is None."""

    def draw(omega: float) -> Array:
        if rng is None or omega == 0.0:
            return np.ones(n)
        return np.exp(rng.normal(0.0, omega, n))

    cl = model.typical_cl(cov) * draw(model.omega_cl)
    v = model.typical_v(cov) * draw(model.omega_v)
    ka = model.ka_per_h * draw(model.omega_ka)
    return Individuals(ka=ka, k=cl / v, v=v, cl=cl, f_factor=draw(model.omega_f))
