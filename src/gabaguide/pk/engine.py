"""The event engine: NONMEM dosing semantics on the exact one-compartment solution.

A subject's history is a list of :class:`Event` records in time order (as in a NONMEM data set).
The engine walks them, with a queue of the events the records imply — additional doses (ADDL),
lagged administrations, infusion ends, the tails of steady-state doses — and propagates the state
exactly between consecutive times with :mod:`gabaguide.pk.transfer`. The state is an array over
subjects: many subjects that share one event history (a virtual population on one regimen) are
solved at once, each with its own parameters and, for bolus doses, its own bioavailability.

Conventions (where NONMEM-style engines are known to differ; see docs/pk.md):

* ``F`` scales the amount. An infusion with a data ``RATE > 0`` keeps its rate and lasts
  ``F·AMT/RATE``; a modelled duration (``RATE = -2``) keeps its duration, rate ``F·AMT/D``.
* ``ALAG`` delays the administration (bolus or infusion start), not the record.
* Additional doses (``ADDL``) repeat the record every ``II`` with ``SS = 0`` and the record's
  ``F``, ``ALAG``, rate and duration.
* At one time, implied events (additional doses, lagged administrations, infusion ends) happen
  before the record at that time, and records happen in data order; an observation therefore sees a
  dose given at its own time.
* A reset (EVID 3 and 4, and ``SS = 1``) empties both compartments and cancels everything pending:
  running infusions, lagged administrations and additional doses not yet given.
* Steady state is the exact fixed point of one dosing cycle (any lag, any infusion length, even
  longer than ``II``); the doses of that infinite history still running or pending after the record
  (a lag or an infusion reaching past it) carry on after it. ``SS = 2`` adds that steady state to the
  current amounts instead of replacing them.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np

from gabaguide.pk.transfer import Affine, Array, Step, fixed_point, step


class Evid(IntEnum):
    OBSERVATION = 0
    DOSE = 1
    OTHER = 2
    RESET = 3
    RESET_AND_DOSE = 4


@dataclass(frozen=True, slots=True)
class Dose:
    """One dose record, its data items resolved for the compartment it goes into.

    ``rate`` is the infusion rate from the data (or the modelled rate for ``RATE = -1``);
    ``duration`` the modelled duration for ``RATE = -2``; both 0 for a bolus. ``f`` may be an array
    over subjects for a bolus.
    """

    cmt: int
    amount: float
    f: float | Array = 1.0
    lag: float = 0.0
    rate: float = 0.0
    duration: float = 0.0
    ii: float = 0.0
    addl: int = 0
    ss: int = 0

    @property
    def is_infusion(self) -> bool:
        return self.rate > 0 or self.duration > 0

    def infusion(self) -> tuple[float, float]:
        """(rate, duration) of this infusion after bioavailability."""
        f = float(np.asarray(self.f))
        if self.duration > 0:
            return f * self.amount / self.duration, self.duration
        return self.rate, f * self.amount / self.rate


@dataclass(frozen=True, slots=True)
class Event:
    """One record: its time, EVID, the dose it gives (EVID 1 and 4) and its output slot, if any."""

    time: float
    evid: Evid
    dose: Dose | None = None
    output: int | None = None


@dataclass(frozen=True, slots=True)
class Kinetics:
    """Rate constants (1/h) and volume per subject; ``k_by_phase[i]`` is k in clearance phase i.

    Phase 0 is the usual elimination; further phases (a hemodialysis session) are switched by
    :class:`PhaseChange` events in the history.
    """

    ka: Array
    k_by_phase: tuple[Array, ...]
    v: Array

    @property
    def n(self) -> int:
        return int(self.v.shape[0])


@dataclass(frozen=True, slots=True)
class PhaseChange:
    """From ``time`` on, elimination uses ``Kinetics.k_by_phase[phase]``."""

    time: float
    phase: int


# Kinds of implied events, in the order they happen at one time.
_INFUSION_END, _INFUSION_START, _ADMINISTER, _DOSE, _PHASE = range(5)


class _Subjects:
    """The mutable state of one solve: amounts, running infusions, pending events, step cache."""

    def __init__(self, kin: Kinetics) -> None:
        self.kin = kin
        self.a1 = np.zeros(kin.n)
        self.a2 = np.zeros(kin.n)
        self.time = 0.0
        self.phase = 0
        self.infusions: dict[int, tuple[int, float]] = {}  # id -> (cmt, rate)
        self.pending: list[tuple[float, int, int, object]] = []
        self.serial = 0
        self.steps: dict[tuple[float, int], Step] = {}
        self.scratch = np.empty(kin.n)

    # --- time ----------------------------------------------------------------------------------

    def step_for(self, dt: float) -> Step:
        key = (dt, self.phase)
        cached = self.steps.get(key)
        if cached is None:
            cached = step(self.kin.ka, self.kin.k_by_phase[self.phase], dt)
            if len(self.steps) < 4096:
                self.steps[key] = cached
        return cached

    def rates(self) -> tuple[float, float]:
        r1 = sum(rate for cmt, rate in self.infusions.values() if cmt == 1)
        r2 = sum(rate for cmt, rate in self.infusions.values() if cmt == 2)
        return r1, r2

    def advance_to(self, time: float) -> None:
        if time > self.time:
            s = self.step_for(time - self.time)
            if self.infusions:
                r1, r2 = self.rates()
                self.a1, self.a2 = s.advance(self.a1, self.a2, r1, r2)
            else:  # the state arrays are this object's own: update them in place
                s.advance_in_place(self.a1, self.a2, self.scratch)
            self.time = time

    # --- pending events ------------------------------------------------------------------------

    def push(self, time: float, kind: int, payload: object) -> None:
        self.serial += 1
        heapq.heappush(self.pending, (time, kind, self.serial, payload))

    def run_pending_until(self, time: float, inclusive: bool) -> None:
        while self.pending and (
            self.pending[0][0] < time or (inclusive and self.pending[0][0] == time)
        ):
            when, kind, _, payload = heapq.heappop(self.pending)
            self.advance_to(when)
            self.apply(kind, payload)

    def apply(self, kind: int, payload: object) -> None:
        if kind == _INFUSION_END:
            assert isinstance(payload, int)
            self.infusions.pop(payload, None)
        elif kind == _INFUSION_START:
            assert isinstance(payload, tuple)
            self.start_infusion(*payload)
        elif kind == _ADMINISTER:
            assert isinstance(payload, Dose)
            self.administer(payload)
        elif kind == _DOSE:
            assert isinstance(payload, Dose)
            self.dose(payload)
        else:
            assert isinstance(payload, int)
            self.phase = payload

    def reset(self) -> None:
        self.a1 = np.zeros(self.kin.n)
        self.a2 = np.zeros(self.kin.n)
        self.infusions.clear()
        # Phase changes are part of the subject's schedule, not of the dosing: they survive.
        self.pending = [item for item in self.pending if item[1] == _PHASE]
        heapq.heapify(self.pending)

    # --- doses ---------------------------------------------------------------------------------

    def start_infusion(self, cmt: int, rate: float, end: float) -> None:
        self.serial += 1
        self.infusions[self.serial] = (cmt, rate)
        if math.isfinite(end):
            self.push(end, _INFUSION_END, self.serial)

    def administer(self, dose: Dose) -> None:
        if dose.is_infusion:
            rate, duration = dose.infusion()
            self.start_infusion(dose.cmt, rate, self.time + duration)
            return
        amount = np.asarray(dose.f) * dose.amount
        if dose.cmt == 1:
            self.a1 = self.a1 + amount
        else:
            self.a2 = self.a2 + amount

    def dose(self, dose: Dose) -> None:
        if dose.ss:
            self.steady_state(dose)
        if dose.lag > 0:
            self.push(self.time + dose.lag, _ADMINISTER, dose)
        elif not (dose.ss and dose.ii == 0):  # a steady infusion (AMT 0) gives no dose itself
            self.administer(dose)
        if dose.addl > 0:
            self.push(self.time + dose.ii, _DOSE, replace(dose, ss=0, addl=dose.addl - 1))

    def steady_state(self, dose: Dose) -> None:
        k = self.kin.k_by_phase[self.phase]
        if dose.ii == 0:  # a constant infusion at steady state (AMT 0, RATE > 0)
            x1, x2 = _steady_infusion(self.kin.ka, k, dose.cmt, dose.rate)
        else:
            x1, x2 = fixed_point(self.cycle(dose))
        if dose.ss == 1:
            self.reset()
            self.a1, self.a2 = x1, x2
        else:
            self.a1, self.a2 = self.a1 + x1, self.a2 + x2
        if dose.ii > 0:  # NONMEM 7.4.3 does not continue a steady infusion past its record
            self.carry_on_history(dose)

    def cycle(self, dose: Dose) -> Affine:
        """The map over one dosing interval at steady state, starting at the record's time."""
        ii, phase = dose.ii, dose.lag % dose.ii
        cycle = Affine.identity((self.kin.n,))
        if dose.is_infusion:
            rate, duration = dose.infusion()
            cuts = sorted({0.0, ii, phase, (dose.lag + duration) % ii})
            for start, end in itertools.pairwise(cuts):
                if end > start:
                    count = _running(0.5 * (start + end), dose.lag, duration, ii)
                    r = rate * count
                    cycle = cycle.then_step(
                        self.step_for(end - start),
                        r if dose.cmt == 1 else 0.0,
                        r if dose.cmt == 2 else 0.0,
                    )
            return cycle
        bolus = np.asarray(dose.f) * dose.amount
        if phase > 0:
            cycle = cycle.then_step(self.step_for(phase), 0.0, 0.0)
        cycle = cycle.then_bolus(bolus if dose.cmt == 1 else 0.0, bolus if dose.cmt == 2 else 0.0)
        return cycle.then_step(self.step_for(ii - phase), 0.0, 0.0)

    def carry_on_history(self, dose: Dose) -> None:
        """Schedule what the steady-state history still delivers from the record's time on."""
        now, single = self.time, replace(dose, ss=0, addl=0, lag=0.0)
        duration = dose.infusion()[1] if dose.is_infusion else 0.0
        m = 1
        while dose.lag - m * dose.ii + duration > 0 or (
            not dose.is_infusion and dose.lag - m * dose.ii >= 0
        ):
            start = now + dose.lag - m * dose.ii
            if not dose.is_infusion or start >= now:
                self.push(start, _ADMINISTER, single)
            else:
                rate = dose.infusion()[0]
                self.start_infusion(dose.cmt, rate, start + duration)
            m += 1


def _running(phase: float, lag: float, duration: float, ii: float) -> int:
    """How many infusions of a steady-state history run at ``phase`` of the cycle."""
    # infusion m runs over [lag + m·ii, lag + m·ii + duration) for every integer m
    return math.floor((phase - lag) / ii) - math.floor((phase - lag - duration) / ii)


def _steady_infusion(ka: Array, k: Array, cmt: int, rate: float) -> tuple[Array, Array]:
    if cmt == 1:
        return rate / ka, np.broadcast_to(rate / k, ka.shape).copy()
    return np.zeros_like(ka), np.broadcast_to(rate / k, ka.shape).copy()


def solve(
    events: Sequence[Event],
    kinetics: Kinetics,
    n_outputs: int,
    phase_changes: Sequence[PhaseChange] = (),
    *,
    out: np.ndarray | None = None,
    scale: float | Array = 1.0,
) -> np.ndarray:
    """Central amounts times ``scale`` at each output slot, shape ``(n_outputs, n_subjects)``.

    ``events`` are in data order (times never decreasing); an event with ``output`` set records the
    central amount at that time after everything earlier in the order has happened. ``out`` (any
    float dtype, e.g. a float32 slice of a larger array) receives the rows when given; with
    ``scale = 1/V`` the rows are concentrations, written without an intermediate array.
    """
    state = _Subjects(kinetics)
    for change in phase_changes:
        state.push(change.time, _PHASE, change.phase)
    if out is None:
        out = np.zeros((n_outputs, kinetics.n))
    for event in events:
        state.run_pending_until(event.time, inclusive=True)
        state.advance_to(event.time)
        if event.evid in (Evid.RESET, Evid.RESET_AND_DOSE):
            state.reset()
        if event.dose is not None and event.evid in (Evid.DOSE, Evid.RESET_AND_DOSE):
            state.dose(event.dose)
        if event.output is not None:
            np.multiply(state.a2, scale, out=out[event.output], casting="same_kind")
    return out
