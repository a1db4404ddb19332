"""Spacing search: the cheapest set of slots, one per dose in order, with no gap (the overnight one
included) above a limit; or, when no set keeps the limit, the set whose longest gap is shortest.

Pure combinatorics with no clinical content: the scheduler supplies the slots (minutes), the cost
of each dose at each slot (``inf`` where a rule forbids it) and the limit.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from math import inf

DAY_MIN = 24 * 60


def least_gap(
    slots: Sequence[int], costs: Sequence[Sequence[float]], max_gap: int
) -> tuple[int, ...] | None:
    """The nearest set with no gap above ``max_gap``, else the one whose longest gap is shortest;
    None when the allowed slots cannot hold the doses at all."""
    picks = solve(slots, costs, max_gap)
    if picks is not None or len(costs) < 2:
        return picks
    limits = sorted({g for a in slots for b in slots if b > a for g in (b - a, DAY_MIN - b + a)})
    limits = [g for g in limits if g > max_gap] or [DAY_MIN]
    if solve(slots, costs, limits[-1]) is None:
        return None
    lo, hi = 0, len(limits) - 1
    while lo < hi:  # the shortest longest gap that can be kept
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if solve(slots, costs, limits[mid]) is not None else (mid + 1, hi)
    return solve(slots, costs, limits[lo])


def solve(
    slots: Sequence[int], costs: Sequence[Sequence[float]], max_gap: int
) -> tuple[int, ...] | None:
    """Slot indices, one per dose in order, of least total cost with every gap (the overnight one
    included) at most ``max_gap``; the earliest set on a tie; None when there is none."""
    n, m = len(costs), len(slots)
    if n == 1:
        best = min(range(m), key=lambda i: (costs[0][i], i), default=None)
        return None if best is None or costs[0][best] == inf else (best,)
    reach = [bisect_right(slots, t + max_gap) for t in slots]
    min_span = DAY_MIN - max_gap
    best_total, first = inf, -1
    best_layers: list[list[float]] = []
    for f in range(m):
        if slots[-1] - slots[f] < min_span:
            break
        if costs[0][f] == inf:
            continue
        layers = _layers(slots, costs, reach, f, min_span)
        total = costs[0][f] + min(layers[1][f + 1 : reach[f]], default=inf)
        if total < best_total:
            best_total, best_layers, first = total, layers, f
    if first < 0:
        return None
    picks = [first]
    for j in range(1, n):
        lo, hi = picks[-1] + 1, reach[picks[-1]]
        row = best_layers[j]
        picks.append(row.index(min(row[lo:hi]), lo, hi))
    return tuple(picks)


def _layers(
    slots: Sequence[int],
    costs: Sequence[Sequence[float]],
    reach: Sequence[int],
    first: int,
    min_span: int,
) -> list[list[float]]:
    """``layers[j][i]``: least cost of doses j.. with dose j at slot i, given the first dose."""
    n, m = len(costs), len(slots)
    last = [
        costs[-1][i] if i > first and slots[i] - slots[first] >= min_span else inf for i in range(m)
    ]
    layers = [last]
    for j in range(n - 2, 0, -1):
        nxt = layers[0]
        row = [
            costs[j][i] + min(nxt[i + 1 : reach[i]], default=inf) if i > first else inf
            for i in range(m)
        ]
        layers.insert(0, row)
    return [[], *layers]
