"""The web pages in a real browser: Debian's Chromium driven by Playwright against the live server.

Each test opens its own browser context (fresh cookies) in one Chromium per module and checks what a
prescriber, a patient or a carer relies on: the result of an assessment with its citations and
charts, the calendar file, field errors, reactions, the phone layout, printing. Screenshots of the
main pages go to ``artifacts/screenshots/`` at the repository root (gitignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Response,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.web.conftest import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PHONE: ViewportSize = {"width": 375, "height": 800}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
# Charts are drawn by vega-embed after the page loads; a generous bound for a slow machine.
CHART_TIMEOUT_MS = 20_000

# The prescriber's patient: 68-year-old woman on oxycodone, measured CrCl 40 mL/min.
OPIOID_PATIENT = {
    "age_years": "68",
    "sex": "female",
    "weight_kg": "70",
    "crcl_ml_min": "40",
    "indication": "postherpetic neuralgia",
    "goal": "start",
    "start_date": "2026-12-01",
}
OPIOID_MEDICINE = ("oxycodone", "10", "3")
# A patient whose kidney function nobody measured.
NO_KIDNEY_PATIENT = {
    "age_years": "55",
    "sex": "male",
    "weight_kg": "80",
    "indication": "postherpetic neuralgia",
    "goal": "start",
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(base_url=live_server.url, accept_downloads=True)
    ctx.set_default_timeout(CHART_TIMEOUT_MS)
    yield ctx
    ctx.close()


@dataclass
class Problems:
    """Uncaught page errors and console errors seen by a page."""

    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("console", self._console)
        return page

    def _console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.errors.append(f"console: {msg.text} at {msg.location}")


def fill_assessment(page: Page, fields: dict[str, str], medicine: tuple[str, ...] = ()) -> None:
    page.goto("/assess")
    for name, value in fields.items():
        target = page.locator(f"#{name}")
        if target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    if medicine:
        name, dose, times = medicine
        page.locator("input[name=med_name]").nth(0).fill(name)
        page.locator("input[name=med_dose_mg]").nth(0).fill(dose)
        page.locator("input[name=med_times]").nth(0).fill(times)


def open_opioid_result(page: Page) -> Response:
    """Submit the opioid patient and wait until both charts are drawn."""
    fill_assessment(page, OPIOID_PATIENT, OPIOID_MEDICINE)
    with page.expect_navigation() as navigation:
        page.locator("button.primary").click()
    response = navigation.value
    assert response is not None
    assert response.status == 200, response.status
    expect(page.locator("h1")).to_have_text(re.compile(r"^Assessment"))
    wait_for_charts(page)
    return response


def goto_ok(page: Page, path: str) -> Response:
    response = page.goto(path)
    assert response is not None, path
    assert response.ok, (path, response.status)
    return response


def wait_for_charts(page: Page) -> None:
    for chart in ("#plan-chart", "#pk-chart"):
        page.wait_for_selector(f"{chart}[data-rendered]", state="attached")
        expect(page.locator(chart)).to_have_attribute("data-rendered", "true")


def test_opioid_patient_result_shows_renal_band_findings_citations_and_charts(
    context: BrowserContext,
) -> None:
    """A prescriber sees the CrCl 40 band and range, the opioid warnings in words with citations,
    the drawn plan and concentration charts, the titration table and the maintenance dose."""
    problems = Problems()
    page = problems.watch(context.new_page())
    open_opioid_result(page)

    summary = page.locator("section.summary")
    expect(summary).to_contain_text(">30 to 59")
    expect(summary).to_contain_text("400\N{EN DASH}1400 mg/day")

    for code in ("interaction.opioid", "risk.respiratory"):
        finding = page.locator(f'li.finding[data-code="{code}"]')
        expect(finding).to_have_count(1)
        badge = finding.locator(".sev")
        expect(badge).to_be_visible()
        word = badge.inner_text().strip()
        assert re.search(r"(Do not use|Warning|Caution|Note)$", word), (code, word)
        severity = finding.get_attribute("data-severity")
        expected = {"contraindicated": "Do not use", "warning": "Warning", "caution": "Caution"}
        assert expected.get(severity or "", "Note") in word, (code, severity, word)
        cites = finding.locator("a.cite")
        assert cites.count() >= 1, code
        for href in cites.evaluate_all("links => links.map(a => a.getAttribute('href'))"):
            assert re.fullmatch(r"/sources#src-[\w.-]+", href), href

    for chart in ("#plan-chart", "#pk-chart"):
        expect(page.locator(f"{chart} svg").first).to_be_attached()
    expect(page.locator("#titration-table tbody tr").first).to_be_visible()
    expect(page.locator("#maintenance")).to_contain_text("mg/day")
    assert problems.errors == []


def test_calendar_download_is_an_ics_starting_on_the_chosen_date(context: BrowserContext) -> None:
    """The patient can take the dose times home: the .ics starts on the start date given."""
    page = context.new_page()
    open_opioid_result(page)
    with page.expect_download() as info:
        page.locator("#ics-download").click()
    download = info.value
    assert download.suggested_filename.endswith(".ics")
    path = download.path()
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("BEGIN:VCALENDAR")
    assert "BEGIN:VEVENT" in text
    starts = re.findall(r"^DTSTART[;:][^\r\n]*?(\d{8})T", text, flags=re.MULTILINE)
    assert starts, text[:500]
    assert min(starts) == "20261201"  # floating local times: DTSTART:20261201T200000
    assert "DTSTART:20261201T" in text


def test_unknown_kidney_function_is_reported_not_guessed(context: BrowserContext) -> None:
    """Without creatinine or CrCl the renal dose is reported as not checkable and no curve is
    drawn, with the reason: kidney function is unknown."""
    problems = Problems()
    page = problems.watch(context.new_page())
    fill_assessment(page, NO_KIDNEY_PATIENT)
    with page.expect_navigation():
        page.locator("button.primary").click()
    summary = page.locator("section.summary")
    expect(summary).to_contain_text("not available")
    expect(summary).to_contain_text("the renal dose cannot be checked")
    missing = page.locator("#pk-missing")
    expect(missing).to_be_visible()
    expect(missing).to_contain_text("kidney function is unknown")
    expect(page.locator("#pk-chart")).to_have_count(0)
    assert problems.errors == []


def test_bad_fields_are_named_next_to_the_field_and_kept(context: BrowserContext) -> None:
    """A typo is explained next to its field (and announced to screen readers), and nothing typed
    is lost."""
    page = context.new_page()
    fill_assessment(page, {"age_years": "abc", "weight_kg": "-5", "sex": "female"})
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        page.locator("button.primary").click()
    assert info.value.status == 422
    expect(page.locator("#form-errors")).to_be_visible()
    for name, value in (("age_years", "abc"), ("weight_kg", "-5")):
        box = page.locator(f"#{name}")
        expect(box).to_have_attribute("aria-invalid", "true")
        expect(box).to_have_value(value)
        errors = page.locator(f"#{name} ~ ul.field-errors")
        expect(errors).to_be_visible()
        expect(errors).to_contain_text(name)
        expect(box).to_have_attribute("aria-describedby", f"{name}-error")
    expect(page.locator("#sex")).to_have_value("female")


def _count(page: Page, reaction: str) -> int:
    return int(page.locator(f'button[data-reaction="{reaction}"] .count').inner_text())


def test_one_changeable_reaction_per_visitor(context: BrowserContext) -> None:
    """A reader's reaction counts once, can be changed, and is remembered on the next visit."""
    page = context.new_page()
    page.goto("/learn/side-effects")
    helpful, clear = _count(page, "helpful"), _count(page, "clear")

    page.locator('button[data-reaction="helpful"]').click()
    button = page.locator('button[data-reaction="helpful"]')
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button.locator(".count")).to_have_text(str(helpful + 1))
    expect(page.locator("#reaction-widget .thanks")).to_be_visible()
    assert page.url.endswith("/learn/side-effects"), "HTMX swaps the widget in place"

    page.locator('button[data-reaction="clear"]').click()
    expect(page.locator('button[data-reaction="clear"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator('button[data-reaction="clear"] .count')).to_have_text(str(clear + 1))
    expect(page.locator('button[data-reaction="helpful"] .count')).to_have_text(str(helpful))
    expect(button).to_have_attribute("aria-pressed", "false")

    page.reload()
    expect(page.locator('button[data-reaction="clear"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator('button[data-reaction="helpful"]')).to_have_attribute(
        "aria-pressed", "false"
    )
    assert _count(page, "clear") == clear + 1
    assert _count(page, "helpful") == helpful


def test_every_dosage_fact_cites_its_source(context: BrowserContext) -> None:
    """Every statement on the dosage page links to its source, under the never-change-the-dose
    notice."""
    page = context.new_page()
    page.goto("/learn/dosage")
    facts = page.locator("li.fact, tr.fact")
    assert facts.count() > 0
    uncited = facts.evaluate_all(
        "facts => facts.filter(f => !f.querySelector('a.cite')).map(f => f.textContent.trim())"
    )
    assert uncited == []
    expect(page.locator(".notice-inline")).to_contain_text("never change the dose yourself")
    expect(page.locator(".notice-inline")).to_be_visible()


def _page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


def test_phone_width_has_no_sideways_scroll_and_skip_link_comes_first(
    browser: Browser, live_server: LiveServer
) -> None:
    """On a 375 px phone the form and the result fit the screen; a keyboard user's first Tab
    reaches "Skip to content"."""
    ctx = browser.new_context(base_url=live_server.url, viewport=PHONE)
    ctx.set_default_timeout(CHART_TIMEOUT_MS)
    try:
        page = ctx.new_page()
        page.goto("/assess")
        assert _page_width(page) <= PHONE["width"] + 1, "/assess scrolls sideways"
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "[document.activeElement.textContent.trim(), document.activeElement.getAttribute('href')]"
        )
        assert focused == ["Skip to content", "#main"]
        expect(page.locator("a.skip")).to_be_visible()

        open_opioid_result(page)
        assert _page_width(page) <= PHONE["width"] + 1, "the result page scrolls sideways"
    finally:
        ctx.close()


@pytest.mark.parametrize("path", ["/learn/side-effects", "/learn/dosage", "/sources"])
def test_reading_pages_fit_a_phone(browser: Browser, live_server: LiveServer, path: str) -> None:
    """Patients read the education pages and their sources on a phone: no sideways scrolling."""
    ctx = browser.new_context(base_url=live_server.url, viewport=PHONE)
    try:
        page = ctx.new_page()
        goto_ok(page, path)
        assert _page_width(page) <= PHONE["width"] + 1, f"{path} scrolls sideways"
    finally:
        ctx.close()


def test_print_shows_the_plan_without_navigation_or_forms(context: BrowserContext) -> None:
    """A printed plan has no navigation or download form, and says where it came from."""
    page = context.new_page()
    open_opioid_result(page)
    page.emulate_media(media="print")
    navs = page.locator("header.site nav")
    expect(navs).not_to_have_count(0)
    for nav in navs.all():
        expect(nav).to_be_hidden()
    expect(page.locator("form.ics-form")).to_be_hidden()
    expect(page.locator(".print-only")).to_be_visible()
    expect(page.locator("#titration-table")).to_be_visible()


def test_security_headers_on_pages(context: BrowserContext) -> None:
    """Pages, the result page with its charts included, forbid framing, MIME sniffing, plugins
    and foreign or inline scripts."""
    page = context.new_page()
    responses = {path: goto_ok(page, path) for path in ("/", "/learn/dosage")}
    responses["result"] = open_opioid_result(page)
    for path, response in responses.items():
        headers = response.headers
        assert re.search(r"script-src 'self'[^;]*;", headers["content-security-policy"]), path
        assert "'unsafe-inline'" not in headers["content-security-policy"].split("style-src")[0]
        assert "object-src 'none'" in headers["content-security-policy"], path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path


def test_screenshots_of_the_main_pages(browser: Browser, live_server: LiveServer) -> None:
    """Full-page screenshots of the main pages for review (artifacts/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []

    def shoot(page: Page, name: str) -> None:
        path = SCREENSHOTS / name
        path.unlink(missing_ok=True)
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)

    for viewport, shots in (
        (
            DESKTOP,
            [
                ("/", "home.png"),
                ("/assess", "assess-form.png"),
                (None, "assessment-result.png"),
                ("/learn", "learn-index.png"),
                ("/learn/side-effects", "learn-side-effects.png"),
                ("/sources", "sources.png"),
            ],
        ),
        (PHONE, [(None, "result-phone.png")]),
    ):
        ctx = browser.new_context(base_url=live_server.url, viewport=viewport)
        ctx.set_default_timeout(CHART_TIMEOUT_MS)
        try:
            page = ctx.new_page()
            for url, name in shots:
                if url is None:
                    open_opioid_result(page)
                else:
                    goto_ok(page, url)
                shoot(page, name)
        finally:
            ctx.close()

    for png in saved:
        assert png.is_file(), png
        assert png.stat().st_size > 0, png
    assert len(saved) == 7
