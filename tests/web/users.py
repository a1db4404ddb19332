"""Helpers for the account and diary tests: a visitor is a plain ``httpx.Client`` on the live server
(its cookies persist, as a browser's do), and every form is posted the way a browser posts it —
after GETting the page that carries the form's CSRF token.

Every helper that makes something asserts that it worked, so a test reads as the story it tells.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
from fastapi.routing import iter_route_contexts
from starlette.routing import Mount

from gabaguide.web import Settings, create_app

PASSWORD = "correct horse battery"
HOME = {"patient": "/diary", "clinician": "/clinician"}
FormData = Mapping[str, str | Sequence[str]]
ASSESSED = (  # the patient JSON an assessment result page posts back to keep its plan
    '{"goal": "review", "current_regimen": '
    '{"product": "gabapentin", "dose_mg": 100, "times_per_day": 2}}'
)
_CSRF = re.compile(r'<input type="hidden" name="csrf" value="([^"]*)"')


def new_email(role: str = "patient") -> str:
    """A unique address (tests share one database)."""
    return f"{role}-{uuid.uuid4().hex[:12]}@example.org"


def csrf_of(html: str) -> str:
    """The CSRF token of the page's forms (every form of a page carries the same one)."""
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def post_form(client: httpx.Client, page_path: str, action: str, data: FormData) -> httpx.Response:
    """GET ``page_path`` (which shows the form), then POST ``data`` with its token to ``action``."""
    page = client.get(page_path)
    assert page.status_code == 200, (page_path, page.status_code)
    return client.post(action, data={**data, "csrf": csrf_of(page.text)})


def signup(
    client: httpx.Client, email: str, role: str = "patient", password: str = PASSWORD
) -> None:
    """Sign up (which logs the client in)."""
    data = {"email": email, "password": password, "password_again": password, "role": role}
    r = post_form(client, "/signup", "/signup", data)
    assert r.status_code == 303, (r.status_code, r.text[-2000:])
    assert r.headers["location"] == HOME[role]


def login(
    client: httpx.Client, email: str, password: str = PASSWORD, next_path: str = ""
) -> httpx.Response:
    """The answer to the log-in form (303 on success; the caller checks)."""
    data = {"email": email, "password": password, "next": next_path}
    return post_form(client, "/login", "/login", data)


def logout(client: httpx.Client) -> None:
    r = post_form(client, "/account", "/logout", {})
    assert r.status_code == 303, r.status_code


@dataclass
class User:
    client: httpx.Client
    email: str
    role: str
    password: str


@contextmanager
def user(base_url: str, role: str = "patient", password: str = PASSWORD) -> Iterator[User]:
    """A new, logged-in account with its own client."""
    with httpx.Client(base_url=base_url, timeout=60) as client:
        email = new_email(role)
        signup(client, email, role, password)
        yield User(client=client, email=email, role=role, password=password)


# --- the diary --------------------------------------------------------------------------------------


def export(client: httpx.Client) -> dict[str, Any]:
    """The account's data, as the export download gives it."""
    r = client.get("/account/export.json")
    assert r.status_code == 200, r.status_code
    data: dict[str, Any] = json.loads(r.text)
    return data


def make_plan(client: httpx.Client, **fields: str) -> int:
    """A plan from a prescription (gabapentin 400 mg three times a day by default); its id."""
    data = {"product": "gabapentin", "dose_mg": "400", "times_per_day": "3", "start_date": ""}
    data |= fields
    if not data["start_date"]:
        data["start_date"] = server_today(client)
    r = post_form(client, "/diary/plan", "/diary/plan", data)
    assert r.status_code == 303, (r.status_code, r.text[-2000:])
    plan_id: int = max(p["id"] for p in export(client)["plans"])
    return plan_id


def add_entry(client: httpx.Client, day: str, pain: int | str, **fields: Any) -> httpx.Response:
    """The answer to the diary form for ``day`` (303, or 200 with the red-flag alert)."""
    data: dict[str, str | Sequence[str]] = {"day": day, "pain": str(pain)}
    data |= {k: v if isinstance(v, list) else str(v) for k, v in fields.items()}
    return post_form(client, "/diary", "/diary/entries", data)


def new_share(client: httpx.Client) -> tuple[str, int]:
    """A new share code and the share's id."""
    r = post_form(client, "/account", "/account/shares", {})
    assert r.status_code == 200, r.status_code
    code = by_id(r.text, "share-code")
    assert code is not None
    share_id: int = max(s["id"] for s in export(client)["shares"])
    return code.text, share_id


def redeem(client: httpx.Client, code: str) -> None:
    r = post_form(client, "/clinician", "/clinician/redeem", {"code": code})
    assert r.status_code == 303, (r.status_code, r.text[-2000:])


def new_feed(client: httpx.Client) -> str:
    """A new private calendar URL (shown once)."""
    r = post_form(client, "/diary/plan", "/diary/calendar", {})
    assert r.status_code == 200, r.status_code
    feed = by_id(r.text, "feed-url")
    assert feed is not None
    return feed.attrs["value"]


def server_today(client: httpx.Client) -> str:
    """The server's "today" (the diary page's date field defaults to it)."""
    field = by_id(client.get("/diary").text, "day")
    assert field is not None
    return field.attrs["max"]


# --- reading pages ----------------------------------------------------------------------------------

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
)


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    _parts: list[str] = field(default_factory=list, repr=False)


class _Find(HTMLParser):
    """The first element with an id, with its attributes and its text (tags dropped)."""

    def __init__(self, element_id: str) -> None:
        super().__init__()
        self.element_id = element_id
        self.found: Element | None = None
        self.depth = 0
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if self.found is None:
            values = {k: v or "" for k, v in attrs}
            if values.get("id") == self.element_id:
                self.found = Element(tag=tag, attrs=values)
                self.depth = 0 if tag in _VOID else 1
                self.done = tag in _VOID
        elif tag not in _VOID:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self.found is not None and not self.done and tag not in _VOID:
            self.depth -= 1
            self.done = self.depth == 0

    def handle_data(self, data: str) -> None:
        if self.found is not None and not self.done:
            self.found._parts.append(data)


def by_id(html: str, element_id: str) -> Element | None:
    """The element with ``id`` (its text with white space collapsed), or None."""
    parser = _Find(element_id)
    parser.feed(html)
    parser.close()
    if parser.found is not None:
        parser.found.text = " ".join("".join(parser.found._parts).split())
    return parser.found


def post_actions(html: str) -> list[str]:
    """The actions of the page's POST forms."""
    return re.findall(r'<form method="post" action="([^"]*)"', html)


def app_routes() -> set[tuple[str, str]]:
    """Every route of the app as (method, path) — ("MOUNT", path) for a mounted app — HEAD aside."""
    found = set()
    app = create_app(Settings(database_url="sqlite:///:memory:"))  # not started: no database opened
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            found.add(("MOUNT", str(route.path)))
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, str(route.path)))
    return found
