"""The diary pages over HTTP: entries checked through the form (a bad value is named and nothing is
saved), red flags answered at once with the knowledge base's instruction, the plan from a
prescription, the report (change, IMMPACT category, talking points — never a dose change), the
calendar download and the private feed, whose token stays out of the access log."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from gabaguide import load_knowledge
from tests.diarycases import FORBIDDEN
from tests.web.conftest import LiveServer, _free_port
from tests.web.users import (
    User,
    add_entry,
    by_id,
    export,
    make_plan,
    new_email,
    new_feed,
    post_form,
    server_today,
    signup,
    user,
)

K = load_knowledge()


@pytest.fixture
def patient(live_server: LiveServer) -> Iterator[User]:
    with user(live_server.url) as p:
        yield p


def today(p: User) -> date:
    return date.fromisoformat(server_today(p.client))


def problems(html: str) -> str:
    found = by_id(html, "form-errors")
    return found.text if found else ""


# --- entries --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"pain": "11"}, "pain", id="pain-above-scale"),
        pytest.param({"pain": "-1"}, "pain", id="pain-below-scale"),
        pytest.param({"pain": "x"}, "pain", id="pain-not-a-number"),
        pytest.param({"pain": ""}, "pain", id="pain-missing"),
        pytest.param({"sleep_interference": "11"}, "sleep_interference", id="sleep-above-scale"),
        pytest.param({"doses_taken": "two"}, "doses_taken", id="doses-not-a-number"),
        pytest.param({"doses_taken": "25"}, "doses_taken", id="doses-above-24"),
        pytest.param({"side_effects": ["dizziness", "nope"]}, "side_effects", id="unknown-effect"),
        pytest.param({"red_flags": ["nope"]}, "red_flags", id="unknown-red-flag"),
        pytest.param({"day": "+1"}, "day", id="future-day"),
        pytest.param({"day": "2025-02-30"}, "day", id="no-such-day"),
        pytest.param({"note": "x" * 501}, "note", id="note-too-long"),
    ],
)
def test_a_bad_entry_is_named_and_nothing_is_saved(
    patient: User, changes: dict[str, str | list[str]], field: str
) -> None:
    data: dict[str, str | list[str]] = {"day": today(patient).isoformat(), "pain": "4"}
    data |= changes
    if data["day"] == "+1":
        data["day"] = (today(patient) + timedelta(days=1)).isoformat()
    r = post_form(patient.client, "/diary", "/diary/entries", data)
    assert r.status_code == 422
    assert re.search(rf"\b{field}\b", problems(r.text)), problems(r.text)
    assert by_id(r.text, "red-flag-alert") is None
    typed = by_id(r.text, field)
    if typed is not None and typed.tag == "input":
        assert typed.attrs["value"] == data[field], "the form keeps what was typed"
    assert export(patient.client)["diary"] == []


# A form: the page that shows it, where it posts, and the fields of a valid submission.
ENTRY = ("/diary", "/diary/entries", ("day", "pain"))
PLAN = ("/diary/plan", "/diary/plan", ("product", "dose_mg", "times_per_day", "start_date"))


@pytest.mark.parametrize(
    ("form", "changes", "field"),
    [
        pytest.param(ENTRY, {"pain": "11"}, "pain", id="entry-pain-above-scale"),
        pytest.param(ENTRY, {"pain": "x"}, "pain", id="entry-pain-not-a-number"),
        pytest.param(ENTRY, {"sleep_interference": "11"}, "sleep_interference", id="entry-sleep"),
        pytest.param(ENTRY, {"doses_taken": "two"}, "doses_taken", id="entry-doses-not-a-number"),
        pytest.param(ENTRY, {"day": "+1"}, "day", id="entry-future-day"),
        pytest.param(
            ENTRY,
            {"doses_taken": "25"},
            "doses_taken",
            id="entry-doses-above-24",
        ),
        pytest.param(
            ENTRY,
            {"day": "2025-02-30"},
            "day",
            id="entry-no-such-day",
        ),
        pytest.param(PLAN, {"baseline_pain": "11"}, "baseline_pain", id="plan-baseline"),
        pytest.param(
            PLAN,
            {"start_date": "2025-13-01"},
            "start_date",
            id="plan-no-such-start",
        ),
        pytest.param(
            PLAN,
            {"dose_mg": "0"},
            "dose_mg",
            id="plan-zero-mg",
        ),
    ],
)
def test_the_bad_field_is_marked_invalid(
    patient: User, form: tuple[str, str, tuple[str, ...]], changes: dict[str, str], field: str
) -> None:
    """Screen readers announce which field to fix: the input named in the problem is marked."""
    now = today(patient)
    valid = {"day": now.isoformat(), "pain": "4", "start_date": now.isoformat()}
    valid |= {"product": "gabapentin", "dose_mg": "400", "times_per_day": "3"}
    data = {name: valid[name] for name in form[2]} | changes
    if data.get("day") == "+1":
        data["day"] = (now + timedelta(days=1)).isoformat()
    page, action, _ = form
    r = post_form(patient.client, page, action, data)
    assert r.status_code == 422
    typed = by_id(r.text, field)
    assert typed is not None
    assert typed.attrs.get("aria-invalid") == "true", problems(r.text)


def test_saving_a_day_again_replaces_it(patient: User) -> None:
    day = (today(patient) - timedelta(days=1)).isoformat()
    first = add_entry(patient.client, day, 6, side_effects=["dizziness"], note="first")
    assert (first.status_code, first.headers["location"]) == (303, f"/diary?saved={day}")
    assert add_entry(patient.client, day, 3, note="second").status_code == 303
    diary = export(patient.client)["diary"]
    assert len(diary) == 1
    assert (diary[0]["pain"], diary[0]["side_effects"], diary[0]["note"]) == (3, [], "second")
    page = patient.client.get(f"/diary?day={day}").text
    pain = by_id(page, "pain")
    assert pain is not None
    assert pain.attrs["value"] == "3"


# --- red flags ------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag_id", [f.id for f in K.diary.red_flags])
def test_a_red_flag_is_answered_at_once_and_flagged(patient: User, flag_id: str) -> None:
    flag = K.red_flag_by_id[flag_id]
    day = (today(patient) - timedelta(days=1)).isoformat()
    r = add_entry(patient.client, day, 5, red_flags=[flag.id])
    assert r.status_code == 200
    alert = by_id(r.text, "red-flag-alert")
    assert alert is not None
    assert alert.attrs["role"] == "alert"
    assert flag.instruction in alert.text
    if flag.action == "emergency":
        assert f"Emergency: {flag.label}" in alert.text
        assert re.search(r"emergency number \(911 in the US\)", alert.text), alert.text
    else:
        assert f"Contact your prescriber now: {flag.label}" in alert.text
    assert [e["red_flags"] for e in export(patient.client)["diary"]] == [[flag.id]]

    banner = by_id(patient.client.get("/diary").text, "flag-banner")
    assert banner is not None
    assert f"{day} ({flag.label})" in banner.text
    report = by_id(patient.client.get("/diary/report").text, "report-flags")
    assert report is not None
    assert f"{day}: {flag.label}" in report.text


def test_emergencies_come_first(patient: User) -> None:
    day = today(patient).isoformat()
    r = add_entry(patient.client, day, 5, red_flags=["rash-fever", "slow-breathing"])
    assert r.status_code == 200
    headings = re.findall(r"<h2>(.*?)</h2>", r.text)
    assert headings[0].startswith("🚨 Emergency:"), headings
    assert headings[1].startswith("☎ Contact your prescriber now:"), headings


# --- plans ----------------------------------------------------------------------------------------


def test_a_plan_from_a_prescription_shows_todays_doses(patient: User) -> None:
    make_plan(patient.client, dose_mg="400", times_per_day="3")
    doses = by_id(patient.client.get("/diary").text, "today-doses")
    assert doses is not None
    assert doses.text.count("400 mg (1 \N{MULTIPLICATION SIGN} 400 mg capsule)") == 3, doses.text
    plan = patient.client.get("/diary/plan").text
    assert "Keeps 1200 mg a day" in plan


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"dose_mg": "0"}, "current_regimen.dose_mg", id="zero-mg"),
        pytest.param({"dose_mg": "-400"}, "current_regimen.dose_mg", id="negative-mg"),
        pytest.param({"dose_mg": "20000"}, "current_regimen.dose_mg", id="over-10-g"),
        pytest.param({"dose_mg": "lots"}, "current_regimen.dose_mg", id="not-a-number"),
        pytest.param({"times_per_day": "9"}, "current_regimen.times_per_day", id="9-a-day"),
        pytest.param({"product": "aspirin"}, "current_regimen.product", id="unknown-product"),
        pytest.param({"baseline_pain": "11"}, "baseline_pain", id="baseline-above-scale"),
        pytest.param({"start_date": "2025-13-01"}, "start_date", id="no-such-start"),
    ],
)
def test_an_impossible_prescription_is_named_and_no_plan_is_made(
    patient: User, changes: dict[str, str], field: str
) -> None:
    data = {"product": "gabapentin", "dose_mg": "400", "times_per_day": "3"}
    data |= {"start_date": today(patient).isoformat()} | changes
    r = post_form(patient.client, "/diary/plan", "/diary/plan", data)
    assert r.status_code == 422
    assert field in problems(r.text), problems(r.text)
    assert export(patient.client)["plans"] == []


# --- the report -----------------------------------------------------------------------------------


def test_the_report_shows_the_change_its_category_and_talking_points(patient: User) -> None:
    now = today(patient)
    make_plan(
        patient.client,
        dose_mg="300",
        times_per_day="3",
        start_date=(now - timedelta(days=10)).isoformat(),
        baseline_pain="7",
    )
    # Baseline 7; the last 7 days' mean of 6, 5, 4, 4 = 4.75, shown as 4.8: (7 - 4.8) / 7 = 31.4%
    # less pain, at least 30%: IMMPACT "moderately important improvement" (diary.toml).
    for ago, pain in ((3, 6), (2, 5), (1, 4), (0, 4)):
        day = (now - timedelta(days=ago)).isoformat()
        assert add_entry(patient.client, day, pain, doses_taken="3").status_code == 303
    r = patient.client.get("/diary/report")
    assert r.status_code == 200
    moderate = next(c for c in K.diary.outcomes.categories if c.id == "moderate")
    change = by_id(r.text, "change")
    assert change is not None
    assert change.text == f"31.4% less pain: {moderate.label}"
    points = by_id(r.text, "talking-points")
    assert points is not None
    assert f"Pain is down 31.4% from baseline (7 to 4.8 on the 0-10 scale): {moderate.label}" in (
        points.text
    )
    assert K.diary.never_self_adjust.instruction in points.text
    page = r.text.lower()
    for phrase in FORBIDDEN:
        assert phrase not in page, phrase


# --- calendars ------------------------------------------------------------------------------------


def test_the_calendar_download_has_the_dose_events(patient: User) -> None:
    assert patient.client.get("/diary/schedule.ics").status_code == 404, "no plan yet"
    make_plan(patient.client, dose_mg="400", times_per_day="3")
    r = patient.client.get("/diary/schedule.ics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/calendar")
    assert r.headers["content-disposition"].startswith("attachment")
    # Today and 90 days ahead, three doses a day (the plan starts today).
    assert r.text.count("BEGIN:VEVENT") == 3 * 91
    assert "SUMMARY:Gabapentin immediate release 400 mg" in r.text


def test_the_feed_needs_no_session_and_stops_when_revoked(patient: User) -> None:
    make_plan(patient.client)
    url = new_feed(patient.client)
    with httpx.Client() as calendar_app:
        r = calendar_app.get(url)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/calendar")
        assert "content-disposition" not in r.headers
        assert "BEGIN:VEVENT" in r.text
        revoked = post_form(patient.client, "/diary/plan", "/diary/calendar/revoke", {})
        assert revoked.status_code == 303
        assert calendar_app.get(url).status_code == 404


def test_the_access_log_keeps_feed_tokens_out(tmp_path: Path) -> None:
    """`gabaguide serve` (the real access log): a feed request is logged without its token."""
    port = _free_port()
    env = os.environ | {
        "GABAGUIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "GABAGUIDE_LOAD_DEMO": "false",
    }
    command = [sys.executable, "-c", "from gabaguide.cli import main; main()", "serve"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/healthz")
                break
            except httpx.ConnectError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=60) as c:
            signup(c, new_email())
            make_plan(c)
            feed = new_feed(c)
            assert httpx.get(feed).status_code == 200
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    token = feed.rsplit("/", 1)[-1].removesuffix(".ics")
    assert '"GET /calendar/<token> HTTP/1.1" 200' in out, out[-3000:]
    assert token not in out
