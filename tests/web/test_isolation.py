"""One user's diary is nobody else's: every route of the app is classified (public, API,
owner-scoped by the session, clinician-by-share, private token), and every owner- or share-scoped
route is tried by another patient and by clinicians with the first patient's ids — they never see
the patient's data and change nothing. Anonymous visitors are sent to log in; a revoked share or
calendar token stops working.

The world: patient A (a plan, two diary days — one with a red flag — a share redeemed by clinician
D, a calendar feed); patient B (a plan of their own); clinician C (no share); clinician D (A's share).
"""

from __future__ import annotations

import html
import json
import secrets
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gabaguide.web import Settings
from tests.web.conftest import LiveServer, start_server
from tests.web.users import (
    ASSESSED,
    User,
    add_entry,
    app_routes,
    by_id,
    csrf_of,
    export,
    make_plan,
    new_feed,
    new_share,
    post_actions,
    post_form,
    redeem,
    server_today,
    user,
)

PUBLIC, API, OWNER, SHARE, TOKEN = "public", "api", "owner", "clinician-by-share", "token"
# Every route of the app, by (method, path): a route missing here fails the first test, so a new
# route cannot be added without saying who may use it (and, if it is scoped, probing it below).
ROUTES = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("MOUNT", "/static"): PUBLIC,
    ("GET", "/static-bundle/vega.js"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("POST", "/api/v1/assess"): API,
    ("POST", "/api/v1/interactions"): API,
    ("POST", "/api/v1/schedule"): API,
    ("POST", "/api/v1/schedule.ics"): API,
    ("POST", "/api/v1/simulate"): API,
    ("GET", "/api/v1/knowledge/facts"): API,
    ("GET", "/api/v1/knowledge/sources"): API,
    ("GET", "/api/v1/knowledge/sources/{source_id}"): API,
    ("GET", "/api/v1/knowledge/medications"): API,
    ("GET", "/"): PUBLIC,
    ("GET", "/assess"): PUBLIC,
    ("POST", "/assess"): PUBLIC,
    ("POST", "/assess/calendar"): PUBLIC,
    ("GET", "/assess/suggest"): PUBLIC,
    ("GET", "/learn"): PUBLIC,
    ("GET", "/learn/{slug}"): PUBLIC,
    ("POST", "/learn/{slug}/reaction"): PUBLIC,
    ("GET", "/sources"): PUBLIC,
    ("GET", "/signup"): PUBLIC,
    ("POST", "/signup"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,  # ends the caller's own session, if any
    ("GET", "/reset"): PUBLIC,
    ("POST", "/reset"): PUBLIC,
    ("GET", "/reset/confirm"): PUBLIC,
    ("POST", "/reset/confirm"): PUBLIC,
    ("GET", "/account"): OWNER,
    ("GET", "/account/export.json"): OWNER,
    ("POST", "/account/delete"): OWNER,
    ("POST", "/account/shares"): OWNER,
    ("POST", "/account/shares/{share_id}/revoke"): OWNER,
    ("GET", "/clinician"): OWNER,
    ("POST", "/clinician/redeem"): OWNER,
    ("GET", "/diary"): OWNER,
    ("POST", "/diary/entries"): OWNER,
    ("POST", "/diary/entries/{day}/delete"): OWNER,
    ("GET", "/diary/plan"): OWNER,
    ("POST", "/diary/plan"): OWNER,
    ("POST", "/diary/plan/from-assessment"): OWNER,
    ("POST", "/diary/plan/{plan_id}/delete"): OWNER,
    ("GET", "/diary/schedule.ics"): OWNER,
    ("POST", "/diary/calendar"): OWNER,
    ("POST", "/diary/calendar/revoke"): OWNER,
    ("GET", "/diary/report"): OWNER,
    ("GET", "/clinician/patients/{share_id}"): SHARE,
    ("GET", "/calendar/{token}.ics"): TOKEN,
    ("GET", "/cds-services"): PUBLIC,  # CDS Hooks discovery
    ("POST", "/cds-services/{service_id}"): API,  # a CDS client's signed JWT (cds_auth)
    ("POST", "/cds-services/{service_id}/feedback"): API,
    ("GET", "/cds/plans/{token}"): TOKEN,  # a CDS card's link to the full plan
}
SCOPED = sorted(route for route, kind in ROUTES.items() if kind in (OWNER, SHARE))


@dataclass(frozen=True)
class World:
    a: User
    b: User
    c: User
    d: User
    note: str  # A's diary notes all contain it
    a_days: tuple[str, str]  # (a plain day, the day with a red flag)
    plan_id: int
    share_id: int
    share_code: str
    feed: str

    def secrets(self) -> tuple[str, ...]:
        """What no one but A (and D, through the share) may ever be shown."""
        return (self.a.email, self.note, self.feed.rsplit("/", 1)[-1].removesuffix(".ics"))


def _password() -> str:
    return f"pw-{uuid.uuid4().hex}"  # each user their own: B typing A's password must fail


@pytest.fixture(scope="module")
def world(live_server: LiveServer) -> Iterator[World]:
    with ExitStack() as stack:
        a, b, c, d = (
            stack.enter_context(user(live_server.url, role, _password()))
            for role in ("patient", "patient", "clinician", "clinician")
        )
        today = date.fromisoformat(server_today(a.client))
        note = f"note-of-a-{uuid.uuid4().hex}"  # nothing HTML escapes: found as it is in a page
        days = ((today - timedelta(days=2)).isoformat(), (today - timedelta(days=1)).isoformat())
        plan_id = make_plan(
            a.client, start_date=(today - timedelta(days=10)).isoformat(), baseline_pain="7"
        )
        assert add_entry(a.client, days[0], 5, note=f"{note} (day one)").status_code == 303
        flagged = add_entry(
            a.client, days[1], 4, note=f"{note} (day two)", red_flags=["mood-change"]
        )
        assert by_id(flagged.text, "red-flag-alert") is not None
        code, share_id = new_share(a.client)
        redeem(d.client, code)
        feed = new_feed(a.client)
        # B's own plan, of another dose (A's is 400 mg three times a day).
        make_plan(b.client, dose_mg="100", times_per_day="2")
        # Controls: A's own pages show what the probes look for.
        assert note in a.client.get(f"/diary?day={days[0]}").text
        assert a.email in a.client.get("/diary/report").text
        yield World(a, b, c, d, note, days, plan_id, share_id, code, feed)


# What another user sends to each scoped route, with A's ids: (path, form data or None for a GET).
Probe = Callable[[World], tuple[str, dict[str, Any] | None]]
PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/account"): lambda w: ("/account", None),
    ("GET", "/account/export.json"): lambda w: ("/account/export.json", None),
    ("POST", "/account/delete"): lambda w: ("/account/delete", {"password": w.a.password}),
    ("POST", "/account/shares"): lambda w: ("/account/shares", {}),
    ("POST", "/account/shares/{share_id}/revoke"): lambda w: (
        f"/account/shares/{w.share_id}/revoke",
        {},
    ),
    ("GET", "/clinician"): lambda w: ("/clinician", None),
    ("POST", "/clinician/redeem"): lambda w: ("/clinician/redeem", {"code": w.share_code}),
    ("GET", "/diary"): lambda w: (f"/diary?day={w.a_days[0]}", None),
    # The same day as one of A's: the prober's own entry, never A's.
    ("POST", "/diary/entries"): lambda w: (
        "/diary/entries",
        {"day": w.a_days[0], "pain": "1", "note": "not A"},
    ),
    # A's other day (nobody else ever has an entry on it, so the answer is always 404).
    ("POST", "/diary/entries/{day}/delete"): lambda w: (f"/diary/entries/{w.a_days[1]}/delete", {}),
    ("GET", "/diary/plan"): lambda w: ("/diary/plan", None),
    ("POST", "/diary/plan"): lambda w: (
        "/diary/plan",
        {
            "product": "gabapentin",
            "dose_mg": "100",
            "times_per_day": "2",
            "start_date": w.a_days[0],
        },
    ),
    ("POST", "/diary/plan/from-assessment"): lambda w: (
        "/diary/plan/from-assessment",
        {"patient": ASSESSED, "start_date": w.a_days[0]},
    ),
    ("POST", "/diary/plan/{plan_id}/delete"): lambda w: (f"/diary/plan/{w.plan_id}/delete", {}),
    ("GET", "/diary/schedule.ics"): lambda w: ("/diary/schedule.ics", None),
    ("POST", "/diary/calendar"): lambda w: ("/diary/calendar", {}),
    ("POST", "/diary/calendar/revoke"): lambda w: ("/diary/calendar/revoke", {}),
    ("GET", "/diary/report"): lambda w: (f"/diary/report?as_of={w.a_days[1]}", None),
    ("GET", "/clinician/patients/{share_id}"): lambda w: (
        f"/clinician/patients/{w.share_id}",
        None,
    ),
}
# The answer each prober gets: patient B, clinician C (no share), clinician D (A's share; not probed
# where A's share is what the route shows it: D's own patient list and A's shared report).
EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    ("GET", "/account"): {"b": 200, "c": 200, "d": 200},
    ("GET", "/account/export.json"): {"b": 200, "c": 200, "d": 200},
    ("POST", "/account/delete"): {"b": 422, "c": 422, "d": 422},
    ("POST", "/account/shares"): {"b": 200, "c": 403, "d": 403},
    ("POST", "/account/shares/{share_id}/revoke"): {"b": 404, "c": 403, "d": 403},
    ("GET", "/clinician"): {"b": 403, "c": 200},
    ("POST", "/clinician/redeem"): {"b": 403, "c": 422},  # A's code, already used by D
    ("GET", "/diary"): {"b": 200, "c": 403, "d": 403},
    ("POST", "/diary/entries"): {"b": 303, "c": 403, "d": 403},
    ("POST", "/diary/entries/{day}/delete"): {"b": 404, "c": 403, "d": 403},
    ("GET", "/diary/plan"): {"b": 200, "c": 403, "d": 403},
    ("POST", "/diary/plan"): {"b": 303, "c": 403, "d": 403},
    ("POST", "/diary/plan/from-assessment"): {"b": 303, "c": 403, "d": 403},
    ("POST", "/diary/plan/{plan_id}/delete"): {"b": 404, "c": 403, "d": 403},
    ("GET", "/diary/schedule.ics"): {"b": 200, "c": 403, "d": 403},
    ("POST", "/diary/calendar"): {"b": 200, "c": 403, "d": 403},
    ("POST", "/diary/calendar/revoke"): {"b": 303, "c": 403, "d": 403},
    ("GET", "/diary/report"): {"b": 200, "c": 403, "d": 403},
    ("GET", "/clinician/patients/{share_id}"): {"b": 403, "c": 404},
}
CASES = [
    pytest.param(route, who, id=f"{who}-{route[0]}-{route[1]}")
    for route in SCOPED
    for who in sorted(EXPECTED[route])
]


def test_every_route_is_classified() -> None:
    found = app_routes()
    assert found - ROUTES.keys() == set(), "classify the new route(s) in ROUTES"
    assert ROUTES.keys() - found == set(), "ROUTES names route(s) the app no longer has"


def test_every_scoped_route_is_probed() -> None:
    assert set(PROBES) == set(SCOPED) == set(EXPECTED)


def _send(
    client: httpx.Client, token_page: str, route: tuple[str, str], w: World
) -> httpx.Response:
    path, data = PROBES[route](w)
    if data is None:
        return client.get(path)
    return client.post(path, data={**data, "csrf": csrf_of(client.get(token_page).text)})


def _a_is_unchanged(w: World, before: dict[str, Any]) -> None:
    assert export(w.a.client) == before
    with httpx.Client() as nobody:
        assert nobody.get(w.feed).status_code == 200, "A's calendar feed stopped"
    assert w.d.client.get(f"/clinician/patients/{w.share_id}").status_code == 200, "A's share ended"


@pytest.mark.parametrize(("route", "who"), CASES)
def test_others_never_see_or_change_a_patients_data(
    world: World, route: tuple[str, str], who: str
) -> None:
    prober: User = getattr(world, who)
    before = export(world.a.client)
    r = _send(prober.client, "/account", route, world)
    assert r.status_code == EXPECTED[route][who], r.text[-1500:]
    for secret in world.secrets():
        assert secret not in r.text
    if r.status_code == 200 and route == (
        "POST",
        "/diary/calendar",
    ):  # the prober's own new feed shows the prober's doses
        feed = by_id(r.text, "feed-url")
        assert feed is not None
        with httpx.Client() as nobody:
            ics = nobody.get(feed.attrs["value"])
        assert ics.status_code == 200
        assert "400 mg" not in ics.text
    if r.status_code == 200 and route == ("GET", "/diary/schedule.ics"):
        assert "BEGIN:VEVENT" in r.text
        assert "400 mg" not in r.text
    _a_is_unchanged(world, before)


@pytest.mark.parametrize("route", SCOPED, ids=[f"{m}-{p}" for m, p in SCOPED])
def test_anonymous_visitors_are_sent_to_log_in(world: World, route: tuple[str, str]) -> None:
    """Without a session: GETs redirect to the log-in page; POSTs, with or without the visitor's
    CSRF token, are refused (403) or redirected there — never answered with data."""
    before = export(world.a.client)
    with httpx.Client(base_url=world.a.client.base_url) as anonymous:
        path, data = PROBES[route](world)
        if data is None:
            answers = [anonymous.get(path)]
        else:
            token = csrf_of(anonymous.get("/login").text)
            answers = [
                anonymous.post(path, data=data),
                anonymous.post(path, data={**data, "csrf": token}),
            ]
        for r in answers:
            if data is None or r.status_code != 403:
                assert r.status_code == 303, (r.status_code, r.text[-1500:])
                assert r.headers["location"].startswith("/login")
            for secret in world.secrets():
                assert secret not in r.text
        assert answers[-1].status_code == 303, "a valid token is no substitute for a session"
    _a_is_unchanged(world, before)


def test_the_clinician_with_the_share_reads_the_report_read_only(world: World) -> None:
    r = world.d.client.get(f"/clinician/patients/{world.share_id}?as_of={world.a_days[1]}")
    assert r.status_code == 200
    head = by_id(r.text, "report")
    assert head is not None
    assert world.a.email in head.text
    assert "read-only" in head.text
    flags = by_id(r.text, "report-flags")
    assert flags is not None
    assert world.a_days[1] in flags.text
    assert set(post_actions(r.text)) <= {"/logout"}, "the shared report must have no forms"
    listed = by_id(world.d.client.get("/clinician").text, "patients")
    assert listed is not None
    assert world.a.email in listed.text


def test_a_revoked_share_ends_the_clinicians_access(live_server: LiveServer) -> None:
    with (
        user(live_server.url, "patient", _password()) as patient,
        user(live_server.url, "clinician", _password()) as clinician,
        user(live_server.url, "clinician", _password()) as other,
    ):
        code, share_id = new_share(patient.client)
        redeem(clinician.client, code)
        report = f"/clinician/patients/{share_id}"
        assert clinician.client.get(report).status_code == 200
        # The code worked once: nobody else can redeem it.
        again = post_form(other.client, "/clinician", "/clinician/redeem", {"code": code})
        assert again.status_code == 422
        assert other.client.get(report).status_code == 404
        revoked = post_form(patient.client, "/account", f"/account/shares/{share_id}/revoke", {})
        assert revoked.status_code == 303
        r = clinician.client.get(report)
        assert r.status_code == 404
        assert patient.email not in r.text
        assert patient.email not in clinician.client.get("/clinician").text
        assert export(patient.client)["shares"] == []


def test_a_revoked_or_replaced_calendar_token_is_gone(live_server: LiveServer) -> None:
    with user(live_server.url, "patient", _password()) as patient, httpx.Client() as nobody:
        make_plan(patient.client)
        first = new_feed(patient.client)
        r = nobody.get(first)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/calendar")
        second = new_feed(patient.client)  # a new address replaces the old one
        assert nobody.get(first).status_code == 404
        assert nobody.get(second).status_code == 200
        revoked = post_form(patient.client, "/diary/plan", "/diary/calendar/revoke", {})
        assert revoked.status_code == 303
        assert nobody.get(second).status_code == 404
        assert export(patient.client)["calendar_feed"] is False


CDS_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cds" / "order-sign.json"


def _plan_link(client: httpx.Client, patient_id: str, creatinine_mg_dl: float) -> str:
    """The link to the full plan of a CDS card about the bundled order for ``patient_id``."""
    body = json.loads(CDS_EXAMPLE.read_text().replace("example-78m", patient_id))
    scr = body["prefetch"]["creatinine"]["entry"][0]["resource"]["valueQuantity"]
    scr["value"] = creatinine_mg_dl
    r = client.post("/cds-services/gabaguide-order-sign", json=body)
    assert r.status_code == 200, r.text[-1500:]
    links: set[str] = {link["url"] for card in r.json()["cards"] for link in card["links"]}
    assert len(links) == 1, links
    return links.pop()


def test_a_plan_link_token_shows_its_plan_only(live_server: LiveServer, tmp_path: Path) -> None:
    """A CDS card's link opens that order's full plan without a session; a token one character
    off, made up, or another patient's shows nothing of it (404). Links come from CDS calls, so this
    server has CDS authentication off (the session server trusts no CDS client)."""
    with httpx.Client(base_url=live_server.url) as anonymous:
        r = anonymous.post("/cds-services/gabaguide-order-sign", content=CDS_EXAMPLE.read_bytes())
        assert r.status_code == 401, "a CDS call without a client's JWT"
        assert r.content == b""
    database = tmp_path / "cds.sqlite3"
    settings = Settings(database_url=f"sqlite:///{database}", load_demo=False, cds_auth=False)
    server, thread, url = start_server(settings)
    try:
        with httpx.Client(base_url=url) as ehr, httpx.Client() as nobody:
            a = _plan_link(ehr, f"a-{uuid.uuid4().hex}", 1.9)  # CrCl >30 to 59
            b = _plan_link(ehr, f"b-{uuid.uuid4().hex}", 0.6)  # CrCl 60 or more
            page_a, page_b = nobody.get(a), nobody.get(b)
            assert page_a.status_code == page_b.status_code == 200
            band_a = ">30 to 59"
            assert band_a in html.unescape(page_a.text)
            assert band_a not in html.unescape(page_b.text)
            token = a.rsplit("/", 1)[-1]
            near = token[:-1] + ("A" if token[-1] != "A" else "B")
            for wrong in (
                a.replace(token, near),
                a.replace(token, token.upper() if token != token.upper() else token.lower()),
                a.replace(token, secrets.token_urlsafe(24)),
                a.replace(token, token + "x"),
                a.replace(token, token[:-1]),
            ):
                off = nobody.get(wrong)
                assert off.status_code == 404, wrong
                assert band_a not in html.unescape(off.text)
                assert "mL/min" not in off.text
        with httpx.Client() as nobody:  # a link works on the server that made it only
            assert nobody.get(a.replace(url, live_server.url)).status_code == 404
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_feed_token_shows_its_owner_only(world: World) -> None:
    """A's feed has A's doses and no e-mail address; a token one character off is no feed."""
    with httpx.Client() as nobody:
        a = nobody.get(world.feed)
        assert a.status_code == 200
        assert "400 mg" in a.text
        assert world.a.email not in a.text
        assert world.b.email not in a.text
        token = world.feed.rsplit("/", 1)[-1].removesuffix(".ics")
        near = token[:-1] + ("A" if token[-1] != "A" else "B")
        off = nobody.get(world.feed.replace(token, near))
        assert off.status_code == 404
        assert "400 mg" not in off.text
