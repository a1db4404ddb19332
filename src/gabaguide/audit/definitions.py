"""What the audit's rules need from the knowledge base, as small lookup tables of plain rows.

Everything here is computed by the same core functions the point-of-care check calls: drugs are
recognised by ``clinical.recognise``, renal rows come from ``clinical.renal.renal_range`` (evaluated
on every stretch of clearance between the printed band edges, so its gap and proportional rules
hold unchanged), label maxima and MME factors from the same places ``assess`` reads. The Ibis
expressions in ``rules.py`` join these rows; they hold no clinical number of their own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from gabaguide.clinical.current import product_max
from gabaguide.clinical.interactions import mme_factor
from gabaguide.clinical.recognise import product_named, recognise
from gabaguide.clinical.renal import RenalRange, adolescent_min_age, renal_range
from gabaguide.domain import Citation, Medication
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.auditfile import AuditRule, Population

Row = dict[str, str | float | bool | None]

# Clearance far outside any printed band edge: the open ends of the first and last stretch.
_FAR = 1.0e6


@dataclass(frozen=True)
class RenalStretch:
    """One stretch of creatinine clearance over which a product's renal row does not change."""

    product: str
    lo: float
    lo_inclusive: bool
    hi: float
    hi_inclusive: bool
    label: str
    avoid: bool
    max_mg_per_day: float | None
    """Mean daily maximum (a dose every n days counts 1/n per day); None if the row has none."""
    max_doses_per_day: float | None
    proportional_to_crcl: float | None
    """Below the printed rows the maximum scales with CrCl / this reference clearance."""


@dataclass(frozen=True)
class Definition:
    """A rule as the report shows it: id, title, definition and its citations."""

    id: str
    title: str
    definition: str
    citations: tuple[Citation, ...]


class AuditDefinitions:
    """The audit's view of the knowledge base."""

    def __init__(self, k: Knowledge) -> None:
        self.k = k

    @cached_property
    def rules(self) -> dict[str, AuditRule]:
        return {r.id: r for r in self.k.audit.rules}

    def definitions(self) -> tuple[Definition, ...]:
        return tuple(
            Definition(
                r.id,
                r.title,
                r.definition,
                tuple(self.k.citation(c.source, c.locator) for c in r.cite),
            )
            for r in self.k.audit.rules
        )

    # --- drugs ------------------------------------------------------------------------------------

    def classes_of(self, rule_id: str) -> frozenset[str]:
        """The drug classes of the interaction rule an audit rule counts."""
        wanted = self.rules[rule_id].interaction
        rule = next(r for r in self.k.interactions.rules if r.id == wanted)
        return frozenset(rule.classes)

    def drug_rows(self, pairs: Iterable[tuple[str, str]]) -> list[Row]:
        """One row per distinct (rxcui, drug_name) of the prescriptions ('' for a missing value):
        the gabapentinoid product, whether it counts as an opioid or CNS depressant, and the MME
        factor per mg where the CDC gives one."""
        opioid = self.classes_of("overlap.opioid")
        cns = self.classes_of("overlap.cns-depressant")
        rows: list[Row] = []
        for rxcui, name in pairs:
            med = Medication(name=name or rxcui, rxcui=rxcui or None)
            product = product_named(self.k, med.rxcui, name)
            rec = recognise(self.k, med)
            classes = rec.classes if rec is not None else frozenset()
            factor = mme_factor(self.k, rec)[0] if rec is not None and classes & opioid else None
            rows.append(
                {
                    "rxcui": rxcui,
                    "drug_name": name,
                    "product": product.id if product is not None else None,
                    "is_opioid": bool(classes & opioid),
                    "is_cns_depressant": bool(classes & cns),
                    "mme_per_mg": factor.factor if factor is not None else None,
                }
            )
        return rows

    # --- products ---------------------------------------------------------------------------------

    def product_rows(self) -> list[Row]:
        """Per gabapentinoid product: the label maximum and the levels of the dose-level rules."""
        label = self.rules["dose.above-max"].levels_mg
        stop = self.rules["stop.abrupt"].levels_mg
        elderly = self.rules["elderly.high-dose"].levels_mg
        return [
            {
                "product": p.id,
                "label_max_mg": product_max(self.k, p, None) or label.get(p.id),
                "stop_level_mg": stop.get(p.id),
                "elderly_level_mg": elderly.get(p.id),
            }
            for p in self.k.products
        ]

    # --- numbers ----------------------------------------------------------------------------------

    @property
    def elderly_age(self) -> float:
        screen = next(s for s in self.k.screens.screens if s.id == self.population.elderly_screen)
        ages = [w.age_at_least for w in screen.when if w.age_at_least is not None]
        return ages[0]

    @property
    def population(self) -> Population:
        return self.k.audit.population

    @property
    def taper_days(self) -> int:
        return next(r.min_days for r in self.k.dosing.taper_rules if r.product == "*")

    @property
    def renal_min_age(self) -> float:
        return adolescent_min_age(self.k)

    @property
    def mme_tiers(self) -> tuple[tuple[float, str], ...]:
        """(at least, label) of the opioid rule's MME tiers above zero, rising."""
        rule = next(
            r for r in self.k.interactions.rules if r.id == self.rules["overlap.opioid"].interaction
        )
        return tuple(sorted((t.at_least, t.label) for t in rule.mme_tiers if t.at_least > 0))

    @property
    def creatinine_loinc(self) -> tuple[str, ...]:
        return self.k.cds.observations.creatinine.loinc

    def creatinine_units(self) -> dict[str, float]:
        """Unit as written in the lab data -> factor to mg/dL."""
        per_umol = 1 / self.k.renal.creatinine.umol_per_l_per_mg_dl
        out = {}
        for rule in self.k.cds.observations.creatinine.units:
            to_mg_dl = rule.factor * (1.0 if rule.to == "mg/dL" else per_umol)
            for unit in rule.ucum:
                out[unit] = to_mg_dl
        return out

    # --- renal ------------------------------------------------------------------------------------

    def renal_stretches(self) -> list[RenalStretch]:
        """Every product's renal rows as stretches of clearance, from the core's renal_range."""
        out: list[RenalStretch] = []
        for product in self.k.products:
            edges = sorted(
                {
                    e
                    for b in self.k.renal.bands
                    if b.product == product.id
                    for e in (b.crcl_min, b.crcl_max)
                    if e is not None
                }
                | {r.crcl_below for r in self.k.renal.proportional if r.product == product.id}
            )
            if not edges:
                continue
            points = [(-_FAR, False, edges[0], False)]
            for i, e in enumerate(edges):
                points.append((e, True, e, True))
                nxt = edges[i + 1] if i + 1 < len(edges) else _FAR
                points.append((e, False, nxt, False))
            for lo, lo_in, hi, hi_in in points:
                probe = lo if lo_in else (max(lo, 0.0) + hi) / 2 if hi < _FAR else lo + 1
                stretch = self._stretch(product.id, probe, lo, lo_in, hi, hi_in)
                if stretch is not None:
                    out.append(stretch)
        return out

    def _stretch(
        self, product: str, crcl: float, lo: float, lo_in: bool, hi: float, hi_in: bool
    ) -> RenalStretch | None:
        # Without an indication in the data, a product whose table differs by indication is held
        # to the most permissive of its tables: the audit flags only what every table would (D18).
        indications = sorted(
            {b.indication for b in self.k.renal.bands if b.product == product}, key=str
        )
        found = [
            r
            for ind in indications
            if (r := renal_range(self.k, product, ind, max(crcl, 0.0), "none")) is not None
        ]
        if not found:
            return None
        doses = [r for r in found if r.band.action == "dose"]
        if not doses:
            return RenalStretch(
                product, lo, lo_in, hi, hi_in, found[0].band.label, True, None, None, None
            )
        best = max(doses, key=_mean_daily_max)
        label = best.band.label
        if best.proportional is not None:
            label = f"<{best.proportional.crcl_below:g}"
        return RenalStretch(
            product,
            lo,
            lo_in,
            hi,
            hi_in,
            label,
            False,
            best.band.daily_max_mg / best.every_n_days if best.band.daily_max_mg else None,
            best.doses_per_day / best.every_n_days if best.doses_per_day else None,
            best.proportional.reference_crcl if best.proportional is not None else None,
        )


def _mean_daily_max(r: RenalRange) -> tuple[float, float]:
    return ((r.daily_max_mg or 0.0) / r.every_n_days, (r.doses_per_day or 0) / r.every_n_days)
