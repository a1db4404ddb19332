"""The audit's renal stretches against the core's ``renal_range`` (decision D18): for any CrCl, the
one stretch that contains it gives the row the point-of-care check would give."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from gabaguide.audit.definitions import AuditDefinitions, RenalStretch
from gabaguide.clinical.renal import RenalRange, renal_range
from gabaguide.knowledge import load_knowledge

K = load_knowledge()
STRETCHES = AuditDefinitions(K).renal_stretches()
PRODUCTS = sorted({b.product for b in K.renal.bands if b.dialysis == "none"})


def _edges(product: str) -> list[float]:
    bands = [b for b in K.renal.bands if b.product == product]
    edges = {e for b in bands for e in (b.crcl_min, b.crcl_max) if e is not None}
    edges |= {r.crcl_below for r in K.renal.proportional if r.product == product}
    return sorted(edges)


def _near(edge: float) -> st.SearchStrategy[float]:
    """The edge itself and the floats just below and above it."""
    return st.sampled_from([edge, math.nextafter(edge, -math.inf), math.nextafter(edge, math.inf)])


@st.composite
def product_and_crcl(draw: st.DrawFn) -> tuple[str, float]:
    product = draw(st.sampled_from(PRODUCTS))
    edges = [e for e in _edges(product) if 0 <= e <= 200]
    crcl = draw(
        st.one_of(
            st.floats(0, 200, allow_nan=False),
            st.sampled_from(edges).flatmap(_near),
            st.sampled_from([0.0, 200.0]),
        )
    )
    return product, max(crcl, 0.0)


def _contains(s: RenalStretch, crcl: float) -> bool:
    above = crcl > s.lo or (s.lo_inclusive and crcl == s.lo)
    below = crcl < s.hi or (s.hi_inclusive and crcl == s.hi)
    return above and below


def _core_rows(product: str, crcl: float) -> list[RenalRange]:
    """The core's row for every indication the product's table has (None: no indication)."""
    indications = {b.indication for b in K.renal.bands if b.product == product}
    found = [renal_range(K, product, ind, crcl, "none") for ind in indications]
    return [r for r in found if r is not None]


def test_every_product_with_a_renal_table_has_stretches() -> None:
    assert PRODUCTS == ["gabapentin", "gralise", "horizant"]
    assert {s.product for s in STRETCHES} == set(PRODUCTS)


@settings(max_examples=600, deadline=None)
@given(product_and_crcl())
def test_exactly_one_stretch_contains_each_crcl(case: tuple[str, float]) -> None:
    product, crcl = case
    hits = [s for s in STRETCHES if s.product == product and _contains(s, crcl)]
    assert len(hits) == 1, (product, crcl, hits)


@settings(max_examples=600, deadline=None)
@given(product_and_crcl())
def test_stretch_gives_the_core_renal_row(case: tuple[str, float]) -> None:
    product, crcl = case
    (stretch,) = [s for s in STRETCHES if s.product == product and _contains(s, crcl)]
    rows = _core_rows(product, crcl)
    assert rows, (product, crcl)
    doses = [r for r in rows if not r.avoid]
    if not doses:
        # every table of the product says avoid at this clearance
        assert stretch.avoid
        assert stretch.max_mg_per_day is None
        assert stretch.max_doses_per_day is None
        return
    assert not stretch.avoid
    # the most permissive indication: the highest mean daily maximum (a dose every n days
    # counts 1/n per day)
    best = max(doses, key=lambda r: ((r.daily_max_mg or 0) / r.every_n_days, r.doses_per_day or 0))
    assert best.daily_max_mg is not None
    assert stretch.max_mg_per_day is not None
    audit_max = stretch.max_mg_per_day
    if stretch.proportional_to_crcl is not None:
        # below the printed rows the maximum scales with CrCl / the reference clearance
        assert best.proportional is not None
        assert stretch.proportional_to_crcl == best.proportional.reference_crcl
        audit_max *= crcl / stretch.proportional_to_crcl
    else:
        assert best.proportional is None
        assert stretch.label == best.band.label
    # the core rounds a proportional maximum to 0.1 mg
    assert math.isclose(audit_max, best.daily_max_mg / best.every_n_days, abs_tol=0.05 + 1e-9)
    assert stretch.max_doses_per_day == (best.doses_per_day or 0) / best.every_n_days


def test_band_edges_follow_the_gap_rule() -> None:
    # D1: a CrCl between printed rows, or printed in two rows, gets the lower-function row.
    def row(product: str, crcl: float) -> RenalStretch:
        (s,) = [s for s in STRETCHES if s.product == product and _contains(s, crcl)]
        return s

    assert row("gabapentin", 30).max_mg_per_day == 700  # between >15-29 and >30-59
    assert row("gabapentin", 59.5).max_mg_per_day == 1400  # between >30-59 and >=60
    assert row("gabapentin", 60).max_mg_per_day == 3600
    assert row("gabapentin", 15).proportional_to_crcl is None  # the printed 15 row itself
    assert row("gabapentin", 14.9).proportional_to_crcl == 15
    assert row("gralise", 60).label == "30 to 60"  # printed in both rows
    assert row("gralise", 29.9).avoid
