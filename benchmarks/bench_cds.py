"""CDS Hooks order-sign latency at a fixed request rate with JWT verification on, against a same-run
baseline (GET /cds-services, discovery).

What it measures
    1. Makes an ES384 key (P-384) and writes a trusted-issuers file with its public JWK Set in a
       temporary directory, then starts the real server as a separate process --
       ``.venv/bin/gabaguide serve --host 127.0.0.1 --port N --workers W`` (``--workers``, 2:
       uvicorn's parent process and W worker processes, each building the app from the
       environment; 1: uvicorn in one process) with ``GABAGUIDE_CDS_ISSUERS`` naming that file,
       ``GABAGUIDE_DATABASE_URL`` a fresh SQLite file next to it and ``GABAGUIDE_LOAD_DEMO=false``
       (the workers start together on the fresh database: none loads the demo patients; every
       other ``GABAGUIDE_*`` variable is dropped, so JWT verification is on, as by default) -- and
       waits for ``GET /healthz`` and for every worker's "Application startup complete." in the
       server's log. The server (SIGTERM to the parent, which stops its workers; then SIGKILL to
       whatever of its process tree is left) and the load generator are stopped at the end, also
       on error or Ctrl-C. Traffic goes to 127.0.0.1 only. The workers share the jti memory and
       the shown cards through the one SQLite database.
    2. The request: ``examples/cds/order-sign.json`` (a gabapentin 800 mg three times a day draft
       order, a 78-year-old man, 3 creatinine results, a weight) with its prefetch extended to 10
       active MedicationRequests (oxycodone/acetaminophen, tramadol, hydromorphone, alprazolam,
       cyclobenzaprine by RxNorm code from the bundled vocabulary; lisinopril, amlodipine,
       metoprolol, atorvastatin, metformin by name), 5 conditions and 2 allergies. Every request
       has its own draft order id (``gaba-draft-<n>``) and hookInstance: the service never repeats
       a card for the same order, so a repeated id would be answered with no cards and the work
       skipped. Every request carries its own token (``aud`` the endpoint URL, unique ``jti``,
       ``exp`` 15 min ahead), all signed before the timed runs; the bodies and whole HTTP requests
       are rendered by the load generator before its clock starts.
    3. Checks: one call answered 200 with the dose card and its corrected-order suggestion; the same
       order again answered with no cards (the never-repeat rule); a replayed token and a call
       without a token answered 401 (verification is on). Then a closed-loop warm-up (``--warmup``
       requests per endpoint), whose order-sign throughput sizes the max-throughput pass's tokens.
    4. rate pass: the load generator -- a separate process (multiprocessing, spawn), asyncio with
       uvloop when installed, HTTP/1.1 over ``--concurrency`` (4) keep-alive loopback connections
       -- sends request i at t0 + i / ``--rate`` (200 req/s, evenly spaced) for ``--duration``
       seconds (20), first GET /cds-services (the baseline: same process, HTTP stack and
       middleware, no JWT, no work), then POST /cds-services/gabaguide-order-sign. Open loop: a
       request whose time comes while every connection is busy waits for one, and its latency is
       measured from its scheduled send time, so queueing counts (coordinated-omission safe). A
       server that falls behind builds a backlog: sending stops at 1.25 x the duration, and what
       was still queued then is reported as "not sent" (the percentiles are of the answered
       requests, so they understate such a run).
    5. max-throughput pass: order-sign, closed loop, ``--max-concurrency`` connections (8) for
       ``--max-duration`` seconds (10; 0 skips it): the headroom.
    From the generator's own per-request records: p50, p90, p99 and max latency (nearest rank),
    achieved requests/s (answers / span from the first scheduled send to the last answer), non-2xx
    answers, errors (timeouts, resets, malformed answers), order-sign answers without a
    corrected-order suggestion (work skipped), and the send lag (how late requests left). Also
    the server's CPU time per request and the cores it kept busy, summed over its whole process
    tree -- the uvicorn parent and its descendants (the workers and multiprocessing's resource
    tracker), found through ``/proc/PID/task/TID/children`` recursively at the start and the end
    of each pass, each process's utime + stime from ``/proc/PID/stat`` (a process that came
    during a pass counts from 0, one gone by its end is missing, and a note says so); each
    worker's share is printed too (how evenly the keep-alive connections were spread; a note
    when one worker got under a quarter of another's CPU). Also the generator's CPU, and the cores
    the machine kept busy (``/proc/stat``).
    6. where the time goes, in this process after the server stopped (best of 5 loops, garbage
       collector on): the token check (``Verifier.verify`` with the jti memory stubbed; the
       ECDSA P-384 verification alone; the JWK Set parse it does per call), the jti record
       (SQLite, as the server does it), ``json.loads`` of the body, ``HookRequest`` +
       ``OrderContext`` parse and the FHIR resource reading (``_patient`` and ``_read``, with the
       other-patient checks), ``read_chart``, ``advise()``, the answer (``show_once`` in SQLite +
       the cards' compaction) and its JSON dump, and the whole ``_answer`` -- the floor under the
       server's time per request. ``--profile N`` also prints the top of a cProfile of N token
       checks + ``_answer`` calls.

Goal: p99 <= 25 ms for order-sign at 200 requests/s on 2 cores with JWT verification on (the load
generator runs on the same cores; judged only when ``--rate`` is 200, whatever ``--workers``; the
rate must be held to 95 % and every request answered 2xx).

How to run
    bash scripts/bench cds                         # runs: python benchmarks/bench_cds.py "$@"
    bash scripts/bench cds --workers 1             # uvicorn in one process, for comparison
    python benchmarks/bench_cds.py --rate 200 --concurrency 4 --duration 20 --max-duration 10
    python benchmarks/bench_cds.py --duration 5 --max-duration 0    # quick look
    python benchmarks/bench_cds.py --profile 300                    # and where _answer spends
The results are written as JSON to ``benchmarks/out/cds.json`` (``--out``; git-ignored).

Exit status: 0 when every request was answered with a 2xx and every order-sign answer had its card
(whether or not the goal is met), 1 when the server did not start or died, a check failed, or any
request errored, was answered with a non-2xx status or without the card.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import multiprocessing as mp
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench_assess import cpu_model, gabaguide_exe, git_rev
from bench_web import (
    HEALTHZ,
    HOST,
    RATE_SLACK,
    STOP_TIMEOUT_S,
    BenchError,
    Server,
    best_per_call,
    fail,
    fmt,
    free_port,
    get,
    latency_table,
    percentile,
    stop_server,
    system_busy_s,
    wait_ready,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cds" / "order-sign.json"
SERVICE_ID = "gabaguide-order-sign"
SIGN = f"/cds-services/{SERVICE_ID}"
DISCOVERY = "/cds-services"
ISSUER = "https://ehr.bench.example/cds-client"
KID = "bench-es384-1"
TOKEN_LIFE_S = 900  # exp: 15 min ahead, well past the default run (~90 s)
PLACEHOLDER = "@@N@@"
GOAL_P99_MS = 25.0
GOAL_RATE = 200.0
GOAL_CORES = 2
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 10.0
STOP_AFTER = 1.25  # rate pass: sending stops at 1.25 x --duration (an overloaded server)
MAX_TOKENS = 40_000  # max-throughput pass: at most this many tokens signed
BUSY_CORES = 0.25
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"


# --- the request -----------------------------------------------------------------------------------


def _med(
    rid: str,
    name: str,
    rxcui: str | None,
    text: str,
    quantity: tuple[float, str],
    frequency: int,
    period: float,
    unit: str,
) -> dict[str, Any]:
    """An active MedicationRequest of the example patient (by RxNorm code when the bundled
    vocabulary has it, else by name)."""
    concept: dict[str, Any] = {"text": name}
    if rxcui is not None:
        concept["coding"] = [{"system": RXNORM, "code": rxcui, "display": name}]
    value, dose_unit = quantity
    return {
        "fullUrl": f"http://ehr.example/fhir/MedicationRequest/{rid}",
        "resource": {
            "resourceType": "MedicationRequest",
            "id": rid,
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": concept,
            "subject": {"reference": "Patient/example-78m"},
            "authoredOn": "2026-09-15",
            "dosageInstruction": [
                {
                    "text": text,
                    "timing": {
                        "repeat": {"frequency": frequency, "period": period, "periodUnit": unit}
                    },
                    "doseAndRate": [
                        {
                            "doseQuantity": {
                                "value": value,
                                "unit": dose_unit,
                                "system": UCUM,
                                "code": dose_unit,
                            }
                        }
                    ],
                }
            ],
        },
    }


def _condition(cid: str, code: str, name: str) -> dict[str, Any]:
    return {
        "fullUrl": f"http://ehr.example/fhir/Condition/{cid}",
        "resource": {
            "resourceType": "Condition",
            "id": cid,
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": {"coding": [{"system": SNOMED, "code": code, "display": name}], "text": name},
            "subject": {"reference": "Patient/example-78m"},
        },
    }


def _allergy(aid: str, code: str | None, name: str) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": name}
    if code is not None:
        concept["coding"] = [{"system": SNOMED, "code": code, "display": name}]
    return {
        "fullUrl": f"http://ehr.example/fhir/AllergyIntolerance/{aid}",
        "resource": {
            "resourceType": "AllergyIntolerance",
            "id": aid,
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                        "code": "active",
                    }
                ]
            },
            "code": concept,
            "patient": {"reference": "Patient/example-78m"},
        },
    }


def _bundle(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def order_sign_request() -> dict[str, Any]:
    """examples/cds/order-sign.json with 10 active medications, 5 conditions and 2 allergies; the
    draft order id and hookInstance hold PLACEHOLDER (one number per request)."""
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    data["hookInstance"] = f"bench-hook-{PLACEHOLDER}"
    draft = data["context"]["draftOrders"]["entry"]
    if len(draft) != 1 or draft[0]["resource"]["id"] != "gaba-draft-1":
        raise BenchError(f"{EXAMPLE}: expected one draft order gaba-draft-1")
    draft[0]["resource"]["id"] = f"gaba-draft-{PLACEHOLDER}"
    prefetch = data["prefetch"]
    if len(prefetch["creatinine"]["entry"]) != 3 or len(prefetch["weight"]["entry"]) != 1:
        raise BenchError(f"{EXAMPLE}: expected 3 creatinine results and 1 weight")
    example_meds = prefetch["medications"]["entry"]  # oxycodone/acetaminophen and alprazolam
    tab = (1, "{tablet}")
    prefetch["medications"] = _bundle(
        [
            *example_meds,
            _med(
                "trm-1",
                "tramadol hydrochloride 50 MG Oral Tablet",
                "835603",
                "1 tablet every 8 hours",
                tab,
                1,
                8,
                "h",
            ),
            _med(
                "hmp-1",
                "hydromorphone hydrochloride 2 MG Oral Tablet",
                "897696",
                "1 tablet every 6 hours",
                tab,
                1,
                6,
                "h",
            ),
            _med(
                "cyc-1",
                "cyclobenzaprine hydrochloride 5 MG Oral Tablet",
                "828320",
                "1 tablet three times a day",
                tab,
                3,
                1,
                "d",
            ),
            _med(
                "lis-1",
                "lisinopril 10 MG Oral Tablet",
                None,
                "10 mg once a day",
                (10, "mg"),
                1,
                1,
                "d",
            ),
            _med(
                "aml-1",
                "amlodipine 5 MG Oral Tablet",
                None,
                "5 mg once a day",
                (5, "mg"),
                1,
                1,
                "d",
            ),
            _med(
                "mtp-1",
                "metoprolol tartrate 25 MG Oral Tablet",
                None,
                "25 mg twice a day",
                (25, "mg"),
                2,
                1,
                "d",
            ),
            _med(
                "atv-1",
                "atorvastatin 40 MG Oral Tablet",
                None,
                "40 mg once a day at night",
                (40, "mg"),
                1,
                1,
                "d",
            ),
            _med(
                "mtf-1",
                "metformin hydrochloride 500 MG Oral Tablet",
                None,
                "500 mg twice a day with meals",
                (500, "mg"),
                2,
                1,
                "d",
            ),
        ]
    )
    prefetch["conditions"] = _bundle(
        [
            *prefetch["conditions"]["entry"],  # postherpetic neuralgia
            _condition("c2", "38341003", "Hypertensive disorder"),
            _condition("c3", "44054006", "Type 2 diabetes mellitus"),
            _condition("c4", "55822004", "Hyperlipidemia"),
            _condition("c5", "433144002", "Chronic kidney disease stage 3"),
        ]
    )
    prefetch["allergies"] = _bundle(
        [
            _allergy("a1", "764146007", "Penicillin"),
            _allergy("a2", None, "Sulfonamide antibiotics"),
        ]
    )
    return data


def body_parts(data: dict[str, Any]) -> list[str]:
    """The compact JSON text split at PLACEHOLDER: ``str(n).join(parts)`` is request n's body."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    parts = text.split(PLACEHOLDER)
    if len(parts) != 3:
        raise AssertionError(f"expected 2 placeholders, got {len(parts) - 1}")
    return parts


def body(parts: list[str], n: int) -> bytes:
    return str(n).join(parts).encode()


# --- JWT -------------------------------------------------------------------------------------------


@dataclass
class Keys:
    private: Any  # EllipticCurvePrivateKey
    jwks: dict[str, Any]


def make_keys() -> Keys:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec

    private = ec.generate_private_key(ec.SECP384R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    jwk |= {"kid": KID, "alg": "ES384", "use": "sig"}
    return Keys(private, {"keys": [jwk]})


def sign_tokens(keys: Keys, audience: str, n: int) -> list[str]:
    """``n`` ES384 tokens for ``audience``, each with its own jti."""
    import jwt

    now = int(time.time())
    claims = {"iss": ISSUER, "sub": ISSUER, "aud": audience, "iat": now, "exp": now + TOKEN_LIFE_S}
    headers = {"kid": KID, "typ": "JWT"}
    return [
        jwt.encode(
            {**claims, "jti": uuid.uuid4().hex}, keys.private, algorithm="ES384", headers=headers
        )
        for _ in range(n)
    ]


# --- the server ------------------------------------------------------------------------------------


def server_env(database: Path, issuers: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GABAGUIDE_")}
    env["GABAGUIDE_DATABASE_URL"] = f"sqlite:///{database}"
    env["GABAGUIDE_CDS_ISSUERS"] = str(issuers)
    # Worker processes start together on the fresh database: none of them loads the demo patients.
    env["GABAGUIDE_LOAD_DEMO"] = "false"
    return env


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux ``/proc/PID/task/TID/children``, recursively); [] when
    ``pid`` is gone or there is no /proc."""
    if not Path(f"/proc/{pid}").exists():
        return []
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            with suppress(OSError):
                todo.extend(int(c) for c in children.read_text().split())
    return out


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads) so far; None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_role(pid: int, root: int) -> str:
    """ "parent", "worker" (a uvicorn worker process) or "other" (multiprocessing's resource
    tracker) -- "parent" for the single process of ``--workers 1``."""
    if pid == root:
        return "parent"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return "other"
    return "worker" if b"spawn_main" in cmdline else "other"


def tree_cpu_s(pid: int) -> dict[int, float] | None:
    """CPU seconds so far of each process of ``pid``'s tree; None when ``pid`` is gone."""
    out = {}
    for p in process_tree(pid):
        cpu = process_cpu_s(p)
        if cpu is not None:
            out[p] = cpu
    return out if pid in out else None


@dataclass
class Served:
    """The server's parent process (bench_web's Server) and its worker count."""

    server: Server
    workers: int

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base(self) -> str:
        return self.server.base

    @property
    def pid(self) -> int:
        return self.server.proc.pid

    def log_tail(self, n: int = 30) -> list[str]:
        return self.server.log_tail(n)

    def check_alive(self) -> None:
        self.server.check_alive()

    def started(self) -> int:
        """Worker processes (or the single process) that finished their application start-up."""
        try:
            return self.server.log.read_text(encoding="utf-8", errors="replace").count(
                "Application startup complete."
            )
        except OSError:
            return 0


def wait_workers(served: Served) -> bool:
    """True once every worker has started its app (``/healthz`` answers when the first one has)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and served.server.proc.poll() is None:
        if served.started() >= served.workers:
            return True
        time.sleep(0.1)
    return False


def stop_tree(served: Served) -> None:
    """Stop the parent (SIGTERM: uvicorn stops its workers and waits for them; SIGKILL after a
    while), then SIGKILL any process of its tree left behind (by pid, only while it is still in the
    server's process group)."""
    pids = [p for p in process_tree(served.pid) if p != served.pid]
    stop_server(served.server)
    pgid = served.pid  # start_new_session: the parent leads its own process group
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while True:
        left = []
        for p in pids:
            with suppress(OSError):
                state = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
                if os.getpgid(p) == pgid and state != "Z":
                    left.append(p)
        if not left:
            return
        if time.monotonic() >= deadline:
            for p in left:
                with suppress(OSError):
                    os.kill(p, signal.SIGKILL)
            deadline = math.inf  # killed: wait for them to go
        time.sleep(0.1)


def start_server(tmp: Path, issuers: Path, workers: int, attempts: int = 3) -> Served:
    """The server on a free loopback port with ``workers`` worker processes, every one started and
    ``/healthz`` answering (a port taken meanwhile: retried)."""
    exe = gabaguide_exe()
    database = tmp / "cds.sqlite3"
    for attempt in range(1, attempts + 1):
        port = free_port()
        log = tmp / f"server-{attempt}.log"
        cmd = [exe, "serve", "--host", HOST, "--port", str(port), "--workers", str(workers)]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=server_env(database, issuers),
                cwd=tmp,
                start_new_session=True,
            )
        served = Served(Server(proc, port, log, database), workers)
        try:
            if wait_ready(served.server) and wait_workers(served):
                return served
        except BaseException:
            stop_tree(served)
            raise
        tail = served.log_tail()
        taken = "address already in use" in "\n".join(tail).lower()
        stop_tree(served)
        if taken and attempt < attempts:
            continue
        raise BenchError(
            f"the server did not answer {HEALTHZ} with its {workers} worker(s) started within "
            f"{START_TIMEOUT_S:g} s or exited ({proc.returncode}): {' '.join(cmd)}\n"
            + "\n".join(f"  {line}" for line in tail)
        )
    raise AssertionError("unreachable")


@contextmanager
def running_server(tmp: Path, issuers: Path, workers: int) -> Iterator[Served]:
    server = start_server(tmp, issuers, workers)
    try:
        yield server
    finally:
        stop_tree(server)


def call(server: Served, path: str, payload: bytes | None, token: str | None) -> tuple[int, bytes]:
    """One request with urllib (the checks, not the load)."""
    import urllib.error
    import urllib.request

    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        server.base + path,
        data=payload,
        method="POST" if payload is not None else "GET",
        headers=headers,
    )
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def dose_card(answer: dict[str, Any]) -> dict[str, Any] | None:
    """The card with a corrected order (an ``update`` action), if any."""
    for card in answer.get("cards") or []:
        for s in card.get("suggestions") or []:
            if any(a.get("type") == "update" for a in s.get("actions") or []):
                return dict(card)
    return None


def check_service(server: Served, parts: list[str], tokens: list[str]) -> dict[str, Any]:
    """The answers are what the benchmark means to measure (4 tokens used)."""
    status, answer = call(server, SIGN, body(parts, 0), tokens[0])
    if status != 200:
        raise BenchError(f"POST {SIGN} answered {status}: {answer[:300]!r}")
    first = json.loads(answer)
    card = dose_card(first)
    if card is None:
        summaries = [c.get("summary") for c in first.get("cards") or []]
        raise BenchError(f"POST {SIGN}: no dose card with a corrected order; cards {summaries}")
    status, again = call(server, SIGN, body(parts, 0), tokens[1])
    repeat_cards = len(json.loads(again).get("cards") or []) if status == 200 else None
    if repeat_cards != 0:
        raise BenchError(
            f"POST {SIGN}: the same order again answered {status} with {repeat_cards} card(s); "
            "expected 200 and none (the never-repeat rule)"
        )
    replay, _ = call(server, SIGN, body(parts, 1), tokens[1])
    no_token, _ = call(server, SIGN, body(parts, 1), None)
    if replay != 401 or no_token != 401:
        raise BenchError(
            f"JWT verification looks off: a replayed token got {replay}, no token got {no_token}"
        )
    status, disc = get(server.base + DISCOVERY)
    if status != 200 or len(json.loads(disc).get("services") or []) < 2:
        raise BenchError(f"GET {DISCOVERY} answered {status}: {disc[:300]!r}")
    return {
        "cards": [
            {
                "indicator": c["indicator"],
                "summary": c["summary"],
                "suggestions": len(c.get("suggestions") or []),
            }
            for c in first["cards"]
        ],
        "dose_card": card["summary"],
        "suggestion": card["suggestions"][0]["label"],
        "answer_bytes": len(answer),
        "discovery_bytes": len(disc),
        "replayed_token_status": replay,
        "no_token_status": no_token,
    }


# --- the load generator (a separate process) -------------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    """What one run of the load generator sends. ``rate`` None: closed loop."""

    name: str
    port: int
    method: str
    path: str
    requests: int
    concurrency: int
    duration_s: float
    rate: float | None
    parts: list[str] | None = None  # POST bodies: str(first_id + i).join(parts)
    tokens: list[str] | None = None
    first_id: int = 0
    expect: bytes | None = None  # a 200 answer must contain this (else counted as "no card")


def render(spec: LoadSpec) -> list[bytes]:
    head = f"{spec.method} {spec.path} HTTP/1.1\r\nHost: {HOST}:{spec.port}\r\n"
    if spec.parts is None:
        one = (head + "Accept: application/json\r\n\r\n").encode()
        return [one] * spec.requests
    assert spec.tokens is not None
    assert len(spec.tokens) >= spec.requests
    out = []
    for i in range(spec.requests):
        payload = body(spec.parts, spec.first_id + i)
        out.append(
            (
                f"{head}Authorization: Bearer {spec.tokens[i]}\r\n"
                "Content-Type: application/json\r\nAccept: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            ).encode()
            + payload
        )
    return out


class BadAnswerError(Exception):
    pass


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes, bool]:
    """(status, body, keep-alive) of one HTTP/1.1 request."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise BadAnswerError(f"status line {lines[0]!r}")
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        data = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            chunks.append(chunk[:-2])
        data = b"".join(chunks)
    else:
        raise BadAnswerError("an answer without a length")
    return status, data, headers.get("connection", "").lower() != "close"


async def _load(spec: LoadSpec, requests: list[bytes]) -> dict[str, Any]:
    """Send ``requests`` as ``spec`` says; times from ``time.perf_counter`` (uvloop's loop.time()
    has millisecond steps)."""
    clock = time.perf_counter
    n = len(requests)
    latency: list[float | None] = [None] * n
    lag: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    missing = 0
    next_i = 0
    ends: list[float] = []
    t0 = clock() + (0.05 if spec.rate is not None else 0.0)
    deadline = t0 + spec.duration_s
    stop_at = t0 + spec.duration_s * STOP_AFTER  # rate: what is not sent by then never is
    unsent = 0

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(HOST, spec.port)

    async def worker() -> None:
        nonlocal next_i, missing, unsent
        conn = await connect()
        try:
            while True:
                i = next_i
                if i >= n:
                    return
                if spec.rate is not None:
                    if clock() >= stop_at:
                        unsent, next_i = n - i, n
                        return
                    next_i += 1
                    scheduled = t0 + i / spec.rate
                    delay = scheduled - clock()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    lag.append(clock() - scheduled)
                else:
                    scheduled = clock()
                    if scheduled >= deadline:
                        return
                    next_i += 1
                try:
                    async with asyncio.timeout(REQUEST_TIMEOUT_S):
                        status, data, keep = await _exchange(*conn, requests[i])
                except (OSError, TimeoutError, asyncio.IncompleteReadError, BadAnswerError) as exc:
                    errors[type(exc).__name__] += 1
                    conn[1].close()
                    conn = await connect()
                    continue
                end = clock()
                latency[i] = end - scheduled
                ends.append(end)
                statuses[status] += 1
                if spec.expect is not None and status == 200 and spec.expect not in data:
                    missing += 1
                if not keep:
                    conn[1].close()
                    conn = await connect()
        finally:
            conn[1].close()

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    done = [x for x in latency if x is not None]
    return {
        "latencies_s": done,
        "statuses": statuses,
        "errors": errors,
        "no_card": missing,
        "sent": next_i - unsent,
        "unsent": unsent,
        "span_s": (max(ends) - t0) if ends else 0.0,
        "lag_s": sorted(lag),
    }


def load_process(conn: Connection, spec: LoadSpec) -> None:
    """The load generator: render every request, say "ready", wait for "go", run, send results."""
    try:
        import uvloop  # type: ignore[import-not-found, unused-ignore]

        runner: Any = uvloop.run
        loop_name = "uvloop"
    except ImportError:
        runner, loop_name = asyncio.run, "asyncio"
    requests = render(spec)
    conn.send("ready")
    if conn.recv() != "go":
        return
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    result = runner(_load(spec, requests))
    result["loader_cpu_s"] = time.process_time() - cpu0
    result["loader_wall_s"] = time.monotonic() - wall0
    result["loop"] = loop_name
    conn.send(result)


@dataclass
class Measured:
    result: dict[str, Any]
    wall_s: float
    server_cpu_s: float | None  # the whole tree: the parent, its workers, the resource tracker
    server_cpu_by_role: dict[str, list[float]]  # "parent"/"worker"/"other": each process's
    server_pids_changed: bool  # a process of the tree came or went during the run
    loader_cpu_s: float
    system_busy_s: float | None


def run_load(server: Served, spec: LoadSpec) -> Measured:
    """One run of the load generator in its own process; stopped whatever happens."""
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=load_process, args=(child, spec), name=f"load-{spec.name}")
    proc.start()
    child.close()
    try:
        if not parent.poll(120) or parent.recv() != "ready":
            raise BenchError(f"the load generator did not get ready ({spec.name})")
        cpu0, busy0 = tree_cpu_s(server.pid), system_busy_s()
        start = time.perf_counter()
        parent.send("go")
        limit = spec.duration_s + REQUEST_TIMEOUT_S + 60
        if not parent.poll(limit):
            raise BenchError(f"the load generator did not finish within {limit:g} s ({spec.name})")
        try:
            result = parent.recv()
        except EOFError:
            raise BenchError(
                f"the load generator died (exit {proc.exitcode}) ({spec.name})"
            ) from None
        wall = time.perf_counter() - start
        cpu1, busy1 = tree_cpu_s(server.pid), system_busy_s()
        server.check_alive()
        proc.join(10)
    finally:
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        parent.close()
    by_role: dict[str, list[float]] = {}
    if cpu0 is not None and cpu1 is not None:
        # per process: one started during the run counts from 0; one gone by its end is lost
        for pid, end in sorted(cpu1.items()):
            by_role.setdefault(process_role(pid, server.pid), []).append(end - cpu0.get(pid, 0.0))
    return Measured(
        result=result,
        wall_s=wall,
        server_cpu_s=sum(sum(v) for v in by_role.values()) if by_role else None,
        server_cpu_by_role=by_role,
        server_pids_changed=cpu0 is not None and cpu1 is not None and set(cpu0) != set(cpu1),
        loader_cpu_s=result["loader_cpu_s"],
        system_busy_s=None if busy0 is None or busy1 is None else busy1 - busy0,
    )


def summarise(m: Measured, spec: LoadSpec, pass_: str) -> dict[str, Any]:
    r = m.result
    lat = sorted(r["latencies_s"])
    n = len(lat)
    statuses: Counter[int] = r["statuses"]
    ms = 1e3

    def pct(values: list[float], q: float) -> float | None:
        return round(percentile(values, q) * ms, 2) if values else None

    def per_req(seconds: float | None) -> float | None:
        return None if seconds is None or n == 0 else round(seconds / n * ms, 3)

    def cores(seconds: float | None) -> float | None:
        return None if seconds is None or m.wall_s <= 0 else round(seconds / m.wall_s, 2)

    others = None
    if m.system_busy_s is not None and m.server_cpu_s is not None:
        others = cores(max(0.0, m.system_busy_s - m.server_cpu_s - m.loader_cpu_s))
    return {
        "pass": pass_,
        "endpoint": f"{spec.method} {spec.path}",
        "target_rate": spec.rate,
        "concurrency": spec.concurrency,
        "duration_s": spec.duration_s,
        "scheduled": spec.requests if spec.rate is not None else None,
        "sent": r["sent"],
        "requests": n,
        "achieved_rate": round(n / r["span_s"], 1) if r["span_s"] > 0 else None,
        "p50_ms": pct(lat, 0.50),
        "p90_ms": pct(lat, 0.90),
        "p99_ms": pct(lat, 0.99),
        "max_ms": round(lat[-1] * ms, 2) if lat else None,
        "mean_ms": round(sum(lat) / n * ms, 2) if lat else None,
        "non_2xx": sum(c for s, c in statuses.items() if not 200 <= s < 300),
        "statuses": {str(s): c for s, c in sorted(statuses.items())},
        "errors": sum(r["errors"].values()),
        "unsent": r["unsent"],
        "error_kinds": dict(r["errors"]),
        "no_card": r["no_card"] if spec.expect is not None else None,
        "send_lag_p50_ms": pct(r["lag_s"], 0.5),
        "send_lag_p99_ms": pct(r["lag_s"], 0.99),
        "wall_s": round(m.wall_s, 3),
        "span_s": round(r["span_s"], 3),
        "server_cpu_ms_per_request": per_req(m.server_cpu_s),
        "server_cpu_cores": cores(m.server_cpu_s),
        "server_cores_by_role": {
            role: [cores(v) for v in values] for role, values in m.server_cpu_by_role.items()
        },
        "server_processes": sum(len(v) for v in m.server_cpu_by_role.values()),
        "server_pids_changed": m.server_pids_changed,
        "loader_cpu_ms_per_request": per_req(m.loader_cpu_s),
        "loader_cpu_cores": cores(m.loader_cpu_s),
        "machine_busy_cores": cores(m.system_busy_s),
        "other_cpu_cores": others,
        "loop": r["loop"],
    }


def failed_requests(row: dict[str, Any]) -> str | None:
    what = f"{row['pass']} {row['endpoint']}"
    if row["requests"] == 0:
        return f"{what}: no answers"
    if row["non_2xx"]:
        return f"{what}: {row['non_2xx']} non-2xx answer(s) {row['statuses']}"
    if row["errors"]:
        return f"{what}: {row['errors']} request(s) failed {row['error_kinds']}"
    if row["no_card"]:
        return f"{what}: {row['no_card']} answer(s) without the corrected-order card"
    return None


# --- where the time goes (in process) --------------------------------------------------------------


def in_process(
    tmp: Path, keys: Keys, parts: list[str], profile: int
) -> tuple[dict[str, Any], str | None]:
    """Each stage of an order-sign call on the benchmark's request, best of 5 loops."""
    import jwt
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
    from fhir.resources.R4B.condition import Condition
    from fhir.resources.R4B.medicationrequest import MedicationRequest
    from fhir.resources.R4B.observation import Observation
    from starlette.responses import JSONResponse

    from gabaguide.interop.cdsadvice import advise
    from gabaguide.interop.cdshooks import HookRequest, OrderContext
    from gabaguide.interop.fhirchart import read_chart
    from gabaguide.knowledge import load_knowledge
    from gabaguide.store import cds as memory
    from gabaguide.store import open_store
    from gabaguide.web.cds import _answer, _patient, _read, _respond
    from gabaguide.web.cdsauth import Issuer, Verifier
    from gabaguide.web.settings import Settings
    from gabaguide.web.state import AppState

    k = load_knowledge()
    store = open_store(f"sqlite:///{tmp / 'in-process.sqlite3'}")
    public = f"http://{HOST}:8000"
    audience = public + SIGN
    settings = Settings(database_url=str(store.engine.url), public_url=public)
    state = AppState(settings=settings, knowledge=k, store=store, visitor_secret="x")
    token = sign_tokens(keys, audience, 1)[0]
    verifier = Verifier({ISSUER: Issuer(ISSUER, keys.jwks)}, lambda *_: True)
    raw = body(parts, 7)
    data = json.loads(raw)
    counter = iter(range(10**9))
    today = datetime.now(UTC).date()

    def parse() -> tuple[Any, ...]:
        req = HookRequest.model_validate(data)
        ctx = OrderContext.model_validate(req.context)
        p, pid = req.prefetch or {}, ctx.patientId
        return (  # as _answer reads them (each with its other-patient check)
            ctx,
            _patient(p, pid),
            _read(Observation, p, "creatinine", pid),
            _read(Observation, p, "weight", pid),
            _read(MedicationRequest, p, "medications", pid),
            _read(Condition, p, "conditions", pid),
            _read(AllergyIntolerance, p, "allergies", pid),
        )

    ctx, *resources = parse()
    chart = read_chart(k, today, *resources)
    drafts = advise(k, "order-sign", ctx, chart, settings.cds_min_severity)
    answer = _respond(state, SERVICE_ID, "scope-first", drafts, None)  # type: ignore[arg-type]
    if dose_card(answer) is None:
        raise BenchError("in process: no dose card")

    # The signature alone: what ES384 costs without PyJWT around it.
    signing_input, _, sig_b64 = token.rpartition(".")
    sig = jwt.utils.base64url_decode(sig_b64)
    der = encode_dss_signature(int.from_bytes(sig[:48], "big"), int.from_bytes(sig[48:], "big"))
    public_key = keys.private.public_key()

    def ecdsa() -> None:
        public_key.verify(der, signing_input.encode(), ec.ECDSA(hashes.SHA384()))

    def first_use() -> bool:
        expires = datetime.now(UTC) + timedelta(minutes=15)
        return memory.first_use(store, ISSUER, f"jti-{next(counter)}", expires)

    def respond() -> object:
        # card uuids are unique in the store: fresh ones (5 model_copy calls, a few us)
        fresh = [
            dataclasses.replace(d, card=d.card.model_copy(update={"uuid": str(uuid.uuid4())}))
            for d in drafts
        ]
        return _respond(state, SERVICE_ID, f"scope-{next(counter)}", fresh, None)  # type: ignore[arg-type]

    def whole() -> object:
        claims = {"iss": f"iss-{next(counter)}"}  # a new scope: the cards are new every call
        return _answer(state, SERVICE_ID, "order-sign", data, claims, None)  # type: ignore[arg-type]

    stages = {
        "JWT: Verifier.verify (ES384; jti memory stubbed)": lambda: verifier.verify(
            "Bearer " + token, [audience]
        ),
        "  of which the ECDSA P-384 check alone": ecdsa,
        "  of which the JWK Set parse (per call)": lambda: jwt.PyJWKSet.from_dict(keys.jwks),
        "JWT: jti record (SQLite first_use, fsync)": first_use,
        "json.loads of the body": lambda: json.loads(raw),
        "HookRequest + OrderContext + FHIR reading": parse,
        "read_chart": lambda: read_chart(k, today, *resources),
        "advise()": lambda: advise(k, "order-sign", ctx, chart, settings.cds_min_severity),
        "answer: show_once (SQLite) + cards": respond,
        "JSON dump of the answer (JSONResponse)": lambda: JSONResponse(answer).body,
    }
    ms = {name: round(best_per_call(fn, 5, 0.1) * 1e3, 3) for name, fn in stages.items()}
    whole_ms = round(best_per_call(whole, 5, 0.1) * 1e3, 3)
    top = [v for name, v in ms.items() if not name.startswith("  ")]
    result = {
        "ms": ms,
        "sum_ms": round(sum(top), 3),
        "answer_whole_ms": whole_ms,
        "verify_plus_answer_ms": round(
            ms["JWT: Verifier.verify (ES384; jti memory stubbed)"]
            + ms["JWT: jti record (SQLite first_use, fsync)"]
            + whole_ms
            + ms["JSON dump of the answer (JSONResponse)"],
            3,
        ),
        "body_bytes": len(raw),
        "answer_bytes": len(JSONResponse(answer).body),
        "drafts": len(drafts),
    }
    profile_text = None
    if profile > 0:
        import cProfile
        import io
        import pstats

        tokens = sign_tokens(keys, audience, profile)
        real = Verifier(
            {ISSUER: Issuer(ISSUER, keys.jwks)},
            lambda iss, jti, exp: memory.first_use(store, iss, jti, exp),
        )
        prof = cProfile.Profile()
        prof.enable()
        for t in tokens:
            real.verify("Bearer " + t, [audience])
            JSONResponse(whole())
        prof.disable()
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).strip_dirs()
        stats.sort_stats("cumulative").print_stats(35)
        stats.sort_stats("tottime").print_stats(25)
        profile_text = out.getvalue()
    store.engine.dispose()
    return result, profile_text


# --- the benchmark ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "nproc": len(affinity) if affinity is not None else os.cpu_count(),
        "cpu": cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "git": git_rev(),
        "uvicorn": ver("uvicorn"),
        "fastapi": ver("fastapi"),
        "pydantic": ver("pydantic"),
        "pyjwt": ver("PyJWT"),
        "cryptography": ver("cryptography"),
        "uvloop": find_spec("uvloop") is not None,
        "httptools": find_spec("httptools") is not None,
        "loadavg_before": [round(x, 2) for x in os.getloadavg()],
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    facts = machine()
    data = order_sign_request()
    parts = body_parts(data)
    keys = make_keys()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="gabaguide-bench-cds-") as tmpdir:
        tmp = Path(tmpdir)
        issuers = tmp / "issuers.json"
        issuers.write_text(json.dumps({ISSUER: {"jwks": keys.jwks}}), encoding="utf-8")
        (tmp / "order-sign.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
        with running_server(tmp, issuers, args.workers) as server:
            audience = server.base + SIGN
            n_rate = math.ceil(args.rate * args.duration)
            start = time.perf_counter()
            tokens = sign_tokens(keys, audience, 4 + args.warmup + n_rate)
            sign_s = time.perf_counter() - start
            checks = check_service(server, parts, tokens[:4])
            next_id, used = 2, 4

            def sign_spec(name: str, n: int, conc: int, dur: float, rate: float | None) -> LoadSpec:
                nonlocal next_id, used
                spec = LoadSpec(
                    name, server.port, "POST", SIGN, n, conc, dur, rate, parts,
                    tokens[used : used + n], next_id, b'"suggestions":[',
                )  # fmt: skip
                next_id, used = next_id + n, used + n
                return spec

            def disc_spec(n: int, conc: int, dur: float, rate: float | None) -> LoadSpec:
                return LoadSpec("discovery", server.port, "GET", DISCOVERY, n, conc, dur, rate)

            # warm-up, closed loop; its order-sign throughput sizes the max pass
            warm_c = max(1, min(args.max_concurrency, args.warmup))
            spec = disc_spec(args.warmup, warm_c, 60.0, None)
            warm = [summarise(run_load(server, spec), spec, "warm")]
            spec = sign_spec("warm-up", args.warmup, warm_c, 60.0, None)
            warm.append(summarise(run_load(server, spec), spec, "warm"))
            for row in warm:
                if problem := failed_requests(row):
                    raise BenchError(f"warm-up: {problem}")

            # fixed rate: the baseline, then order-sign
            spec = disc_spec(n_rate, args.concurrency, args.duration, args.rate)
            rows.append(summarise(run_load(server, spec), spec, "rate"))
            spec = sign_spec("rate", n_rate, args.concurrency, args.duration, args.rate)
            rows.append(summarise(run_load(server, spec), spec, "rate"))

            max_tokens = 0
            if args.max_duration > 0:
                est = warm[1]["achieved_rate"] or 100.0
                max_tokens = min(MAX_TOKENS, math.ceil(2 * est * args.max_duration) + 200)
                start = time.perf_counter()
                tokens += sign_tokens(keys, audience, max_tokens)
                sign_s += time.perf_counter() - start
                spec = sign_spec("max", max_tokens, args.max_concurrency, args.max_duration, None)
                row = summarise(run_load(server, spec), spec, "max")
                row["tokens_ran_out"] = row["sent"] >= max_tokens
                rows.append(row)
            server_log_tail = server.log_tail(5)
            signed = len(tokens)
        breakdown, profile_text = in_process(tmp, keys, parts, args.profile)

    disc, sign = rows[0], rows[1]
    ratios = {
        "p50": round(sign["p50_ms"] / disc["p50_ms"], 2) if disc["p50_ms"] else None,
        "p99": round(sign["p99_ms"] / disc["p99_ms"], 2) if disc["p99_ms"] else None,
        "server_cpu_per_request": round(
            sign["server_cpu_ms_per_request"] / disc["server_cpu_ms_per_request"], 2
        )
        if sign["server_cpu_ms_per_request"] and disc["server_cpu_ms_per_request"]
        else None,
    }
    held = (sign["achieved_rate"] or 0) >= RATE_SLACK * args.rate
    clean = failed_requests(sign) is None
    judged = args.rate == GOAL_RATE
    goal = {
        "p99_ms": GOAL_P99_MS,
        "rate": GOAL_RATE,
        "cores": GOAL_CORES,
        "judged": judged,
        "p99_value_ms": sign["p99_ms"],
        "rate_held": held,
        "all_answered": clean,
        "met": judged and held and clean and (sign["p99_ms"] or math.inf) <= GOAL_P99_MS,
    }
    return {
        "settings": {
            "workers": args.workers,
            "rate": args.rate,
            "concurrency": args.concurrency,
            "duration_s": args.duration,
            "max_concurrency": args.max_concurrency,
            "max_duration_s": args.max_duration,
            "warmup": args.warmup,
            "tokens_signed": signed,
            "signing_s": round(sign_s, 2),
            "max_pass_tokens": max_tokens,
            "medications": len(data["prefetch"]["medications"]["entry"]),
            "conditions": len(data["prefetch"]["conditions"]["entry"]),
            "allergies": len(data["prefetch"]["allergies"]["entry"]),
            "body_bytes": len(body(parts, 12345)),
        },
        "checks": checks,
        "warmup": warm,
        "runs": rows,
        "ratios_order_sign_over_discovery": ratios,
        "goal": goal,
        "in_process": breakdown,
        "profile": profile_text,
        "server_log_tail": server_log_tail,
        "machine": facts,
    }


# --- report ----------------------------------------------------------------------------------------


def workers_label(workers: int) -> str:
    return f"{workers} worker process{'es' if workers != 1 else ''}"


def tree_label(workers: int) -> str:
    if workers == 1:
        return "uvicorn serving in its one process"
    return f"the uvicorn parent, its {workers} workers and multiprocessing's resource tracker"


def uneven(row: dict[str, Any]) -> bool:
    """Two workers or more, and the least busy one had under a quarter of the busiest's CPU."""
    workers = [v or 0.0 for v in row["server_cores_by_role"].get("worker") or []]
    return len(workers) > 1 and max(workers) >= 0.1 and min(workers) < 0.25 * max(workers)


def split(row: dict[str, Any]) -> str:
    """'; workers 0.41 + 0.39, parent 0.01' -- each worker's cores, the rest together."""
    by_role = row["server_cores_by_role"]
    workers = by_role.get("worker") or []
    if not workers:
        return ""
    rest = sum(v or 0.0 for role, values in by_role.items() if role != "worker" for v in values)
    return (
        "; workers "
        + " + ".join(fmt(v, ".2f") for v in workers)
        + f", parent and tracker {rest:.2f}"
    )


def report(r: dict[str, Any]) -> None:
    s, m, c = r["settings"], r["machine"], r["checks"]
    print(
        f"gabaguide CDS Hooks benchmark: {s['rate']:g} req/s target, open loop over "
        f"{s['concurrency']} keep-alive connections, {s['duration_s']:g} s per endpoint; max "
        + (
            f"throughput closed loop -c {s['max_concurrency']} for {s['max_duration_s']:g} s"
            if s["max_duration_s"] > 0
            else "throughput skipped"
        )
        + f"; warm-up {s['warmup']} requests per endpoint"
    )
    print(
        f"machine   nproc {m['nproc']} ({m['cpu']}); {m['python']}; {m['platform']}; "
        f"load average before {m['loadavg_before'][0]:g}"
    )
    print(
        f"server    gabaguide serve --workers {s['workers']} ({workers_label(s['workers'])}), fresh "
        "SQLite database, demo data not loaded"
    )
    print(
        f"stack     uvicorn {m['uvicorn']} (uvloop {'yes' if m['uvloop'] else 'no'}, httptools "
        f"{'yes' if m['httptools'] else 'no'}), FastAPI {m['fastapi']}, pydantic {m['pydantic']}, "
        f"PyJWT {m['pyjwt']}, cryptography {m['cryptography']}; git {m['git']}"
    )
    print(
        f"request   POST {SIGN}: gabapentin 800 mg TID draft (new id each), {s['medications']} "
        f"active medications, {s['conditions']} conditions, {s['allergies']} allergies, 3 "
        f"creatinine, 1 weight; {s['body_bytes']:,} bytes; answered {len(c['cards'])} cards, "
        f"{c['answer_bytes']:,} bytes"
    )
    print(f"          dose card: {c['dose_card']!r} -> {c['suggestion']!r}")
    print(
        f"JWT       ES384, verification on: {s['tokens_signed']:,} tokens signed before the runs "
        f"({s['signing_s']:.1f} s); replayed token -> {c['replayed_token_status']}, no token -> "
        f"{c['no_token_status']}; same order again -> 0 cards"
    )
    print(f"baseline  GET {DISCOVERY}: {c['discovery_bytes']:,} bytes, no JWT, no work")
    print()
    latency_table(
        r["runs"],
        lambda row: (
            f"rate (open loop, -c {row['concurrency']}, {row['duration_s']:g} s)"
            if row["pass"] == "rate"
            else f"max (closed loop, -c {row['concurrency']}, {row['duration_s']:g} s)"
        ),
        extra=(("not sent", lambda row: f"{row['unsent']:,}"),),
    )
    rate_rows = [row for row in r["runs"] if row["pass"] == "rate"]
    print(
        "(latency from each request's scheduled send time, queueing included; send lag p50/p99: "
        + ", ".join(
            f"{row['endpoint'].split()[1]} {fmt(row['send_lag_p50_ms'], '.2f')}/"
            f"{fmt(row['send_lag_p99_ms'], '.2f')} ms"
            for row in rate_rows
        )
        + "; order-sign answers without the corrected-order card: "
        + ", ".join(
            f"{row['pass']} {row['no_card']}" for row in r["runs"] if row["no_card"] is not None
        )
        + ")"
    )
    for row in r["runs"]:
        if row["unsent"]:
            print(
                f"note: {row['endpoint']}: the server fell behind; {row['unsent']:,} of "
                f"{row['scheduled']:,} scheduled requests were still queued when sending stopped "
                f"at {STOP_AFTER:g} x the duration (percentiles are of the answered ones)"
            )
        if uneven(row):
            busy = " + ".join(fmt(v, ".2f") for v in row["server_cores_by_role"]["worker"])
            print(
                f"note: {row['pass']} {row['endpoint']}: the workers were unevenly loaded ({busy} "
                "cores): they share one listening socket and the worker that wakes first accepts "
                f"the connections waiting, so the {row['concurrency']} keep-alive connections "
                "need not be spread over them"
            )
        if row["server_pids_changed"]:
            print(
                f"note: {row['pass']} {row['endpoint']}: a server process came or went during the "
                "run (a worker died and was replaced?): its CPU time is partly missing"
            )
        if row.get("tokens_ran_out"):
            print(f"note: the max pass used all {s['max_pass_tokens']:,} tokens before its end")
    print()
    x = r["ratios_order_sign_over_discovery"]
    print(
        f"ratio order-sign/discovery at {s['rate']:g} req/s: p50 {fmt(x['p50'], '.2f')}x, "
        f"p99 {fmt(x['p99'], '.2f')}x   (server CPU per request "
        f"{fmt(x['server_cpu_per_request'], '.2f')}x)"
    )
    print()
    workers = s["workers"]
    print(
        f"CPU per request and cores busy during each run (the machine has {m['nproc']}; server = "
        f"its whole process tree, {tree_label(workers)}; 'others' = every other process):"
    )
    for row in r["runs"]:
        print(
            f"  {row['pass']:<4} {row['endpoint']:<40} server ({workers_label(workers)}) "
            f"{fmt(row['server_cpu_ms_per_request'], '.3f')} ms "
            f"({fmt(row['server_cpu_cores'], '.2f')} cores{split(row)}), load generator "
            f"{fmt(row['loader_cpu_ms_per_request'], '.3f')} ms "
            f"({fmt(row['loader_cpu_cores'], '.2f')} cores), machine busy "
            f"{fmt(row['machine_busy_cores'], '.2f')} cores (others "
            f"{fmt(row['other_cpu_cores'], '.2f')})"
        )
    cpu = r["runs"][1]["server_cpu_ms_per_request"]
    if cpu:
        usable = min(workers, m["nproc"] or 1)
        print(
            f"  server capacity: {workers_label(workers)} (one core each at most, the GIL) on "
            f"{m['nproc']} cores shared with the load generator: {usable} core(s) / {cpu:.3f} ms "
            f"CPU per order-sign = at most about {usable * 1e3 / cpu:,.0f} req/s; {s['rate']:g} "
            f"req/s needs at most {usable * 1e3 / s['rate']:.2f} ms of CPU per request, with room "
            "to spare for the p99"
            + (" (and the connections spread over the workers)" if usable > 1 else "")
        )
    ip = r["in_process"]
    print()
    print(
        f"where the time goes: one order-sign call in this process, best of 5 (gc on); "
        f"{ip['drafts']} card drafts, {ip['answer_bytes']:,}-byte answer"
    )
    for name, ms in ip["ms"].items():
        print(f"  {name:<48} {ms:>8.3f} ms")
    print(f"  {'sum of the stages':<48} {ip['sum_ms']:>8.3f} ms")
    print(f"  {'_answer whole (parse .. show_once)':<48} {ip['answer_whole_ms']:>8.3f} ms")
    print(
        f"  {'verify + jti + _answer + dump (the floor)':<48} {ip['verify_plus_answer_ms']:>8.3f} ms"
        f"   vs server CPU {fmt(r['runs'][1]['server_cpu_ms_per_request'], '.3f')} ms/request"
    )
    if r["profile"]:
        print()
        print("cProfile of the token check (with SQLite jti) + _answer + dump, in process:")
        print(r["profile"])
    print()
    others = [v for row in r["runs"] if (v := row["other_cpu_cores"]) is not None]
    if others and max(others) >= BUSY_CORES:
        print(
            f"note: other processes kept up to {max(others):.2f} cores busy during the runs: the "
            "machine was not quiet, latencies are pessimistic"
        )
    g = r["goal"]
    line = (
        f"goal: p99 <= {g['p99_ms']:g} ms at {g['rate']:g} req/s on {g['cores']} cores with JWT "
        "verification on"
    )
    if not g["judged"]:
        print(f"{line}: not judged (the rate was {s['rate']:g} req/s)")
        return
    why = []
    if not g["rate_held"]:
        why.append(f"the rate was not held (< {RATE_SLACK:.0%} of target)")
    if not g["all_answered"]:
        why.append("not every request was answered 2xx with its card")
    if m["nproc"] != g["cores"]:
        why.append(f"this machine has {m['nproc']} core(s)")
    print(
        f"{line}: {'met' if g['met'] else 'NOT met'} (p99 {fmt(g['p99_value_ms'], '.2f')} ms"
        + ("; " + "; ".join(why) if why else "")
        + ")"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=200.0, help="requests/s in total (200)")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="keep-alive connections at the rate (4)"
    )
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds per endpoint at the rate (20)"
    )
    parser.add_argument(
        "--max-concurrency", type=int, default=8, help="connections, max throughput (8)"
    )
    parser.add_argument(
        "--max-duration",
        type=float,
        default=10.0,
        help="seconds of the max-throughput pass (10; 0 skips it)",
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="warm-up requests per endpoint (200)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="server worker processes: serve --workers N (2)"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        help="also cProfile this many token checks + _answer calls in process (0: no)",
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "out" / "cds.json", help="JSON file"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if args.rate <= 0 or args.duration <= 0 or args.max_duration < 0 or args.profile < 0:
        parser.error("--rate and --duration must be more than 0, --max-duration at least 0")
    if min(args.concurrency, args.max_concurrency, args.warmup, args.workers) < 1:
        parser.error("--concurrency, --max-concurrency, --warmup and --workers must be at least 1")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        results = bench(args)
    except BenchError as exc:
        fail(str(exc))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    report(results)
    print(f"\n(JSON: {args.out})")
    if args.json:
        print(json.dumps(results, indent=2))
    problems = [p for row in results["runs"] if (p := failed_requests(row))]
    if problems:
        fail("; ".join(problems))


if __name__ == "__main__":
    with suppress(RuntimeError):
        mp.set_start_method("spawn")
    main()
