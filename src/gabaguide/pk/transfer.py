"""Exact one-compartment kinetics with first-order absorption, as affine maps of the state.

The state is the pair of amounts (depot ``A1``, central ``A2``); each may be a NumPy array over
subjects. Over an interval ``dt`` with constant parameters and constant infusion rates ``R1`` (into
the depot) and ``R2`` (into the central compartment) the solution of

    dA1/dt = -ka·A1 + R1
    dA2/dt =  ka·A1 - k·A2 + R2

is exact and affine in the state::

    A1(dt) = a·A1 + d1·R1
    A2(dt) = b·A1 + c·A2 + e1·R1 + e2·R2

with ``a = exp(-ka·dt)``, ``c = exp(-k·dt)``, ``b = ka·dt·c·φ((ka-k)·dt)``, ``d1 = dt·φ(ka·dt)``,
``e2 = dt·φ(k·dt)``, ``e1 = e2 - b/ka`` and ``φ(x) = (1 - exp(-x))/x`` (``φ(0) = 1``). Writing the
factors through ``φ`` keeps them accurate when ``ka`` is close to ``k`` (the flip-flop limit) and
for short steps. Steady state is the fixed point of one dosing cycle's composed map (:func:`fixed_point`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def phi(x: Array) -> Array:
    """``(1 - exp(-x)) / x`` with its limit 1 at 0; accurate for small and negative ``x``."""
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) < 1e-8
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 - x / 2.0, -np.expm1(-safe) / safe)


@dataclass(frozen=True, slots=True)
class Step:
    """The exact map over one interval: a lower-triangular matrix and the infusion terms."""

    a: Array
    b: Array
    c: Array
    d1: Array
    e1: Array
    e2: Array

    def advance(self, a1: Array, a2: Array, r1: float, r2: float) -> tuple[Array, Array]:
        """The amounts after the interval, given the amounts before and the infusion rates."""
        new_a2 = self.b * a1 + self.c * a2
        new_a1 = self.a * a1
        if r1:
            new_a1 = new_a1 + self.d1 * r1
            new_a2 = new_a2 + self.e1 * r1
        if r2:
            new_a2 = new_a2 + self.e2 * r2
        return new_a1, new_a2

    def advance_in_place(self, a1: Array, a2: Array, scratch: Array) -> None:
        """Like :meth:`advance` without infusions, overwriting ``a1`` and ``a2`` (no allocation:
        the hot path of a population on a fine grid)."""
        np.multiply(self.b, a1, out=scratch)
        np.multiply(self.c, a2, out=a2)
        np.add(a2, scratch, out=a2)
        np.multiply(self.a, a1, out=a1)


def step(ka: Array, k: Array, dt: float | Array) -> Step:
    """The exact factors for an interval of length ``dt`` (hours) at rate constants ``ka``, ``k``."""
    ka = np.asarray(ka, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    dt_arr = np.asarray(dt, dtype=np.float64)
    a = np.exp(-ka * dt_arr)
    c = np.exp(-k * dt_arr)
    b = ka * dt_arr * c * phi((ka - k) * dt_arr)
    d1 = dt_arr * phi(ka * dt_arr)
    e2 = dt_arr * phi(k * dt_arr)
    e1 = e2 - b / ka
    return Step(a=a, b=b, c=c, d1=d1, e1=e1, e2=e2)


@dataclass(frozen=True, slots=True)
class Affine:
    """``x ↦ M·x + u`` on the state (A1, A2), ``M = [[a, 0], [b, c]]``."""

    a: Array
    b: Array
    c: Array
    u1: Array
    u2: Array

    @staticmethod
    def identity(shape: tuple[int, ...]) -> Affine:
        one, zero = np.ones(shape), np.zeros(shape)
        return Affine(a=one, b=zero, c=one.copy(), u1=zero.copy(), u2=zero.copy())

    def then_step(self, s: Step, r1: float, r2: float) -> Affine:
        """This map followed by the interval ``s`` with constant infusion rates ``r1``, ``r2``."""
        return Affine(
            a=s.a * self.a,
            b=s.b * self.a + s.c * self.b,
            c=s.c * self.c,
            u1=s.a * self.u1 + s.d1 * r1,
            u2=s.b * self.u1 + s.c * self.u2 + s.e1 * r1 + s.e2 * r2,
        )

    def then_bolus(self, amount1: float | Array, amount2: float | Array) -> Affine:
        """This map followed by an instantaneous dose into the depot and/or central compartment."""
        return Affine(a=self.a, b=self.b, c=self.c, u1=self.u1 + amount1, u2=self.u2 + amount2)


def fixed_point(cycle: Affine) -> tuple[Array, Array]:
    """The state ``x`` with ``cycle(x) = x``: the steady state at the start of a dosing cycle.

    ``(I - M)`` is lower triangular with diagonal ``1 - a`` and ``1 - c``; both are positive when
    the rate constants and the cycle length are.
    """
    x1 = cycle.u1 / (1.0 - cycle.a)
    x2 = (cycle.u2 + cycle.b * x1) / (1.0 - cycle.c)
    return x1, x2
