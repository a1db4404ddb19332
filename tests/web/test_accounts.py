"""Accounts over HTTP: sign-up validation, the session cookie and log-out, CSRF on every form, the
log-in rate limit, password reset by a one-time code, no open redirect after log-in, the data
export, and deleting an account with everything in it.

These tests log in wrongly on purpose: they run on their own server, whose log-in limit is high
(the limit itself is tested on a server with a small one), so the shared server's limit for the
loopback address is left to the other tests.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gabaguide.web import Settings
from tests.web.conftest import LiveServer, start_server
from tests.web.users import (
    ASSESSED,
    PASSWORD,
    User,
    add_entry,
    app_routes,
    by_id,
    csrf_of,
    export,
    login,
    logout,
    make_plan,
    new_email,
    new_feed,
    new_share,
    post_form,
    redeem,
    signup,
    user,
)

TABLES = (
    "users",
    "sessions",
    "reset_codes",
    "diary_plans",
    "diary_entries",
    "shares",
    "calendar_feeds",
    "reactions",
)
# Tables whose rows belong to a user, with the column naming the user.
OWNED = {
    "sessions": "user_id",
    "reset_codes": "user_id",
    "diary_plans": "user_id",
    "diary_entries": "user_id",
    "shares": "owner_id",
    "calendar_feeds": "user_id",
}


def _start(tmp: Path, **settings: Any) -> Iterator[LiveServer]:
    database = tmp / "gabaguide.sqlite3"
    config = Settings(database_url=f"sqlite:///{database}", load_demo=False, **settings)
    server, thread, url = start_server(config)
    yield LiveServer(url=url, settings=config, database=database)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from _start(tmp_path_factory.mktemp("accounts"), login_limit=1000)


def problems(html: str) -> str:
    found = by_id(html, "form-errors")
    return found.text if found else ""


def rows(server: LiveServer, sql: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(server.database) as db:
        return db.execute(sql, args).fetchall()


def counts(server: LiveServer) -> dict[str, int]:
    return {t: rows(server, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def user_id(server: LiveServer, email: str) -> int | None:
    found = rows(server, "SELECT id FROM users WHERE email = ?", email)
    return found[0][0] if found else None


def session_cookie(r: httpx.Response) -> str | None:
    """The Set-Cookie header of the session cookie, if the answer sets one."""
    found = [h for h in r.headers.get_list("set-cookie") if h.startswith("gg_session=")]
    return found[0] if found else None


# --- sign-up --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"email": "not-an-address"}, "email", id="bad-email"),
        pytest.param({"email": "two@@example.org"}, "email", id="two-ats"),
        pytest.param({"password": "short", "password_again": "short"}, "password", id="short"),
        pytest.param({"password_again": PASSWORD + "!"}, "password_again", id="mismatch"),
        pytest.param({"role": "admin"}, "role", id="unknown-role"),
    ],
)
def test_sign_up_names_the_bad_field_and_creates_nothing(
    server: LiveServer, changes: dict[str, str], field: str
) -> None:
    email = new_email()
    data = {"email": email, "password": PASSWORD, "password_again": PASSWORD, "role": "patient"}
    data |= changes
    with httpx.Client(base_url=server.url) as c:
        r = post_form(c, "/signup", "/signup", data)
        assert r.status_code == 422
        assert f"{field}:" in problems(r.text)
        assert session_cookie(r) is None
        assert c.get("/diary").status_code == 303
    assert user_id(server, data["email"].strip().lower()) is None


def test_sign_up_with_a_taken_address_is_refused(server: LiveServer) -> None:
    email = new_email()
    with httpx.Client(base_url=server.url) as first, httpx.Client(base_url=server.url) as second:
        signup(first, email)
        other = "another password"
        data = {"email": email.upper(), "password": other, "password_again": other}
        r = post_form(second, "/signup", "/signup", data | {"role": "clinician"})
        assert r.status_code == 422
        assert "email: an account with this address exists" in problems(r.text)
        assert session_cookie(r) is None
        assert rows(server, "SELECT role FROM users WHERE email = ?", email) == [("patient",)]
        assert login(second, email, other).status_code == 422
        assert login(second, email).status_code == 303


# --- sessions -------------------------------------------------------------------------------------


def test_the_session_cookie_is_http_only_and_lax_and_ends_with_log_out(server: LiveServer) -> None:
    email = new_email()
    with httpx.Client(base_url=server.url) as c:
        signup(c, email)
        r = login(c, email)
        assert r.status_code == 303
        cookie = session_cookie(r)
        assert cookie is not None
        attributes = [a.strip().lower() for a in cookie.split(";")]
        assert "httponly" in attributes
        assert "samesite=lax" in attributes
        assert "path=/" in attributes
        old = c.cookies["gg_session"]
        with httpx.Client(base_url=server.url, cookies={"gg_session": old}) as before:
            assert before.get("/diary").status_code == 200, "the cookie alone is the session"
        logout(c)
        assert "gg_session" not in c.cookies
    # Replayed after log-out, the old cookie opens nothing.
    with httpx.Client(base_url=server.url, cookies={"gg_session": old}) as replay:
        for path in ("/diary", "/account", "/account/export.json"):
            r = replay.get(path)
            assert r.status_code == 303, path
            assert r.headers["location"].startswith("/login")


def test_a_wrong_password_or_unknown_address_logs_nobody_in(server: LiveServer) -> None:
    email = new_email()
    with httpx.Client(base_url=server.url) as c:
        signup(c, email)
    with httpx.Client(base_url=server.url) as c:
        for address, password in ((email, "wrong password"), (new_email(), PASSWORD)):
            r = login(c, address, password)
            assert r.status_code == 422
            # One message for both: the answer does not tell whether the address has an account.
            assert "email or password: no account matches" in problems(r.text)
            assert session_cookie(r) is None


# --- CSRF -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Accounts:
    patient: User
    clinician: User
    day: str
    plan_id: int
    share_id: int
    share_code: str  # not redeemed
    feed: str


@pytest.fixture(scope="module")
def accounts(server: LiveServer) -> Iterator[Accounts]:
    with ExitStack() as stack:
        patient = stack.enter_context(user(server.url, "patient"))
        clinician = stack.enter_context(user(server.url, "clinician"))
        plan_id = make_plan(patient.client)
        day = export(patient.client)["plans"][0]["plan"]["start_date"]
        assert add_entry(patient.client, day, 4, note="kept").status_code == 303
        code, share_id = new_share(patient.client)
        feed = new_feed(patient.client)
        yield Accounts(patient, clinician, day, plan_id, share_id, code, feed)


# Every form POST of the app: who posts it, and what (a real, otherwise valid submission).
Form = Callable[[Accounts], tuple[str, dict[str, str]]]
FORMS: dict[str, tuple[str | None, Form]] = {
    "/signup": (
        None,
        lambda a: (
            "/signup",
            {
                "email": new_email(),
                "password": PASSWORD,
                "password_again": PASSWORD,
                "role": "patient",
            },
        ),
    ),
    "/login": (None, lambda a: ("/login", {"email": a.patient.email, "password": PASSWORD})),
    "/logout": ("patient", lambda a: ("/logout", {})),
    "/reset": (None, lambda a: ("/reset", {"email": a.patient.email})),
    "/reset/confirm": (
        None,
        lambda a: (
            "/reset/confirm",
            {"email": a.patient.email, "code": "12345678", "password": "a new password"},
        ),
    ),
    "/assess": (None, lambda a: ("/assess", {"age_years": "50", "goal": "start"})),
    "/assess/calendar": (None, lambda a: ("/assess/calendar", {"patient": ASSESSED})),
    "/learn/{slug}/reaction": (None, lambda a: ("/learn/uses/reaction", {"reaction": "helpful"})),
    "/account/delete": ("patient", lambda a: ("/account/delete", {"password": PASSWORD})),
    "/account/shares": ("patient", lambda a: ("/account/shares", {})),
    "/account/shares/{share_id}/revoke": (
        "patient",
        lambda a: (f"/account/shares/{a.share_id}/revoke", {}),
    ),
    "/clinician/redeem": ("clinician", lambda a: ("/clinician/redeem", {"code": a.share_code})),
    "/diary/entries": ("patient", lambda a: ("/diary/entries", {"day": a.day, "pain": "9"})),
    "/diary/entries/{day}/delete": ("patient", lambda a: (f"/diary/entries/{a.day}/delete", {})),
    "/diary/plan": (
        "patient",
        lambda a: (
            "/diary/plan",
            {"product": "gabapentin", "dose_mg": "100", "times_per_day": "2", "start_date": a.day},
        ),
    ),
    "/diary/plan/from-assessment": (
        "patient",
        lambda a: ("/diary/plan/from-assessment", {"patient": ASSESSED, "start_date": a.day}),
    ),
    "/diary/plan/{plan_id}/delete": ("patient", lambda a: (f"/diary/plan/{a.plan_id}/delete", {})),
    "/diary/calendar": ("patient", lambda a: ("/diary/calendar", {})),
    "/diary/calendar/revoke": ("patient", lambda a: ("/diary/calendar/revoke", {})),
}


def test_every_form_post_is_in_the_csrf_table() -> None:
    posts = {path for method, path in app_routes() if method == "POST"}
    # JSON APIs (/api/v1, CDS Hooks) take no forms: bearer tokens or no session, never cookies.
    assert {p for p in posts if not p.startswith(("/api/", "/cds-services"))} == set(FORMS)


def _state(server: LiveServer, a: Accounts) -> tuple[object, ...]:
    with httpx.Client() as nobody:
        feed = nobody.get(a.feed).status_code
    return counts(server), export(a.patient.client), export(a.clinician.client), feed


@pytest.mark.parametrize("token", ["missing", "another-visitors"])
@pytest.mark.parametrize("route", sorted(FORMS))
def test_every_form_post_needs_this_visitors_token(
    server: LiveServer, accounts: Accounts, route: str, token: str
) -> None:
    role, form = FORMS[route]
    path, data = form(accounts)
    before = _state(server, accounts)
    with ExitStack() as stack:
        if role is None:
            client = stack.enter_context(httpx.Client(base_url=server.url))
            client.get("/login")  # a visitor with a CSRF cookie of their own
        else:
            client = getattr(accounts, role).client
        if token == "another-visitors":
            with httpx.Client(base_url=server.url) as other:
                data = data | {"csrf": csrf_of(other.get("/login").text)}
        r = client.post(path, data=data)
        assert r.status_code == 403, (r.status_code, r.text[-1500:])
        assert "did not come from gabaguide" in r.text
        assert session_cookie(r) is None
    assert _state(server, accounts) == before
    assert accounts.patient.client.get("/diary").status_code == 200, "still logged in"


# --- the log-in rate limit ------------------------------------------------------------------------


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[LiveServer]:
    yield from _start(tmp_path, login_limit=3)


def test_failed_log_ins_are_limited_per_address_and_account(limited: LiveServer) -> None:
    email, other = new_email(), new_email()
    for address in (email, other):
        with httpx.Client(base_url=limited.url) as c:
            signup(c, address)  # sign-ups are not failed log-ins
    with httpx.Client(base_url=limited.url) as c:
        statuses = [login(c, email, "wrong password").status_code for _ in range(3)]
        assert statuses == [422, 422, 422]
        # Now even the right password is refused, without a session ...
        r = login(c, email)
        assert r.status_code == 429
        assert "Too many attempts" in problems(r.text)
        assert session_cookie(r) is None
        # ... and so is another account from the same address.
        r = login(c, other)
        assert r.status_code == 429
        assert session_cookie(r) is None
        assert c.get("/diary").status_code == 303


# --- password reset -------------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def reset_log() -> Iterator[list[str]]:
    """The messages of the "gabaguide.reset" log (the server runs in this process)."""
    handler = _Records()
    logger = logging.getLogger("gabaguide.reset")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)


def reset_confirm(client: httpx.Client, email: str, code: str, password: str) -> httpx.Response:
    data = {"email": email, "code": code, "password": password}
    return post_form(client, "/reset/confirm", "/reset/confirm", data)


def test_password_reset_by_a_one_time_code(server: LiveServer) -> None:
    email, new = new_email(), "a brand new password"
    with (
        httpx.Client(base_url=server.url) as old_session,
        httpx.Client(base_url=server.url) as c,
        reset_log() as log,
    ):
        signup(old_session, email)
        # An address without an account: the same answer, and no code.
        r = post_form(c, "/reset", "/reset", {"email": new_email()})
        assert (r.status_code, r.headers["location"]) == (303, "/reset/confirm")
        assert log == []
        r = post_form(c, "/reset", "/reset", {"email": email})
        assert (r.status_code, r.headers["location"]) == (303, "/reset/confirm")
        assert len(log) == 1
        assert "@" not in log[0]
        assert email.split("@")[0] not in log[0]
        found = re.search(r"\b(\d{8})\b", log[0])
        assert found, log[0]
        code = found.group(1)
        wrong = f"{(int(code) + 1) % 10**8:08d}"

        r = reset_confirm(c, email, wrong, new)
        assert r.status_code == 422
        assert "code:" in problems(r.text)
        assert old_session.get("/diary").status_code == 200, "a wrong code changes nothing"
        assert reset_confirm(c, email, code, "short").status_code == 422

        r = reset_confirm(c, email, code, new)
        assert r.status_code == 200
        assert "Password changed" in r.text
        assert old_session.get("/diary").status_code == 303, "old sessions end"
        assert login(c, email).status_code == 422
        assert login(c, email, new).status_code == 303
        # The code worked once.
        assert reset_confirm(c, email, code, "yet another password").status_code == 422
        assert login(c, email, "yet another password").status_code == 422


# --- no open redirect -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "next_path", "location"),
    [
        pytest.param("patient", "https://evil.example/", "/diary", id="absolute"),
        pytest.param("patient", "//evil.example/", "/diary", id="scheme-relative"),
        pytest.param("clinician", "//evil.example", "/clinician", id="clinician-home"),
        pytest.param("patient", "/\\evil.example", "/diary", id="backslash"),
        pytest.param("patient", "\\\\evil.example", "/diary", id="backslashes"),
        pytest.param("patient", "/\t/evil.example", "/diary", id="tab"),
        pytest.param("patient", "javascript:alert(1)", "/diary", id="javascript"),
        pytest.param("patient", "/diary/report", "/diary/report", id="own-page"),
        pytest.param("patient", "", "/diary", id="none"),
    ],
)
def test_log_in_never_redirects_off_site(
    server: LiveServer, role: str, next_path: str, location: str
) -> None:
    email = new_email(role)
    with httpx.Client(base_url=server.url) as c:
        signup(c, email, role)
        logout(c)
        r = login(c, email, next_path=next_path)
        assert r.status_code == 303
        assert r.headers["location"] == location


# --- export and delete ----------------------------------------------------------------------------


def test_the_export_has_the_diary_and_no_secrets(server: LiveServer, accounts: Accounts) -> None:
    r = accounts.patient.client.get("/account/export.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"].startswith("attachment")
    assert r.headers["cache-control"] == "no-store"
    data = r.json()
    assert data["account"]["email"] == accounts.patient.email
    assert [e["day"] for e in data["diary"]] == [accounts.day]
    assert data["diary"][0]["note"] == "kept"
    assert [p["id"] for p in data["plans"]] == [accounts.plan_id]
    text = r.text.lower()
    for secret in ("password", "hash", "$argon2", "token", "gg_session"):
        assert secret not in text
    for value in (
        accounts.patient.client.cookies["gg_session"],
        accounts.share_code,
        accounts.feed.rsplit("/", 1)[-1].removesuffix(".ics"),
    ):
        assert value.lower() not in text
    stored = rows(server, "SELECT password_hash FROM users WHERE email = ?", accounts.patient.email)
    assert stored[0][0] not in r.text


def test_deleting_an_account_needs_the_password_and_removes_everything(
    server: LiveServer,
) -> None:
    with (
        user(server.url, "patient") as patient,
        user(server.url, "clinician") as clinician,
        httpx.Client() as nobody,
    ):
        make_plan(patient.client)
        day = export(patient.client)["plans"][0]["plan"]["start_date"]
        assert add_entry(patient.client, day, 3, red_flags=["rash-fever"]).status_code == 200
        code, share_id = new_share(patient.client)
        redeem(clinician.client, code)
        feed = new_feed(patient.client)
        post_form(patient.client, "/reset", "/reset", {"email": patient.email})
        uid = user_id(server, patient.email)
        assert uid is not None
        before = export(patient.client)

        r = post_form(patient.client, "/account", "/account/delete", {"password": "not it at all"})
        assert r.status_code == 422
        assert "password: does not match" in problems(r.text)
        assert export(patient.client) == before
        assert nobody.get(feed).status_code == 200

        r = post_form(patient.client, "/account", "/account/delete", {"password": PASSWORD})
        assert r.status_code == 200
        assert by_id(r.text, "deleted") is not None
        assert patient.client.get("/diary").status_code == 303
        assert login(patient.client, patient.email).status_code == 422
        assert clinician.client.get(f"/clinician/patients/{share_id}").status_code == 404
        assert patient.email not in clinician.client.get("/clinician").text
        assert nobody.get(feed).status_code == 404
    assert user_id(server, patient.email) is None
    for table, column in OWNED.items():
        left = rows(server, f"SELECT count(*) FROM {table} WHERE {column} = ?", uid)
        assert left == [(0,)], table
