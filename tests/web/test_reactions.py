"""'What's your reaction?': one reaction per visitor per page (changeable), counts, a rate limit,
and nothing personal stored."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gabaguide.web import Settings
from tests.web.conftest import LiveServer, start_server
from tests.web.users import csrf_of

HX = {"HX-Request": "true"}


def counts(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-count="([a-z]+)">(\d+)<', html)}


def token(client: httpx.Client, page: str = "/learn/uses") -> str:
    """The visitor's CSRF token, from a page with the reaction form (as a browser has it)."""
    return csrf_of(client.get(page).text)


def test_one_reaction_per_visitor_changeable(live_server: LiveServer) -> None:
    with (
        httpx.Client(base_url=live_server.url) as visitor,
        httpx.Client(base_url=live_server.url) as other,
    ):
        page = visitor.get("/learn/taking-it").text
        before, mine, theirs = counts(page), csrf_of(page), token(other, "/learn/taking-it")
        r = visitor.post(
            "/learn/taking-it/reaction", data={"reaction": "helpful", "csrf": mine}, headers=HX
        )
        assert r.status_code == 200
        assert counts(r.text)["helpful"] == before.get("helpful", 0) + 1
        assert 'aria-pressed="true" data-reaction="helpful"' in r.text
        # The same visitor again: still one reaction.
        r = visitor.post(
            "/learn/taking-it/reaction", data={"reaction": "helpful", "csrf": mine}, headers=HX
        )
        assert counts(r.text)["helpful"] == before.get("helpful", 0) + 1
        # Changed: moves from helpful to confusing.
        r = visitor.post(
            "/learn/taking-it/reaction", data={"reaction": "confusing", "csrf": mine}, headers=HX
        )
        after = counts(r.text)
        assert after["helpful"] == before.get("helpful", 0)
        assert after["confusing"] == before.get("confusing", 0) + 1
        # Another visitor counts separately.
        r = other.post(
            "/learn/taking-it/reaction", data={"reaction": "confusing", "csrf": theirs}, headers=HX
        )
        assert counts(r.text)["confusing"] == before.get("confusing", 0) + 2


def test_without_javascript_the_form_redirects_back(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as c:
        r = c.post("/learn/uses/reaction", data={"reaction": "clear", "csrf": token(c)})
        assert r.status_code == 303
        assert r.headers["location"] == "/learn/uses#reactions"
        assert 'aria-pressed="true" data-reaction="clear"' in c.get("/learn/uses").text


def test_nothing_personal_is_stored(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url) as c:
        page = c.get("/learn/interactions").text
        data = {"reaction": "worried", "csrf": csrf_of(page)}
        assert c.post("/learn/interactions/reaction", data=data, headers=HX).status_code == 200
        cookie = c.cookies["gg_visitor"]
    with sqlite3.connect(live_server.database) as db:
        rows = db.execute("SELECT * FROM reactions WHERE page = 'interactions'").fetchall()
        columns = [d[0] for d in db.execute("SELECT * FROM reactions").description]
    assert columns == ["id", "page", "visitor", "reaction", "updated_at"]
    assert rows
    assert all(cookie not in str(row) and "127.0.0.1" not in str(row) for row in rows)


@pytest.mark.parametrize(
    ("path", "data", "status"),
    [
        pytest.param("/learn/uses/reaction", {"reaction": "love"}, 422, id="unknown-reaction"),
        pytest.param("/learn/uses/reaction", {}, 422, id="missing-reaction"),
        pytest.param("/learn/nope/reaction", {"reaction": "clear"}, 404, id="unknown-page"),
    ],
)
def test_bad_reactions_change_nothing(
    live_server: LiveServer, path: str, data: dict[str, str], status: int
) -> None:
    with sqlite3.connect(live_server.database) as db:
        before = db.execute("SELECT count(*) FROM reactions").fetchone()
    with httpx.Client(base_url=live_server.url) as c:
        r = c.post(path, data={**data, "csrf": token(c)})
    assert r.status_code == status
    assert r.json()["detail"]
    with sqlite3.connect(live_server.database) as db:
        assert db.execute("SELECT count(*) FROM reactions").fetchone() == before


@pytest.fixture
def limited_server(tmp_path: Path) -> Iterator[str]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite3'}", reaction_limit=3)
    server, thread, url = start_server(settings)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_reactions_are_rate_limited_per_client(limited_server: str) -> None:
    statuses = []
    for n in range(5):
        with httpx.Client(base_url=limited_server) as fresh:  # a new visitor each time
            data = {"reaction": "helpful", "csrf": token(fresh)}
            r = fresh.post("/learn/uses/reaction", data=data, headers=HX)
            statuses.append(r.status_code)
            if n == 4:
                assert "try again" in r.text
                assert counts(r.text)["helpful"] == 3
    assert statuses == [200, 200, 200, 429, 429]
