"""Diary entries: input validation, scales and checklist ids against the knowledge base, and red-flag
alerts (emergencies first, cited)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from gabaguide import InputError, Knowledge, load_knowledge
from gabaguide.clinical.diary import check_entry, red_flag_alerts
from gabaguide.records import NOTE_MAX_CHARS, DiaryEntry

K = load_knowledge()
DAY = "2026-03-01"


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"pain": 0}, id="pain-0"),
        pytest.param({"pain": 10, "sleep_interference": 10}, id="top-of-both-scales"),
        pytest.param({"pain": 5, "sleep_interference": 0, "doses_taken": 3}, id="usual"),
        pytest.param(
            {"pain": 3, "side_effects": ("dizziness", "dry-mouth"), "red_flags": ("mood-change",)},
            id="checklist-ids",
        ),
        pytest.param({"pain": 4, "note": "x" * NOTE_MAX_CHARS}, id="longest-note"),
    ],
)
def test_check_entry_accepts(k: Knowledge, fields: dict[str, Any]) -> None:
    entry = DiaryEntry(day=DAY, **fields)
    assert check_entry(k, entry) is entry


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        # Scales 0-10 (IMMPACT Table 1; GG-DECISIONS D16 for sleep)
        pytest.param({"pain": 11}, [("pain", "from 0 to 10", "got 11")], id="pain-11"),
        pytest.param({"pain": -1}, [("pain", "from 0 to 10", "got -1")], id="pain-negative"),
        pytest.param(
            {"pain": 5, "sleep_interference": 12},
            [("sleep_interference", "from 0 to 10", "got 12")],
            id="sleep-12",
        ),
        pytest.param(
            {"pain": 99, "sleep_interference": -3},
            [("pain", "from 0 to 10", "got 99"), ("sleep_interference", "from 0 to 10", "got -3")],
            id="both-scales",
        ),
        pytest.param(
            {"pain": 5, "side_effects": ("dizziness", "headache", "hiccups")},
            [("side_effects", "'headache'", "'hiccups'")],
            id="unknown-side-effects-one-message",
        ),
        pytest.param(
            {"pain": 5, "red_flags": ("chest-pain",)},
            [("red_flags", "'chest-pain'", "allowed: ")],
            id="unknown-red-flag",
        ),
        pytest.param(
            {"pain": 20, "side_effects": ("itch",), "red_flags": ("x",)},
            [("pain", "from 0 to 10"), ("side_effects", "'itch'"), ("red_flags", "'x'")],
            id="three-problems",
        ),
    ],
)
def test_check_entry_rejects_one_message_per_problem(
    k: Knowledge, fields: dict[str, Any], problems: list[tuple[str, ...]]
) -> None:
    with pytest.raises(InputError) as info:
        check_entry(k, DiaryEntry(day=DAY, **fields))
    got = info.value.problems
    assert len(got) == len(problems), got
    for message, (field, *parts) in zip(got, problems, strict=True):
        assert message.startswith(f"{field}:"), message
        for part in parts:
            assert part in message, message


def test_unknown_id_message_lists_what_is_allowed(k: Knowledge) -> None:
    with pytest.raises(InputError) as info:
        check_entry(k, DiaryEntry(day=DAY, pain=1, side_effects=("headache",)))
    (message,) = info.value.problems
    assert all(s.id in message for s in k.diary.side_effects)


@given(st.integers(-20, 30), st.one_of(st.none(), st.integers(-20, 30)))
def test_check_entry_scales(pain: int, sleep: int | None) -> None:
    entry = DiaryEntry(day=DAY, pain=pain, sleep_interference=sleep)
    bad = [
        name
        for name, value, scale in (
            ("pain", pain, K.diary.scales.pain),
            ("sleep_interference", sleep, K.diary.scales.sleep_interference),
        )
        if value is not None and not scale.min <= value <= scale.max
    ]
    if not bad:
        assert check_entry(K, entry) is entry
        return
    with pytest.raises(InputError) as info:
        check_entry(K, entry)
    assert [p.split(":")[0] for p in info.value.problems] == bad


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        pytest.param({"day": "2026-02-30", "pain": 3}, "day", id="no-30-february"),
        pytest.param({"day": "2026-13-01", "pain": 3}, "day", id="month-13"),
        pytest.param({"day": "1 March 2026", "pain": 3}, "day", id="not-iso"),
        pytest.param({"day": DAY, "pain": 3, "mood": 2}, "mood", id="unknown-field"),
        pytest.param({"day": DAY, "pain": "3"}, "pain", id="pain-as-text"),
        pytest.param({"day": DAY, "pain": 3.5}, "pain", id="pain-not-whole"),
        pytest.param({"day": DAY, "pain": 3, "doses_taken": 25}, "doses_taken", id="doses-25"),
        pytest.param({"day": DAY, "pain": 3, "doses_taken": -1}, "doses_taken", id="doses-neg"),
        pytest.param(
            {"day": DAY, "pain": 3, "note": "x" * (NOTE_MAX_CHARS + 1)}, "note", id="note-too-long"
        ),
        pytest.param({"day": DAY, "pain": 3, "side_effects": ("",)}, "side_effects", id="empty-id"),
        pytest.param({"pain": 3}, "day", id="no-day"),
    ],
)
def test_diary_entry_rejects(fields: dict[str, Any], where: str) -> None:
    with pytest.raises(ValidationError) as info:
        DiaryEntry.model_validate(fields)
    assert {str(e["loc"][0]) for e in info.value.errors()} == {where}


def test_diary_entry_is_frozen() -> None:
    entry = DiaryEntry(day=DAY, pain=3)
    with pytest.raises(ValidationError):
        entry.pain = 4


# --- red flags -------------------------------------------------------------------------------------


def test_red_flag_alerts_emergencies_first_without_duplicates(k: Knowledge) -> None:
    reported = ["mood-change", "slow-breathing", "mood-change", "rash-fever", "suicidal-thoughts"]
    alerts = red_flag_alerts(k, reported)
    # emergencies in the order reported, then the call-prescriber flags in the order reported
    assert [a.id for a in alerts] == [
        "slow-breathing",
        "suicidal-thoughts",
        "mood-change",
        "rash-fever",
    ]
    assert [a.action for a in alerts] == [
        "emergency",
        "emergency",
        "call-prescriber",
        "call-prescriber",
    ]


def test_no_red_flags_no_alerts(k: Knowledge) -> None:
    assert red_flag_alerts(k, []) == ()


@pytest.mark.parametrize("flag", [f.id for f in K.diary.red_flags])
def test_every_red_flag_alert_is_cited_and_says_what_to_do(k: Knowledge, flag: str) -> None:
    (alert,) = red_flag_alerts(k, [flag])
    known = k.red_flag_by_id[flag]
    assert (alert.label, alert.action, alert.instruction) == (
        known.label,
        known.action,
        known.instruction,
    )
    assert alert.instruction.strip()
    assert alert.citations
    assert all(c.source in k.source_by_id for c in alert.citations)
    assert len(set(alert.citations)) == len(alert.citations)
    if alert.action == "emergency":
        # an emergency number, for the US and elsewhere
        assert "911" in alert.instruction
        assert "emergency number" in alert.instruction


@given(st.lists(st.sampled_from([f.id for f in K.diary.red_flags]), max_size=12))
def test_red_flag_alerts_any_report(flags: list[str]) -> None:
    alerts = red_flag_alerts(K, flags)
    assert sorted(a.id for a in alerts) == sorted(set(flags))
    actions = [a.action for a in alerts]
    assert actions == sorted(actions, key=["emergency", "call-prescriber"].index)
