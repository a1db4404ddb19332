"""Make a dose from real strengths: the fewest pieces, halves only of scored tablets.

Solid forms are tried first. A dose that no combination of solids makes exactly is measured from
the product's oral solution, if it has one, in the solution's measuring steps. Work is done in
integer quanta (the greatest common divisor of the piece sizes), so every result sums exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce, update_wrapper
from itertools import combinations_with_replacement
from math import floor, gcd
from typing import Concatenate, ParamSpec, TypeVar

from gabaguide.domain import Unit
from gabaguide.knowledge.schema import Product, ProductForm

_QUANTA_PER_MG = 10  # strengths such as 82.5 mg are whole in tenths of a milligram

P = ParamSpec("P")
R = TypeVar("R")


def _by_identity(fn: Callable[Concatenate[Product, P], R]) -> Callable[Concatenate[Product, P], R]:
    """Memoise on the product's identity (hashing a whole product on every call is slow). The cache
    holds the product itself, so its id cannot be reused while the entry lives."""
    memo: dict[tuple[object, ...], tuple[Product, R]] = {}

    def wrapper(product: Product, /, *args: P.args, **kwargs: P.kwargs) -> R:
        key = (id(product), *args, *sorted(kwargs.items()))
        hit = memo.get(key)
        if hit is None:
            hit = (product, fn(product, *args, **kwargs))
            memo[key] = hit
        return hit[1]

    update_wrapper(wrapper, fn)
    return wrapper


@dataclass(frozen=True)
class _Piece:
    form: ProductForm
    fraction: float  # 1.0 whole, 0.5 half a scored tablet
    quanta: int


@_by_identity
def _pieces(product: Product) -> tuple[_Piece, ...]:
    out: list[_Piece] = []
    for f in product.forms:
        if f.measure == "mL":
            continue
        q = round(f.strength_mg * _QUANTA_PER_MG)
        out.append(_Piece(f, 1.0, q))
        if f.scored:
            out.append(_Piece(f, 0.5, q // 2))
    return tuple(out)


@_by_identity
def solid_step_mg(product: Product) -> float | None:
    """The granularity of doses made from solids (None if the product has no solid form)."""
    pieces = _pieces(product)
    if not pieces:
        return None
    return reduce(gcd, (p.quanta for p in pieces)) / _QUANTA_PER_MG


def solution(product: Product) -> ProductForm | None:
    """The product's oral solution, if it has one."""
    return next((f for f in product.forms if f.measure == "mL"), None)


@_by_identity
def solution_step_mg(product: Product) -> float | None:
    form = solution(product)
    if form is None or form.measure_step_ml is None:
        return None
    return form.strength_mg * form.measure_step_ml


@_by_identity
def _solid_table(product: Product, limit_quanta: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Dynamic programme over amounts: fewest pieces, then fewest halves, then fewest forms."""
    pieces = _pieces(product)
    step = reduce(gcd, (p.quanta for p in pieces))
    size = limit_quanta // step + 1
    inf = 1 << 30
    cost = [inf] * size
    choice = [-1] * size
    cost[0] = 0
    for amount in range(1, size):
        best, best_i = inf, -1
        for i, p in enumerate(pieces):
            u = p.quanta // step
            if u <= amount and cost[amount - u] < inf:
                c = cost[amount - u] + 1
                if c < best or (c == best and _prefer(pieces, i, best_i)):
                    best, best_i = c, i
        cost[amount], choice[amount] = best, best_i
    return tuple(cost), tuple(choice)


def _prefer(pieces: Sequence[_Piece], i: int, j: int) -> bool:
    """Tie-break: whole pieces before halves, then larger strengths."""
    if j < 0:
        return True
    a, b = pieces[i], pieces[j]
    return (a.fraction, a.quanta) > (b.fraction, b.quanta)


_ENUMERATE_UP_TO = 8  # pieces; above this the dynamic programme's own choice stands


@_by_identity
def _best_combo(product: Product, amount: int, step: int) -> tuple[int, ...] | None:
    """Pieces (indices) for ``amount`` quanta-steps: fewest pieces, then fewest halves, then fewest
    distinct forms, then larger strengths."""
    pieces = _pieces(product)
    limit = 1 << (max(amount * step, 1) - 1).bit_length()  # share one table across nearby amounts
    cost, choice = _solid_table(product, limit)
    if cost[amount] >= 1 << 30:
        return None
    n = cost[amount]
    if n <= _ENUMERATE_UP_TO:
        sizes = [p.quanta // step for p in pieces]
        combos = [
            c
            for c in combinations_with_replacement(range(len(pieces)), n)
            if sum(sizes[i] for i in c) == amount
        ]

        def rank(c: tuple[int, ...]) -> tuple[int, int, tuple[int, ...]]:
            halves = sum(1 for i in c if pieces[i].fraction < 1)
            forms = len({pieces[i].form.label for i in c})
            return halves, forms, tuple(sorted(-pieces[i].quanta for i in c))

        return min(combos, key=rank)
    out: list[int] = []
    while amount:
        out.append(choice[amount])
        amount -= pieces[choice[amount]].quanta // step
    return tuple(out)


def compose_solid(product: Product, mg: float) -> tuple[Unit, ...] | None:
    """The dose from solid forms, or None if no combination makes exactly ``mg``."""
    pieces = _pieces(product)
    if not pieces or mg <= 0:
        return None
    target = round(mg * _QUANTA_PER_MG)
    if abs(target - mg * _QUANTA_PER_MG) > 1e-6:
        return None
    step = reduce(gcd, (p.quanta for p in pieces))
    if target % step:
        return None
    combo = _best_combo(product, target // step, step)
    if combo is None:
        return None
    counts: dict[tuple[int, float], float] = {}
    for i in combo:
        p = pieces[i]
        key = (product.forms.index(p.form), p.fraction)
        counts[key] = counts.get(key, 0) + 1
    merged: dict[int, float] = {}
    for (form_index, fraction), n in counts.items():
        merged[form_index] = merged.get(form_index, 0) + n * fraction
    return tuple(
        Unit(
            strength_mg=product.forms[i].strength_mg,
            form=product.forms[i].label,
            count=merged[i],
            measure=product.forms[i].measure,
        )
        for i in sorted(merged, key=lambda i: -product.forms[i].strength_mg)
    )


def compose_solution(product: Product, mg: float) -> tuple[Unit, ...] | None:
    """The dose measured from the oral solution, or None if it has none or ``mg`` is off-step."""
    form = solution(product)
    step = solution_step_mg(product)
    if form is None or step is None or mg <= 0:
        return None
    steps = mg / step
    if abs(steps - round(steps)) > 1e-6:
        return None
    ml = round(round(steps) * (form.measure_step_ml or 0), 4)
    return (Unit(strength_mg=form.strength_mg, form=form.label, count=ml, measure="mL"),)


@_by_identity
def compose(product: Product, mg: float) -> tuple[Unit, ...] | None:
    """Solids if they make the dose exactly, else the solution, else None."""
    return compose_solid(product, mg) or compose_solution(product, mg)


@_by_identity
def round_down(product: Product, mg: float, prefer_solution: bool = False) -> float:
    """The largest dose not above ``mg`` that can be made; 0 if none can.

    Adults get solids whenever solids make a dose above zero; children dosed by weight
    (``prefer_solution``) get the solution unless solids hit the same amount.
    """
    solid = _floor_to(mg, solid_step_mg(product))
    while solid > 0 and compose_solid(product, solid) is None:
        solid = _floor_to(solid - (solid_step_mg(product) or solid), solid_step_mg(product))
    liquid = _floor_to(mg, solution_step_mg(product))
    if prefer_solution:
        return max(solid, liquid)
    return solid if solid > 0 else liquid


def _floor_to(mg: float, step: float | None) -> float:
    if step is None or mg <= 0:
        return 0.0
    n = floor(mg / step + 1e-9)
    return round(n * step, 4)
