"""Diary entries against the knowledge base: scales and checklist ids, and the red flags that must
be answered at once with a plain instruction."""

from __future__ import annotations

from collections.abc import Iterable

from gabaguide.domain import Citation
from gabaguide.errors import InputError
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.diaryfile import Scale
from gabaguide.records import DiaryEntry, RedFlagAlert

ACTION_ORDER = {"emergency": 0, "call-prescriber": 1}


def check_entry(k: Knowledge, entry: DiaryEntry) -> DiaryEntry:
    """The entry, if its scores are on the diary's scales and its ids are known; InputError with
    one sentence per problem, naming the field and what is allowed, otherwise."""
    scales = k.diary.scales
    problems = [
        *scale_problems("pain", scales.pain, entry.pain),
        *scale_problems("sleep_interference", scales.sleep_interference, entry.sleep_interference),
    ]
    for field, known, given in (
        ("side_effects", k.side_effect_by_id, entry.side_effects),
        ("red_flags", k.red_flag_by_id, entry.red_flags),
    ):
        unknown = [x for x in given if x not in known]
        if unknown:
            problems.append(
                f"{field}: unknown id(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(known)}"
            )
    if problems:
        raise InputError(problems)
    return entry


def scale_problems(field: str, scale: Scale, value: int | None) -> list[str]:
    """The problem with a score off its scale (none for a score on it, or no score)."""
    if value is None or scale.min <= value <= scale.max:
        return []
    return [f"{field}: must be a whole number from {scale.min} to {scale.max}; got {value}"]


def red_flag_alerts(k: Knowledge, flags: Iterable[str]) -> tuple[RedFlagAlert, ...]:
    """What to do now about each red flag reported, emergencies first."""
    alerts = []
    for fid in dict.fromkeys(flags):
        flag = k.red_flag_by_id[fid]
        alerts.append(
            RedFlagAlert(
                id=flag.id,
                label=flag.label,
                action=flag.action,
                instruction=flag.instruction,
                citations=red_flag_citations(k, fid),
            )
        )
    return tuple(sorted(alerts, key=lambda a: ACTION_ORDER[a.action]))


def red_flag_citations(k: Knowledge, flag_id: str) -> tuple[Citation, ...]:
    flag = k.red_flag_by_id[flag_id]
    return _unique(c for sid in flag.statements for c in k.statement_by_id[sid].cite)


def side_effect_citations(k: Knowledge, side_effect_id: str) -> tuple[Citation, ...]:
    item = k.side_effect_by_id[side_effect_id]
    return _unique(c for rid in item.reactions for c in k.adverse_reaction_by_id[rid].cite)


def _unique(cites: Iterable[Citation]) -> tuple[Citation, ...]:
    return tuple(dict.fromkeys(cites))
