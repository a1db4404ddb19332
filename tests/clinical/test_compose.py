"""Doses from real strengths: fewest pieces, halves only of scored tablets, exact sums."""

from __future__ import annotations

import pytest

from gabaguide import Knowledge
from gabaguide.clinical.compose import compose, round_down


@pytest.mark.parametrize(
    ("product", "mg", "expected"),
    [
        ("gabapentin", 400, [(400, 1, "capsule")]),
        ("gabapentin", 1200, [(600, 2, "tablet")]),
        ("gabapentin", 1800, [(600, 3, "tablet")]),
        ("gabapentin", 500, [(400, 1, "capsule"), (100, 1, "capsule")]),
        ("gabapentin", 125, [(50, 2.5, "mL")]),  # 125 mg = 2.5 mL of 250 mg/5 mL
        ("gralise", 1800, [(900, 2, "tablet")]),
        ("horizant", 1200, [(600, 2, "tablet")]),
        ("pregabalin-er", 247.5, [(165, 1, "tablet"), (82.5, 1, "tablet")]),
    ],
)
def test_compose(
    k: Knowledge, product: str, mg: float, expected: list[tuple[float, float, str]]
) -> None:
    units = compose(k.product_by_id[product], mg)
    assert units is not None
    assert [(u.strength_mg, u.count, u.measure) for u in units] == expected
    assert sum(u.strength_mg * u.count for u in units) == pytest.approx(mg)


def test_halves_only_of_scored_tablets(k: Knowledge) -> None:
    # Gralise and Horizant may not be split: 150 mg cannot be made
    assert compose(k.product_by_id["gralise"], 150) is None
    assert compose(k.product_by_id["horizant"], 150) is None


def test_half_tablet_used_when_it_saves_pieces(k: Knowledge) -> None:
    product = k.product_by_id["gabapentin"].model_copy(
        update={
            "forms": tuple(f for f in k.product_by_id["gabapentin"].forms if f.measure == "tablet")
        }
    )
    units = compose(product, 300)
    assert units is not None
    assert [(u.strength_mg, u.count) for u in units] == [(600, 0.5)]


@pytest.mark.parametrize(
    ("mg", "child", "expected"),
    [
        (450, False, 400),  # adults: solids, rounded down
        (75, False, 75),  # below the smallest capsule: the solution
        (208.3, True, 205),  # children: solution in 0.1 mL (5 mg) steps
        (4, False, 0),  # nothing measurable
    ],
)
def test_round_down(k: Knowledge, mg: float, child: bool, expected: float) -> None:
    assert round_down(k.product_by_id["gabapentin"], mg, prefer_solution=child) == expected
