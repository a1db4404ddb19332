"""Is the treatment working? Baseline, recent average, % change and its IMMPACT category, the dose
reached and for how long, adherence, side effects and red flags: numbers and talking points for the
next visit. Never a dose change: the talking points say what to discuss, not what to do."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from statistics import fmean

from gabaguide.domain import Citation
from gabaguide.knowledge import Knowledge
from gabaguide.records import (
    Advice,
    DiaryEntry,
    Outcomes,
    PersonalPlan,
    RedFlagDay,
    SideEffectCount,
)

from .diary import red_flag_citations, side_effect_citations
from .personal import PlanCalendar


def outcomes(
    k: Knowledge, plans: Sequence[PersonalPlan], entries: Sequence[DiaryEntry], as_of: date
) -> Outcomes:
    """Outcomes of the diary up to ``as_of`` under the plans (oldest first)."""
    o = k.diary.outcomes
    calendar = PlanCalendar(plans)
    start = calendar.first_day
    by_day = {e.day: e for e in entries if e.day <= as_of.isoformat()}  # one entry a day: the last
    kept = [by_day[d] for d in sorted(by_day)]
    gaps: list[str] = []

    baseline, basis = _baseline(k, plans, kept, start, gaps)
    window_start = as_of - timedelta(days=o.window_days - 1)
    on_treatment_from = max(window_start, start) if start else window_start
    recent = [e.pain for e in kept if on_treatment_from.isoformat() <= e.day]
    recent_avg = round(fmean(recent), 1) if len(recent) >= o.min_entries_in_window else None
    if start is None:
        gaps.append("No plan yet: outcomes are measured from the first day of a plan.")
    elif recent_avg is None:
        gaps.append(
            f"Recent average: {len(recent)} of the last {o.window_days} days recorded on treatment; "
            f"at least {o.min_entries_in_window} are needed."
        )

    change = None
    if baseline is not None and recent_avg is not None:
        if baseline == 0:
            gaps.append("Baseline pain is 0, so a percentage change cannot be worked out.")
        else:
            change = round((baseline - recent_avg) / baseline * 100, 1)
    category = category_of(k, change)

    daily_mg = _dose_level(calendar, as_of) if start and as_of >= start else None
    days_at = _days_at_dose(calendar, as_of, daily_mg) if daily_mg else None
    daily_mg = daily_mg or None

    taken, scheduled = _adherence(calendar, kept, start)
    adherence = round(100 * taken / scheduled, 1) if scheduled else None
    if adherence is None:
        gaps.append("Adherence: no diary day records the doses taken on a day with planned doses.")

    side = _side_effects(k, [e for e in kept if start is None or e.day >= start.isoformat()])
    flags = tuple(
        RedFlagDay(
            day=e.day,
            flags=e.red_flags,
            labels=tuple(k.red_flag_by_id[f].label for f in e.red_flags),
        )
        for e in kept
        if e.red_flags
    )
    points = _talking_points(
        k, baseline, recent_avg, change, category, daily_mg, days_at, taken, scheduled, side, flags
    )
    cites = tuple(dict.fromkeys(c for p in points for c in p.citations))
    return Outcomes(
        as_of=as_of.isoformat(),
        entries=len(kept),
        baseline_pain=baseline,
        baseline_basis=basis,
        recent_average=recent_avg,
        recent_entries=len(recent),
        window=(window_start.isoformat(), as_of.isoformat()),
        change_pct=change,
        category=category[0] if category else None,
        category_label=category[1] if category else None,
        daily_mg=daily_mg,
        days_at_dose=days_at,
        adherence_pct=adherence,
        doses_taken=taken,
        doses_scheduled=scheduled,
        side_effects=side,
        red_flag_days=flags,
        gaps=tuple(gaps),
        talking_points=points,
        citations=cites,
    )


def _baseline(
    k: Knowledge,
    plans: Sequence[PersonalPlan],
    kept: Sequence[DiaryEntry],
    start: date | None,
    gaps: list[str],
) -> tuple[float | None, str | None]:
    entered = next((p.baseline_pain for p in plans if p.baseline_pain is not None), None)
    if entered is not None:
        return float(entered), "entered when the plan was made"
    if start is None:
        return None, None
    first = (start - timedelta(days=k.diary.outcomes.baseline_days_before_start)).isoformat()
    before = [e.pain for e in kept if first <= e.day < start.isoformat()]
    if before:
        n = len(before)
        return round(fmean(before), 1), f"mean of {n} diary day{'s' * (n != 1)} before day 1"
    gaps.append(
        "No baseline: no usual pain was entered with the plan and no diary days were recorded in "
        f"the {k.diary.outcomes.baseline_days_before_start} days before day 1, so the change "
        "from baseline is not worked out (it is never guessed)."
    )
    return None, None


def category_of(
    k: Knowledge, change_pct: float | None
) -> tuple[str, str, tuple[Citation, ...]] | None:
    """The IMMPACT category of a pain reduction in percent (None when there is no change)."""
    if change_pct is None:
        return None
    o = k.diary.outcomes
    for c in o.categories:
        if change_pct >= c.min_reduction_pct:
            return c.id, c.label, c.cite
    return o.below.id, o.below.label, o.below.cite


def _dose_level(calendar: PlanCalendar, day: date) -> float:
    """The plan's mg/day on ``day``, averaged over its regimen's cycle (a dose every other day
    counts half), so that a regimen that does not change has one level every day."""
    i = calendar.plan_on(day)
    cycle = calendar.plans[i].cycle_days if i is not None else 1
    total = sum(calendar.planned(day - timedelta(days=n)).daily_mg for n in range(cycle))
    return round(total / cycle, 3)


def _days_at_dose(calendar: PlanCalendar, as_of: date, level: float) -> int:
    """Days, counting back from ``as_of``, at the same dose level (from day 1 at the most)."""
    first = calendar.first_day
    assert first is not None
    n, day = 0, as_of
    while day >= first and _dose_level(calendar, day) == level:
        n += 1
        day -= timedelta(days=1)
    return n


def _adherence(
    calendar: PlanCalendar, kept: Sequence[DiaryEntry], start: date | None
) -> tuple[int, int]:
    taken = scheduled = 0
    for e in kept:
        if e.doses_taken is None or start is None or e.day < start.isoformat():
            continue
        planned = calendar.planned(date.fromisoformat(e.day)).doses
        taken += min(e.doses_taken, planned)
        scheduled += planned
    return taken, scheduled


def _side_effects(k: Knowledge, kept: Sequence[DiaryEntry]) -> tuple[SideEffectCount, ...]:
    counts = Counter(s for e in kept for s in dict.fromkeys(e.side_effects))
    return tuple(
        SideEffectCount(
            id=sid,
            label=k.side_effect_by_id[sid].label,
            days=n,
            citations=side_effect_citations(k, sid),
        )
        for sid, n in counts.most_common()
    )


def _talking_points(
    k: Knowledge,
    baseline: float | None,
    recent: float | None,
    change: float | None,
    category: tuple[str, str, tuple[Citation, ...]] | None,
    daily_mg: float | None,
    days_at: int | None,
    taken: int,
    scheduled: int,
    side: Sequence[SideEffectCount],
    flags: Sequence[RedFlagDay],
) -> tuple[Advice, ...]:
    d = k.diary
    scale = d.scales.pain
    points = []
    if flags:
        labels = sorted({label for f in flags for label in f.labels})
        when = ", ".join(f.day for f in flags)
        points.append(
            Advice(
                text=f"Red flags were recorded on {when}: {'; '.join(labels)}. Make sure your "
                "prescriber has heard about each of them.",
                citations=tuple(
                    dict.fromkeys(
                        c for f in flags for fid in f.flags for c in red_flag_citations(k, fid)
                    )
                ),
            )
        )
    if change is not None and category is not None and baseline is not None and recent is not None:
        direction = "down" if change >= 0 else "up"
        points.append(
            Advice(
                text=f"Pain is {direction} {abs(change):g}% from baseline ({baseline:g} to "
                f"{recent:g} on the {scale.min}-{scale.max} scale): {category[1]} by the IMMPACT "
                "benchmarks.",
                citations=category[2],
            )
        )
    if daily_mg is not None and days_at is not None:
        weeks = d.outcomes.trial.fixed_dose_weeks
        held = "less than" if days_at < weeks * 7 else "at least"
        points.append(
            Advice(
                text=f"The plan's dose has been {daily_mg:g} mg/day for {days_at} day"
                f"{'s' * (days_at != 1)}: {held} the {weeks} weeks at a fixed dose of the label's "
                f"trials. {d.outcomes.trial.explanation}",
                citations=d.outcomes.trial.cite,
            )
        )
    if scheduled and taken < scheduled:
        points.append(
            Advice(
                text=f"Doses taken: {taken} of {scheduled} planned on the days recorded "
                f"({100 * taken / scheduled:.0f}%). Missed doses make the effect harder to judge: "
                "tell your prescriber.",
                citations=(),
            )
        )
    if side:
        listed = ", ".join(f"{s.label.lower()} ({s.days} day{'s' * (s.days != 1)})" for s in side)
        points.append(
            Advice(
                text=f"Side effects recorded: {listed}.",
                citations=tuple(dict.fromkeys(c for s in side for c in s.citations)),
            )
        )
    points.append(Advice(text=d.never_self_adjust.instruction, citations=d.never_self_adjust.cite))
    return tuple(points)
