"""A diary entry the server acknowledged survives the server being killed: `gabaguide serve` runs as
a subprocess on a fresh database (SQLite file or PostgreSQL), a patient streams diary days at it from
several threads as fast as it answers, and after some acknowledged writes the server gets SIGKILL
while writes are still in flight. Restarted on the same database, the patient's export must hold
every acknowledged write with its exact values; a write that was never acknowledged may or may not
be there, but whatever is there is a whole entry exactly as sent (nothing half-written).

The measured counts (acknowledged, found, unacknowledged-but-present, in flight at the kill) go into
the JUnit XML as properties and into every assertion message.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest

from tests.dbs import BACKENDS, fresh_database_url
from tests.web.conftest import _free_port
from tests.web.test_serve import GABAGUIDE

PASSWORD = "durable diary 2026"
WRITERS = 4  # client threads, so that writes are in flight whenever the kill lands
ACKED_BEFORE_KILL = 40  # acknowledged writes (per round) before the server is killed
ROUNDS = 2  # kill, restart, check - twice on the same database
START_TIMEOUT_S = 60.0
SIDE_EFFECTS = ("dizziness", "drowsiness", "swelling", "dry-mouth")
RED_FLAG = "slow-breathing"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
RecordProperty = Callable[[str, object], None]  # the type of pytest's record_property fixture


@dataclass
class Server:
    """`gabaguide serve` in a subprocess, its output in a log file (a pipe nobody reads would fill
    up and stall the server)."""

    proc: subprocess.Popen[str]
    url: str
    log: Path
    out: TextIO

    def log_tail(self) -> str:
        self.out.flush()
        return "\n".join(self.log.read_text(encoding="utf-8").splitlines()[-30:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        self.out.close()


def start_server(database_url: str, log: Path) -> Server:
    port = _free_port()
    env = os.environ | {"GABAGUIDE_DATABASE_URL": database_url, "GABAGUIDE_LOAD_DEMO": "false"}
    out = log.open("a", encoding="utf-8")
    proc = subprocess.Popen(
        [*GABAGUIDE, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(proc=proc, url=f"http://127.0.0.1:{port}", log=log, out=out)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            pytest.fail(f"gabaguide serve did not start:\n{server.log_tail()}")
        time.sleep(0.05)


def csrf_of(client: httpx.Client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    found = CSRF.search(page.text)
    assert found, f"no csrf field on {path}"
    return found.group(1)


def sign_up(client: httpx.Client, email: str) -> str:
    """A new patient account; the CSRF token for the logged-in session."""
    form = {
        "csrf": csrf_of(client, "/signup"),
        "email": email,
        "password": PASSWORD,
        "password_again": PASSWORD,
        "role": "patient",
    }
    r = client.post("/signup", data=form)
    assert r.status_code == 303, (r.status_code, r.text[:500])
    assert r.headers["location"] == "/diary"
    return csrf_of(client, "/diary")


def log_in(client: httpx.Client, email: str) -> str:
    form = {"csrf": csrf_of(client, "/login"), "email": email, "password": PASSWORD}
    r = client.post("/login", data=form)
    assert r.status_code == 303, (r.status_code, r.text[:500])
    return csrf_of(client, "/diary")


def planned_write(n: int, tag: str) -> dict[str, Any]:
    """Write ``n``: its own day (n days before today), its own note, every field filled in; every
    seventh write reports a red flag (answered with the alert page instead of a redirect)."""
    return {
        "day": (date.today() - timedelta(days=n)).isoformat(),
        "pain": n % 11,
        "sleep_interference": (7 * n + 3) % 11,
        "doses_taken": n % 5,
        "side_effects": [s for bit, s in enumerate(SIDE_EFFECTS) if n >> bit & 1],
        "red_flags": [RED_FLAG] if n % 7 == 3 else [],
        "note": f"durability write {n} {tag}",
    }


def form_of(write: dict[str, Any], csrf: str) -> dict[str, str | list[str]]:
    form: dict[str, str | list[str]] = {"csrf": csrf}
    for key, value in write.items():
        form[key] = value if isinstance(value, list) else str(value)
    return form


def acknowledged(write: dict[str, Any], response: httpx.Response) -> bool:
    """The server's "saved": a redirect to the saved day, or the red-flag alert saying it is saved."""
    if write["red_flags"]:
        return response.status_code == 200 and f"Your diary for {write['day']} is saved" in (
            response.text
        )
    return response.status_code == 303 and response.headers.get("location") == (
        f"/diary?saved={write['day']}"
    )


@dataclass
class Stream:
    """Writes sent from several threads; which were acknowledged, which got another answer."""

    numbers: Iterator[int]
    tag: str
    sent: dict[int, dict[str, Any]] = field(default_factory=dict)
    acked: set[int] = field(default_factory=set)
    unexpected: list[tuple[int, int, str]] = field(default_factory=list)
    in_flight: int = 0
    in_flight_at_kill: int = -1
    lock: threading.Lock = field(default_factory=threading.Lock)
    enough: threading.Event = field(default_factory=threading.Event)
    target: int = 0

    def writer(self, url: str, cookies: httpx.Cookies, csrf: str) -> None:
        """Send writes until the server is gone (or answers anything but "saved")."""
        try:
            self._write(url, cookies, csrf)
        except Exception as exc:  # a bug in the test or the client: fail, do not hang
            with self.lock:
                self.unexpected.append((-1, -1, repr(exc)))
                self.enough.set()

    def _write(self, url: str, cookies: httpx.Cookies, csrf: str) -> None:
        with httpx.Client(base_url=url, cookies=cookies, timeout=30) as client:
            while True:
                with self.lock:
                    n = next(self.numbers)
                    write = self.sent[n] = planned_write(n, self.tag)
                    self.in_flight += 1
                try:
                    response = client.post("/diary/entries", data=form_of(write, csrf))
                except httpx.TransportError:
                    return  # the server is gone
                finally:
                    with self.lock:
                        self.in_flight -= 1
                with self.lock:
                    if acknowledged(write, response):
                        self.acked.add(n)
                        if len(self.acked) >= self.target:
                            self.enough.set()
                    else:
                        self.unexpected.append((n, response.status_code, response.text[:300]))
                        self.enough.set()
                        return

    def kill_mid_stream(self, server: Server, url: str, cookies: httpx.Cookies, csrf: str) -> None:
        """Stream until ``target`` writes are acknowledged, then SIGKILL the server (from this
        thread, while the writer threads keep sending) and wait for the writers to notice."""
        threads = [
            threading.Thread(target=self.writer, args=(url, cookies, csrf), daemon=True)
            for _ in range(WRITERS)
        ]
        for t in threads:
            t.start()
        reached = self.enough.wait(timeout=120)
        with self.lock:
            self.in_flight_at_kill = self.in_flight
        server.proc.kill()
        server.proc.wait(timeout=20)
        for t in threads:
            t.join(timeout=60)
        assert reached, f"only {len(self.acked)} writes acknowledged in 120 s"
        assert not any(t.is_alive() for t in threads), "a writer hangs after the kill"


def check_export(client: httpx.Client, stream: Stream, round_: int, backend: str) -> dict[str, int]:
    """Every acknowledged write is in the export exactly as sent; every entry there is one of the
    writes sent, whole. The counts measured."""
    r = client.get("/account/export.json")
    assert r.status_code == 200, r.status_code
    diary = r.json()["diary"]
    by_day = {e["day"]: e for e in diary}
    sent_by_day = {w["day"]: (n, w) for n, w in stream.sent.items()}
    acked_days = {stream.sent[n]["day"] for n in stream.acked}
    counts = {
        "round": round_,
        "attempted": len(stream.sent),
        "acknowledged": len(stream.acked),
        "in_flight_at_kill": stream.in_flight_at_kill,
        "found": len(diary),
        "acknowledged_found": len(acked_days & by_day.keys()),
        "unacknowledged_but_present": len(by_day.keys() - acked_days),
    }
    summary = f"{backend} round {round_}: {json.dumps(counts)}"
    assert len(by_day) == len(diary), f"two entries for one day; {summary}"
    assert stream.unexpected == [], f"answers that were not 'saved': {stream.unexpected}; {summary}"
    missing = sorted(n for n in stream.acked if stream.sent[n]["day"] not in by_day)
    assert missing == [], f"acknowledged writes lost: {missing}; {summary}"
    stranger = sorted(by_day.keys() - sent_by_day.keys())
    assert stranger == [], f"entries nobody sent: {stranger}; {summary}"
    for day, entry in by_day.items():
        n, write = sent_by_day[day]
        assert entry == write, (
            f"write {n} {'(acked)' if n in stream.acked else ''} differs; {summary}"
        )
    assert stream.in_flight_at_kill > 0, f"the kill did not land mid-stream; {summary}"
    return counts


@pytest.mark.parametrize("backend", BACKENDS)
def test_acknowledged_diary_writes_survive_sigkill(
    backend: str, tmp_path: Path, record_property: RecordProperty
) -> None:
    with fresh_database_url(backend, tmp_path) as url:
        run_rounds(backend, url, tmp_path / "serve.log", record_property)


def run_rounds(backend: str, url: str, log: Path, record_property: RecordProperty) -> None:
    """Sign up, then ROUNDS times: stream, kill mid-stream, restart, log in, check the export."""
    email = f"durable-{uuid.uuid4().hex[:12]}@example.org"
    stream = Stream(numbers=itertools.count(), tag=uuid.uuid4().hex[:8])
    started = time.monotonic()
    server = start_server(url, log)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            csrf = sign_up(client, email)
            cookies = client.cookies
        for round_ in range(1, ROUNDS + 1):
            stream.target = len(stream.acked) + ACKED_BEFORE_KILL
            stream.enough.clear()
            stream.kill_mid_stream(server, server.url, cookies, csrf)
            server.out.close()
            server = start_server(url, log)
            with httpx.Client(base_url=server.url, timeout=30) as client:
                csrf = log_in(client, email)
                cookies = client.cookies
                counts = check_export(client, stream, round_, backend)
            record_property(f"{backend}_round{round_}", json.dumps(counts))
            print(f"durability {backend} round {round_}: {json.dumps(counts)}")
    finally:
        server.stop()
    record_property(f"{backend}_seconds", round(time.monotonic() - started, 1))
