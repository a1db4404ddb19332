"""The patient diary in a real browser: Debian's Chromium driven by Playwright against the live server.

One patient's month, as they would click through it: sign up, make the plan from the prescription,
record the days (one with a red flag, which is answered at once with the emergency instruction),
then open the report for the next visit and print it. Screenshots go to ``artifacts/screenshots/``
(``diary-*.png``).

The tests run on a pinned day, the 5th of a month, for the server and the browser alike: a day of the
month below 10 is where a zero-padded chart label ("Dec 05, 2026") would show, so the case is tested
on every day CI runs, not only on the 1st to the 9th.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from gabaguide.interop.diarycharts import DAY_FORMAT
from gabaguide.web import diary as diary_pages
from tests.web.conftest import LiveServer
from tests.web.test_browser import (
    CHART_TIMEOUT_MS,
    DESKTOP,
    SCREENSHOTS,
    Problems,
    browser,  # noqa: F401 - the module's Chromium, shared fixture
)

PASSWORD = "correct horse battery"
TODAY = date(2026, 12, 5)
"""The diary's "today" in these tests (see ``on_the_fifth``); the plan starts 10 days before, in the
month before, so the dose chart spans both one- and two-digit days."""
# The prescription as written: gabapentin 300 mg three times a day, started 10 days ago, with the
# usual pain of the week before starting.
PRESCRIPTION = {
    "product": "gabapentin",
    "dose_mg": "300",
    "times_per_day": "3",
    "start_date": (TODAY - timedelta(days=10)).isoformat(),
    "baseline_pain": "7",
}
# The diary days: (days ago, pain, side effects ticked, red flags ticked). The report needs at
# least 4 days in the last 7 for a recent average (diary.toml [outcomes] min_entries_in_window), so
# a fourth day follows the three of the story.
DAYS = [
    (3, 6, ["Dizziness", "Drowsiness or sleepiness"], []),
    (2, 5, ["Dizziness"], ["Slow, shallow or difficult breathing"]),
    (1, 4, ["Drowsiness or sleepiness"], []),
    (0, 4, [], []),
]
# Baseline 7 (entered with the plan); recent mean of 6, 5, 4, 4 = 4.8 (rounded to 0.1):
# (7 - 4.8) / 7 = 31.4% less pain, at least 30%: IMMPACT "moderately important improvement".
CHANGE = "31.4% less pain: moderately important improvement"
EMERGENCY = "Call your local emergency number (911 in the US) now"


@pytest.fixture(autouse=True)
def on_the_fifth(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server's diary "today" is ``TODAY``. The live server runs in this process
    (tests/web/conftest.py), and every diary route reads the date through ``gabaguide.web.diary.today``:
    the routes, the form's checks and the report run as they would on that day."""
    monkeypatch.setattr(diary_pages, "today", lambda: TODAY)


def new_context(browser: Browser, live_server: LiveServer, timezone_id: str) -> BrowserContext:  # noqa: F811
    """A browser context whose clock reads ``TODAY`` (at noon UTC, the same calendar day in the
    Americas and in Europe), like the server's, and then runs on (timers fire: the charts draw)."""
    ctx = browser.new_context(base_url=live_server.url, viewport=DESKTOP, timezone_id=timezone_id)
    ctx.clock.install(time=datetime.combine(TODAY, time(12), tzinfo=UTC))
    ctx.set_default_timeout(CHART_TIMEOUT_MS)
    return ctx


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:  # noqa: F811
    # UTC: the flow does not depend on the test machine's zone (the west-of-UTC test below checks
    # that the chart's days do not either).
    ctx = new_context(browser, live_server, "UTC")
    yield ctx
    ctx.close()


def shoot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"diary-{name}.png"
    path.unlink(missing_ok=True)
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0, path
    return path


def sign_up(page: Page) -> str:
    email = f"patient-{uuid.uuid4().hex[:12]}@example.org"
    page.goto("/signup")
    page.locator("#email").fill(email)
    page.locator("#password").fill(PASSWORD)
    page.locator("#password_again").fill(PASSWORD)
    page.locator('input[name=role][value="patient"]').check()
    with page.expect_navigation():
        page.locator("#signup").click()
    expect(page).to_have_url(re.compile(r"/diary$"))
    expect(page.locator("h1")).to_have_text("My diary")
    return email


def make_plan(page: Page) -> None:
    page.goto("/diary/plan")
    page.locator("#product").select_option(PRESCRIPTION["product"])
    for name in ("dose_mg", "times_per_day", "start_date", "baseline_pain"):
        page.locator(f"#{name}").fill(PRESCRIPTION[name])
    with page.expect_navigation():
        page.locator("#make-plan").click()
    expect(page).to_have_url(re.compile(r"/diary/plan#plans$"))
    plan = page.locator("article.plan")
    expect(plan).to_have_count(1)
    expect(plan.locator("h3")).to_contain_text(f"from {PRESCRIPTION['start_date']}")
    expect(plan).to_contain_text("900 mg a day")


def record_day(page: Page, ago: int, pain: int, side_effects: list[str], flags: list[str]) -> str:
    day = (TODAY - timedelta(days=ago)).isoformat()
    page.goto("/diary")
    page.locator("#day").fill(day)
    page.locator("#pain").fill(str(pain))
    page.locator("#doses_taken").fill("3")
    for label in side_effects:
        page.locator("fieldset").filter(has_text="Side effects").get_by_label(label).check()
    for label in flags:
        page.locator("fieldset.red-flags").get_by_label(label).check()
    page.locator("#note").fill(f"day {ago} days ago")
    with page.expect_navigation() as navigation:
        page.locator("#save-entry").click()
    response = navigation.value
    assert response is not None
    assert response.status == 200, (day, response.status)
    return day


def chart_days(page: Page, chart: str) -> set[str]:
    """The days the chart's marks name (Vega's SVG marks carry "Date: Nov 21, 2026; ..." labels)."""
    page.wait_for_selector(f"{chart}[data-rendered]", state="attached")
    expect(page.locator(chart)).to_have_attribute("data-rendered", "true")
    labels: list[str] = page.locator(f"{chart} svg path[aria-label]").evaluate_all(
        "marks => marks.map(m => m.getAttribute('aria-label'))"
    )
    return {m.group(1) for label in labels if (m := re.match(r"Date: (\w+ \d+, \d{4});", label))}


def shown(day: str) -> str:
    """A diary day as the charts name it: the charts' own format (``DAY_FORMAT``, a d3-time-format
    string; Python's ``strftime`` reads it alike on glibc and BSD, ``%-d`` included)."""
    return date.fromisoformat(day).strftime(DAY_FORMAT)


@pytest.mark.parametrize(
    ("day", "label"),
    [("2026-12-05", "Dec 5, 2026"), ("2026-11-25", "Nov 25, 2026")],
    ids=["one-digit day", "two-digit day"],
)
def test_the_charts_name_a_day_by_month_in_words_and_an_unpadded_day(day: str, label: str) -> None:
    """Pins the rule the browser tests compare with: "Dec 5, 2026", never "Dec 05, 2026"."""
    assert shown(day) == label


def test_a_patient_plans_records_gets_the_alert_and_prints_the_report(
    context: BrowserContext,
) -> None:
    """From sign-up to the printed report: the red flag is answered at once with the emergency
    instruction, and the report shows the change from baseline, the talking points, the red flag
    and the drawn pain chart; printing hides the navigation and the print button."""
    problems = Problems()
    page = problems.watch(context.new_page())
    email = sign_up(page)
    shoot(page, "empty")
    make_plan(page)
    shoot(page, "plan")

    flagged_day, days = "", []
    for ago, pain, side_effects, flags in DAYS:
        day = record_day(page, ago, pain, side_effects, flags)
        days.append(day)
        if flags:
            flagged_day = day
            alert = page.get_by_role("alert")
            expect(alert).to_have_count(1)
            expect(alert).to_contain_text("Act now")
            expect(alert).to_contain_text(f"Your diary for {day} is saved")
            expect(alert.locator("section.alert-emergency h2")).to_contain_text(
                "Emergency: Slow, shallow or difficult breathing"
            )
            expect(alert.locator(".instruction")).to_contain_text(EMERGENCY)
            expect(alert.locator("a.cite").first).to_be_visible()
            shoot(page, "alert")
        else:
            expect(page).to_have_url(re.compile(rf"/diary\?saved={day}$"))
            expect(page.locator("#saved")).to_have_text(f"Saved your diary for {day}.")
    expect(page.locator("#recent tbody tr")).to_have_count(len(DAYS))
    expect(page.locator("#flag-banner")).to_contain_text(flagged_day)
    shoot(page, "home")

    page.goto("/diary/report")
    expect(page.locator("h1")).to_have_text("Pain diary report")
    expect(page.locator(".report-head")).to_contain_text(email)
    expect(page.locator("#change")).to_have_text(CHANGE)
    expect(page.locator("#report-flags")).to_contain_text(
        f"{flagged_day}: Slow, shallow or difficult breathing"
    )
    points = page.locator("#talking-points li")
    assert points.count() >= 2, points.all_inner_texts()
    expect(points.first).to_contain_text(f"Red flags were recorded on {flagged_day}")
    expect(page.locator("#talking-points")).not_to_contain_text("increase your dose")
    expect(page.locator("#report-days tbody tr")).to_have_count(len(DAYS))
    expect(page.locator("#report-days tr.flagged")).to_have_count(1)
    for chart in ("#pain-chart", "#dose-chart"):
        page.wait_for_selector(f"{chart}[data-rendered]", state="attached")
        expect(page.locator(chart)).to_have_attribute("data-rendered", "true")
        expect(page.locator(f"{chart} svg").first).to_be_attached()
    assert chart_days(page, "#pain-chart") == {shown(d) for d in days}
    shoot(page, "report")

    expect(page.locator("#print")).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator("header.site nav").first).to_be_hidden()
    expect(page.locator("header.site nav").last).to_be_hidden()
    for element in page.locator(".no-print").all():
        expect(element).to_be_hidden()
    expect(page.locator("#change")).to_be_visible()
    expect(page.locator("#report-flags")).to_be_visible()
    shoot(page, "report-print")
    page.emulate_media(media="screen")

    assert problems.errors == []


def test_the_pain_chart_names_the_recorded_days_in_a_browser_west_of_utc(
    browser: Browser,  # noqa: F811
    live_server: LiveServer,
) -> None:
    """A patient in California sees each diary day on the day it was recorded, not the day before."""
    ctx = new_context(browser, live_server, "America/Los_Angeles")
    try:
        page = ctx.new_page()
        sign_up(page)
        make_plan(page)
        days = [record_day(page, ago, pain, [], []) for ago, pain in ((2, 6), (1, 5))]
        page.goto("/diary/report")
        assert chart_days(page, "#pain-chart") == {shown(d) for d in days}
    finally:
        ctx.close()
