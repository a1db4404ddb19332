"""The CDS Hooks service over real HTTP: discovery, JWT authentication (ES384/RS384 keys from a JWK
Set or an allow-listed ``jku``), prefetch fetched from a real FHIR server with the bearer token (or
412), errors as OperationOutcomes (never a 500), cards never repeated for the same order, feedback
stored all or nothing, and the card's link to the full plan.

Two servers per module: ``secured`` (authentication on, trusted issuers in a file) and ``open``
(``cds_auth`` off). Every test asks about a patient of its own (a fresh id), so the never-repeated
memory of one test does not hide another's cards.
"""

from __future__ import annotations

import copy
import html
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fhir.resources.R4B.medicationrequest import MedicationRequest
from sqlalchemy import func, select

from gabaguide.interop.cdshooks import REQUIRED_PREFETCH
from gabaguide.store import Store, open_store
from gabaguide.store.cds import feedback_for
from gabaguide.store.tables import CdsCard, CdsFeedback, CdsPlan, CdsTokenId
from gabaguide.web import Settings
from tests.web.cdsjwt import (
    DROP,
    SigningKey,
    bearer,
    claims,
    es384_key,
    hs256,
    jwk_set,
    rs384_key,
    sign,
    unsigned,
)
from tests.web.conftest import start_server
from tests.web.fhirserver import ALL, FhirServer, chart_of

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "cds"
SIGN, SELECT = "gabaguide-order-sign", "gabaguide-order-select"
ISSUER = "https://ehr.example/cds-client"
JKU_ISSUER = "https://other-ehr.example/cds-client"
RENAL_BAND = ">30 to 59"  # the example patient's band (creatinine 1.9 mg/dL, 78 years, 70 kg)
Body = dict[str, Any]


# --- requests --------------------------------------------------------------------------------------


def request(name: str = "order-sign", patient_id: str | None = None) -> Body:
    """A bundled example request about a patient of its own (a fresh id unless given)."""
    pid = patient_id or f"pt-{uuid.uuid4().hex[:12]}"
    body: Body = json.loads((EXAMPLES / f"{name}.json").read_text().replace("example-78m", pid))
    body["hookInstance"] = str(uuid.uuid4())
    return body


def patient_of(body: Body) -> str:
    return str(body["context"]["patientId"])


def draft(body: Body) -> Body:
    """The (first) draft order of a request."""
    resource: Body = body["context"]["draftOrders"]["entry"][0]["resource"]
    return resource


def with_dose(body: Body, mg: int) -> Body:
    out = copy.deepcopy(body)
    out["hookInstance"] = str(uuid.uuid4())
    dosage = draft(out)["dosageInstruction"][0]
    dosage["text"] = f"{mg} mg three times a day"
    dosage["doseAndRate"][0]["doseQuantity"]["value"] = mg
    return out


def fhir_authorization(token: str, patient_id: str) -> Body:
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/*.read",
        "subject": "cds-service",
        "patient": patient_id,
    }


# --- servers ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    """A live gabaguide server, a client of it, and its store (read directly)."""

    url: str
    database: Path
    store: Store
    client: httpx.Client

    def endpoint(self, service_id: str) -> str:
        return f"{self.url}/cds-services/{service_id}"

    def call(
        self, service_id: str, body: object, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.post(f"/cds-services/{service_id}", json=body, headers=headers)

    def send(
        self, service_id: str, raw: bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.post(
            f"/cds-services/{service_id}",
            content=raw,
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    def feedback(
        self, service_id: str, body: object, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.client.post(f"/cds-services/{service_id}/feedback", json=body, headers=headers)

    def rows(self) -> dict[str, int]:
        """How many rows each CDS table holds."""
        with self.store.session() as s:
            return {
                t.__tablename__: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in (CdsCard, CdsFeedback, CdsPlan, CdsTokenId)
            }

    def database_bytes(self) -> bytes:
        """The SQLite file with its WAL and shared-memory files."""
        files = [self.database, *(Path(f"{self.database}{s}") for s in ("-wal", "-shm"))]
        return b"".join(f.read_bytes() for f in files if f.exists())


@contextmanager
def running(settings: Settings, database: Path) -> Iterator[Service]:
    server, thread, url = start_server(settings)
    store = open_store(settings.database_url)
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            yield Service(url, database, store, client)
    finally:
        store.engine.dispose()
        server.should_exit = True
        thread.join(timeout=10)


@dataclass(frozen=True)
class Keys:
    es: SigningKey
    rs: SigningKey
    impostor: SigningKey
    """Not trusted, but with the trusted ES384 key's kid."""
    jku: SigningKey
    """The key of JKU_ISSUER's allow-listed JWK Set."""
    stranger: SigningKey
    """A key served at a JWK Set URL no issuer lists, with the kid of ``jku``."""


@pytest.fixture(scope="module")
def keys() -> Keys:
    es, jku = es384_key(), es384_key()
    return Keys(es, rs384_key(), es384_key(es.kid), jku, es384_key(jku.kid))


@pytest.fixture(scope="module")
def fhir_server() -> Iterator[FhirServer]:
    with FhirServer() as server:
        yield server


@pytest.fixture
def fhir(fhir_server: FhirServer) -> Iterator[FhirServer]:
    fhir_server.reset()
    yield fhir_server
    fhir_server.reset()


@pytest.fixture(scope="module")
def jku_urls(fhir_server: FhirServer, keys: Keys) -> tuple[str, str]:
    """(the allow-listed JWK Set URL of JKU_ISSUER, a JWK Set URL nobody lists)."""
    return (
        fhir_server.add_jwks("ehr.json", jwk_set(keys.jku)),
        fhir_server.add_jwks("stranger.json", jwk_set(keys.stranger)),
    )


@pytest.fixture(scope="module")
def secured(
    tmp_path_factory: pytest.TempPathFactory, keys: Keys, jku_urls: tuple[str, str]
) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("cds-secured")
    issuers = folder / "issuers.json"
    issuers.write_text(
        json.dumps({ISSUER: {"jwks": jwk_set(keys.es, keys.rs)}, JKU_ISSUER: {"jku": jku_urls[0]}})
    )
    database = folder / "gabaguide.sqlite3"
    settings = Settings(
        database_url=f"sqlite:///{database}",
        load_demo=False,
        cds_auth=True,
        cds_issuers=str(issuers),
        cds_fetch_timeout_s=0.5,
    )
    with running(settings, database) as service:
        yield service


@pytest.fixture(scope="module")
def open_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    database = tmp_path_factory.mktemp("cds-open") / "gabaguide.sqlite3"
    settings = Settings(database_url=f"sqlite:///{database}", load_demo=False, cds_auth=False)
    with running(settings, database) as service:
        yield service


def token_for(service: Service, keys: Keys, service_id: str = SIGN, **overrides: Any) -> str:
    """A valid ES384 token of the trusted issuer for a call to ``service_id``."""
    return sign(keys.es, ISSUER, service.endpoint(service_id), **overrides)


# --- assertions ------------------------------------------------------------------------------------


def cards_of(r: httpx.Response) -> list[Body]:
    assert r.status_code == 200, (r.status_code, r.text[:2000])
    assert r.headers["content-type"].startswith("application/json")
    cards: list[Body] = r.json()["cards"]
    return cards


def dose_card(cards: list[Body]) -> Body:
    """The card about the ordered dose: the one with a corrected order."""
    found = [c for c in cards if c.get("suggestions")]
    assert len(found) == 1, [c["summary"] for c in cards]
    return found[0]


def outcome_of(r: httpx.Response, status: int) -> list[Body]:
    """The issues of an OperationOutcome answered with ``status``."""
    assert r.status_code == status, (r.status_code, r.text[:2000])
    assert r.headers["content-type"].startswith("application/fhir+json")
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"]
    for issue in body["issue"]:
        assert issue["severity"] == "error"
        assert issue["code"]
        assert issue["diagnostics"]
    issues: list[Body] = body["issue"]
    return issues


def diagnostics(issues: list[Body]) -> str:
    return "\n".join(i["diagnostics"] for i in issues)


def refused(r: httpx.Response) -> None:
    """401 with nothing said about why."""
    assert r.status_code == 401, (r.status_code, r.text[:2000])
    assert r.content == b""
    assert r.headers.get("www-authenticate", "").startswith("Bearer")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@contextmanager
def every_log(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture everything the server logs at DEBUG: gabaguide's loggers, uvicorn's (which do not
    propagate to the root logger, where caplog listens) and httpx's."""
    caplog.set_level(logging.DEBUG, logger="gabaguide")
    caplog.set_level(logging.DEBUG, logger="httpx")
    names = ("uvicorn", "uvicorn.error", "uvicorn.access")
    levels = {n: logging.getLogger(n).level for n in names}
    own = [logging.getLogger(n) for n in ("uvicorn", "uvicorn.access")]  # propagate=False
    for n in names:
        logging.getLogger(n).setLevel(logging.DEBUG)
    for logger in own:
        logger.addHandler(caplog.handler)
    try:
        yield
    finally:
        for logger in own:
            logger.removeHandler(caplog.handler)
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


# --- discovery -------------------------------------------------------------------------------------


def test_discovery_lists_both_services_with_their_prefetch(secured: Service) -> None:
    with httpx.Client() as anonymous:
        r = anonymous.get(f"{secured.url}/cds-services")  # no token: discovery is public
    assert r.status_code == 200
    services = {s["id"]: s for s in r.json()["services"]}
    assert set(services) == {SELECT, SIGN}
    assert services[SELECT]["hook"] == "order-select"
    assert services[SIGN]["hook"] == "order-sign"
    for s in services.values():
        assert set(s["prefetch"]) == set(REQUIRED_PREFETCH)
        assert s["prefetch"]["patient"] == "Patient/{{context.patientId}}"
        assert all("{{context.patientId}}" in q for q in s["prefetch"].values())
        assert s["title"]
        assert s["description"]


# --- JWT -------------------------------------------------------------------------------------------


def test_a_valid_es384_token_is_accepted(secured: Service, keys: Keys) -> None:
    r = secured.call(SIGN, request(), bearer(token_for(secured, keys)))
    assert cards_of(r)


def test_a_valid_rs384_token_is_accepted(secured: Service, keys: Keys) -> None:
    token = sign(keys.rs, ISSUER, secured.endpoint(SIGN))
    assert jwt.get_unverified_header(token)["alg"] == "RS384"
    assert cards_of(secured.call(SIGN, request(), bearer(token)))


def test_the_order_select_service_takes_its_own_audience(secured: Service, keys: Keys) -> None:
    token = token_for(secured, keys, SELECT)
    assert cards_of(secured.call(SELECT, request("order-select"), bearer(token)))


Headers = Callable[[Service, Keys, tuple[str, str]], dict[str, str]]


def _p256_token(s: Service, k: Keys) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(
        claims(ISSUER, s.endpoint(SIGN)), key, algorithm="ES256", headers={"kid": k.es.kid}
    )


BAD_TOKENS: dict[str, Headers] = {
    "no-authorization": lambda s, k, j: {},
    "not-bearer": lambda s, k, j: {"Authorization": "Basic " + token_for(s, k)},
    "bearer-garbage": lambda s, k, j: bearer("not.a.jwt"),
    "empty-bearer": lambda s, k, j: {"Authorization": "Bearer"},
    "wrong-signature-same-kid": lambda s, k, j: bearer(sign(k.impostor, ISSUER, s.endpoint(SIGN))),
    "unknown-issuer": lambda s, k, j: bearer(
        sign(k.es, "https://stranger.example", s.endpoint(SIGN))
    ),
    "audience-of-the-other-service": lambda s, k, j: bearer(token_for(s, k, SELECT)),
    "audience-of-the-feedback-url": lambda s, k, j: bearer(
        sign(k.es, ISSUER, s.endpoint(SIGN) + "/feedback")
    ),
    "audience-of-another-host": lambda s, k, j: bearer(
        sign(k.es, ISSUER, f"https://gabaguide.example/cds-services/{SIGN}")
    ),
    "expired": lambda s, k, j: bearer(
        token_for(s, k, iat=int(time.time()) - 900, exp=int(time.time()) - 300)
    ),
    "issued-in-the-future": lambda s, k, j: bearer(
        token_for(s, k, iat=int(time.time()) + 3600, exp=int(time.time()) + 7200)
    ),
    "alg-none": lambda s, k, j: bearer(
        unsigned({"alg": "none", "typ": "JWT"}, claims(ISSUER, s.endpoint(SIGN)))
    ),
    "alg-none-with-kid": lambda s, k, j: bearer(
        unsigned({"alg": "none", "kid": k.es.kid}, claims(ISSUER, s.endpoint(SIGN)))
    ),
    "hs256-keyed-with-the-public-key": lambda s, k, j: bearer(
        hs256(k.es.public_pem(), {"typ": "JWT", "kid": k.es.kid}, claims(ISSUER, s.endpoint(SIGN)))
    ),
    "hs256-keyed-with-the-rsa-public-key": lambda s, k, j: bearer(
        hs256(k.rs.public_pem(), {"typ": "JWT", "kid": k.rs.kid}, claims(ISSUER, s.endpoint(SIGN)))
    ),
    "hs256-any-secret": lambda s, k, j: bearer(
        hs256(b"secret", {"typ": "JWT"}, claims(ISSUER, s.endpoint(SIGN)))
    ),
    "es256-on-p256": lambda s, k, j: bearer(_p256_token(s, k)),
    "es384-named-with-the-rsa-kid": lambda s, k, j: bearer(
        sign(k.es, ISSUER, s.endpoint(SIGN), headers={"kid": k.rs.kid})
    ),
    "missing-jti": lambda s, k, j: bearer(token_for(s, k, jti=DROP)),
    "missing-exp": lambda s, k, j: bearer(token_for(s, k, exp=DROP)),
    "missing-iat": lambda s, k, j: bearer(token_for(s, k, iat=DROP)),
    "missing-aud": lambda s, k, j: bearer(token_for(s, k, aud=DROP)),
    "jku-for-an-issuer-with-a-jwks": lambda s, k, j: bearer(
        sign(k.es, ISSUER, s.endpoint(SIGN), headers={"jku": j[0]})
    ),
    "jku-not-allow-listed": lambda s, k, j: bearer(
        sign(k.stranger, JKU_ISSUER, s.endpoint(SIGN), headers={"jku": j[1]})
    ),
    "allow-listed-jku-other-key": lambda s, k, j: bearer(
        sign(k.stranger, JKU_ISSUER, s.endpoint(SIGN), headers={"jku": j[0]})
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
def test_a_refused_token_gets_401_and_nothing_is_stored(
    secured: Service, keys: Keys, jku_urls: tuple[str, str], fhir: FhirServer, case: str
) -> None:
    before = secured.rows()
    r = secured.call(SIGN, request(), BAD_TOKENS[case](secured, keys, jku_urls))
    refused(r)
    assert secured.rows() == before
    # The service never fetches a key set from a URL no issuer lists.
    assert "/jwks/stranger.json" not in {s.path for s in fhir.seen()}


def test_a_replayed_token_is_refused(secured: Service, keys: Keys) -> None:
    token = token_for(secured, keys)
    assert cards_of(secured.call(SIGN, request(), bearer(token)))
    before = secured.rows()
    refused(secured.call(SIGN, request(), bearer(token)))  # another patient: it would have cards
    assert secured.rows() == before


def test_a_token_from_the_allow_listed_jku_is_accepted(
    secured: Service, keys: Keys, jku_urls: tuple[str, str]
) -> None:
    with_jku = sign(keys.jku, JKU_ISSUER, secured.endpoint(SIGN), headers={"jku": jku_urls[0]})
    assert cards_of(secured.call(SIGN, request(), bearer(with_jku)))
    without = sign(keys.jku, JKU_ISSUER, secured.endpoint(SIGN))  # the configured URL is used
    assert cards_of(secured.call(SIGN, request(), bearer(without)))


def test_feedback_requires_a_token_for_the_service(secured: Service, keys: Keys) -> None:
    cards = cards_of(secured.call(SIGN, request(), bearer(token_for(secured, keys))))
    card = cards[0]["uuid"]
    body = {"feedback": [{"card": card, "outcome": "accepted", "outcomeTimestamp": now_iso()}]}
    before = secured.rows()
    refused(secured.feedback(SIGN, body))
    refused(secured.feedback(SIGN, body, bearer(token_for(secured, keys, SELECT))))
    other_feedback = secured.endpoint(SELECT) + "/feedback"
    refused(secured.feedback(SIGN, body, bearer(sign(keys.es, ISSUER, other_feedback))))
    refused(
        secured.feedback(SIGN, body, bearer(sign(keys.impostor, ISSUER, secured.endpoint(SIGN))))
    )
    none = unsigned({"alg": "none"}, claims(ISSUER, secured.endpoint(SIGN)))
    refused(secured.feedback(SIGN, body, bearer(none)))
    assert secured.rows() == before
    assert feedback_for(secured.store, card) == []
    # The token's audience is the service or, as some clients send it, the feedback endpoint.
    tokens = [
        sign(keys.es, ISSUER, a)
        for a in (secured.endpoint(SIGN), f"{secured.endpoint(SIGN)}/feedback")
    ]
    for token in tokens:
        r = secured.feedback(SIGN, body, bearer(token))
        assert r.status_code == 200, r.text
        assert r.json() == {}
    refused(secured.feedback(SIGN, body, bearer(tokens[0])))  # replayed
    assert [f.outcome for f in feedback_for(secured.store, card)] == ["accepted", "accepted"]


def test_without_authentication_calls_need_no_token(open_service: Service) -> None:
    cards = cards_of(open_service.call(SIGN, request()))
    assert cards
    item = {"card": cards[0]["uuid"], "outcome": "accepted", "outcomeTimestamp": now_iso()}
    r = open_service.feedback(SIGN, {"feedback": [item]})
    assert r.status_code == 200, r.text
    # A token, even a bad one, changes nothing when authentication is off.
    assert cards_of(open_service.call(SIGN, request(), bearer("not.a.jwt")))


# --- prefetch --------------------------------------------------------------------------------------


def _templates(service: Service, service_id: str = SIGN) -> dict[str, str]:
    found = service.client.get("/cds-services").json()["services"]
    templates: dict[str, str] = next(s["prefetch"] for s in found if s["id"] == service_id)
    return templates


def _expected_paths(service: Service, keys_: tuple[str, ...], patient_id: str) -> list[str]:
    t = _templates(service)
    return sorted("/fhir/" + t[k].replace("{{context.patientId}}", patient_id) for k in keys_)


def _fhir_reads(fhir: FhirServer) -> list[str]:
    return sorted(s.path for s in fhir.seen() if s.path.startswith("/fhir/"))


def _fetching(fhir: FhirServer, body: Body, missing: tuple[str, ...], access: str) -> Body:
    """``body`` without the ``missing`` prefetch, pointing at ``fhir`` (which holds the chart)."""
    fhir.add_chart(*chart_of(body["prefetch"]))
    out = copy.deepcopy(body)
    for key in missing:
        del out["prefetch"][key]
    out["fhirServer"] = fhir.base
    out["fhirAuthorization"] = fhir_authorization(access, patient_of(body))
    return out


def test_all_prefetch_present_fetches_nothing(
    secured: Service, keys: Keys, fhir: FhirServer
) -> None:
    body = request()
    body["fhirServer"] = fhir.base
    body["fhirAuthorization"] = fhir_authorization("unused-token", patient_of(body))
    assert cards_of(secured.call(SIGN, body, bearer(token_for(secured, keys))))
    assert _fhir_reads(fhir) == []


def test_missing_prefetch_is_fetched_with_the_bearer_token(
    secured: Service, keys: Keys, fhir: FhirServer
) -> None:
    access = f"fhir-access-{uuid.uuid4().hex}"
    full = request()
    missing = ("creatinine", "medications")
    body = _fetching(fhir, full, missing, access)
    cards = cards_of(secured.call(SIGN, body, bearer(token_for(secured, keys))))
    assert _fhir_reads(fhir) == _expected_paths(secured, missing, patient_of(full))
    assert [s.authorization for s in fhir.seen()] == [f"Bearer {access}"] * len(missing)
    # The fetched data were used: the renal band comes from the creatinine, the opioid card from
    # the medications.
    summaries = " ".join(c["summary"] for c in cards)
    assert RENAL_BAND in dose_card(cards)["summary"]
    assert "oxycodone" in summaries


def test_a_request_with_no_prefetch_is_fetched_entirely(
    secured: Service, keys: Keys, fhir: FhirServer
) -> None:
    access = f"fhir-access-{uuid.uuid4().hex}"
    body = _fetching(fhir, request(), REQUIRED_PREFETCH, access)
    del body["prefetch"]
    cards = cards_of(secured.call(SIGN, body, bearer(token_for(secured, keys))))
    assert _fhir_reads(fhir) == _expected_paths(secured, REQUIRED_PREFETCH, patient_of(body))
    assert {s.authorization for s in fhir.seen()} == {f"Bearer {access}"}
    assert RENAL_BAND in dose_card(cards)["summary"]


def test_missing_prefetch_without_a_fhir_server_is_412(secured: Service, keys: Keys) -> None:
    pid = f"pt-{uuid.uuid4().hex[:12]}"
    raw = (EXAMPLES / "order-sign-no-prefetch.json").read_text().replace("example-78m", pid)
    before = secured.rows()
    r = secured.send(SIGN, raw.encode(), bearer(token_for(secured, keys)))
    issues = outcome_of(r, 412)
    assert {i["code"] for i in issues} == {"required"}
    for key in REQUIRED_PREFETCH:
        assert f"'{key}'" in diagnostics(issues)
    # Only what is missing is named.
    body = request()
    del body["prefetch"]["weight"]
    issues = outcome_of(secured.call(SIGN, body, bearer(token_for(secured, keys))), 412)
    assert "'weight'" in diagnostics(issues)
    assert all(f"'{k}'" not in diagnostics(issues) for k in REQUIRED_PREFETCH if k != "weight")
    # A fhirServer without fhirAuthorization cannot be read either.
    body["fhirServer"] = "http://127.0.0.1:9/fhir"
    issues = outcome_of(secured.call(SIGN, body, bearer(token_for(secured, keys))), 412)
    assert "'weight'" in diagnostics(issues)
    assert secured.rows()["cds_cards"] == before["cds_cards"]


@pytest.mark.parametrize(
    ("resource_type", "status", "named"),
    [
        (ALL, 500, ("creatinine", "medications")),
        ("MedicationRequest", 500, ("medications",)),
        ("Observation", 503, ("creatinine",)),
        ("Observation", 401, ("creatinine",)),
    ],
)
def test_a_failing_fhir_server_is_412(
    secured: Service,
    keys: Keys,
    fhir: FhirServer,
    resource_type: str,
    status: int,
    named: tuple[str, ...],
) -> None:
    body = _fetching(fhir, request(), ("creatinine", "medications"), "t-" + uuid.uuid4().hex)
    before = secured.rows()["cds_cards"]
    with fhir.failing(status, resource_type):
        r = secured.call(SIGN, body, bearer(token_for(secured, keys)))
    issues = outcome_of(r, 412)
    text = diagnostics(issues)
    for key in ("creatinine", "medications"):
        assert (f"'{key}'" in text) == (key in named), text
    assert secured.rows()["cds_cards"] == before


def test_a_patient_the_fhir_server_does_not_know_is_412(
    secured: Service, keys: Keys, fhir: FhirServer
) -> None:
    body = request()
    del body["prefetch"]["patient"]
    body["fhirServer"] = fhir.base
    body["fhirAuthorization"] = fhir_authorization("t-" + uuid.uuid4().hex, patient_of(body))
    issues = outcome_of(secured.call(SIGN, body, bearer(token_for(secured, keys))), 412)
    assert "'patient'" in diagnostics(issues)


def test_a_slow_fhir_server_is_412_within_the_time_budget(
    secured: Service, keys: Keys, fhir: FhirServer
) -> None:
    body = _fetching(fhir, request(), ("creatinine", "medications"), "t-" + uuid.uuid4().hex)
    fhir.delay_s = 3.0
    started = time.monotonic()
    r = secured.call(SIGN, body, bearer(token_for(secured, keys)))
    elapsed = time.monotonic() - started
    issues = outcome_of(r, 412)
    assert "'creatinine'" in diagnostics(issues)
    assert "'medications'" in diagnostics(issues)
    assert elapsed < 2.0, f"the 0.5 s budget took {elapsed:.2f} s"


@pytest.mark.parametrize("patient_id", ["p/../../jwks/ehr.json", "p&_count=0"])
def test_a_patient_id_cannot_change_what_is_fetched(
    open_service: Service, fhir: FhirServer, patient_id: str
) -> None:
    body = request(patient_id=patient_id)
    del body["prefetch"]
    body["fhirServer"] = fhir.base
    body["fhirAuthorization"] = fhir_authorization("t-" + uuid.uuid4().hex, patient_id)
    r = open_service.call(SIGN, body)
    assert r.status_code < 500, r.text
    for seen in fhir.seen():
        parts = urlsplit(seen.raw)
        if parts.path.startswith("/fhir/Patient/"):
            assert unquote(parts.path.removeprefix("/fhir/Patient/")) == patient_id, seen.raw
        else:
            assert parts.path.startswith("/fhir/"), seen.raw
            query = parse_qs(parts.query)
            assert query.get("patient") == [patient_id], seen.raw
            assert all(len(values) == 1 for values in query.values()), seen.raw


def test_the_access_token_is_never_logged_nor_stored(
    secured: Service, keys: Keys, fhir: FhirServer, caplog: pytest.LogCaptureFixture
) -> None:
    access = f"fhir-access-{uuid.uuid4().hex}"
    jwts = []
    with every_log(caplog):
        body = _fetching(fhir, request(), ("creatinine", "medications"), access)
        jwts.append(token_for(secured, keys))
        assert cards_of(secured.call(SIGN, body, bearer(jwts[-1])))
        failing = _fetching(fhir, request(), ("weight",), access)
        jwts.append(token_for(secured, keys))
        with fhir.failing(500):
            outcome_of(secured.call(SIGN, failing, bearer(jwts[-1])), 412)
        refused(secured.call(SIGN, failing, bearer(jwts[-1])))  # replayed: logged as refused
    assert {s.authorization for s in fhir.seen()} == {f"Bearer {access}"}
    logged = caplog.text + "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r}" for r in caplog.records
    )
    # The capture works: uvicorn's access log, the service's fetches and its refusal are in it.
    by_logger = {r.name: r.getMessage() for r in caplog.records}
    assert f"/cds-services/{SIGN}" in by_logger["uvicorn.access"]
    assert "CDS call refused" in by_logger["gabaguide.web.cds"]
    assert any("/fhir/" in r.getMessage() for r in caplog.records if r.name == "httpx")
    secrets = [access, *jwts, *(t.rsplit(".", 1)[1] for t in jwts)]
    for secret in secrets:
        assert secret not in logged
    stored = secured.database_bytes()
    for secret in secrets:
        assert secret.encode() not in stored
    assert patient_of(body).encode() not in stored  # the patient id is hashed, never kept


# --- errors ----------------------------------------------------------------------------------------


def _without(path: tuple[str, ...]) -> Callable[[Body], object]:
    def change(body: Body) -> object:
        at = body
        for part in path[:-1]:
            at = at[part]
        del at[path[-1]]
        return body

    return change


def _set(path: tuple[str | int, ...], value: object) -> Callable[[Body], object]:
    def change(body: Body) -> object:
        at: Any = body
        for part in path[:-1]:
            at = at[part]
        at[path[-1]] = value
        return body

    return change


DRAFT = ("context", "draftOrders", "entry", 0, "resource")
INVALID: dict[str, tuple[Callable[[Body], object], str]] = {
    "missing-hookInstance": (_without(("hookInstance",)), "hookInstance"),
    "missing-context": (_without(("context",)), "context"),
    "missing-patientId": (_without(("context", "patientId")), "context.patientId"),
    "missing-draftOrders": (_without(("context", "draftOrders")), "context.draftOrders"),
    "draft-status-a-number": (_set((*DRAFT, "status"), 123), "entry[0].resource.status"),
    "draft-dosage-garbage": (
        _set((*DRAFT, "dosageInstruction"), [{"timing": {"repeat": {"frequency": "x"}}}]),
        "entry[0].resource.dosageInstruction",
    ),
    "prefetch-patient-of-another-id": (
        _set(("prefetch", "patient", "id"), "somebody-else"),
        "Patient/somebody-else",
    ),
    "prefetch-not-an-object": (_set(("prefetch", "creatinine"), [1, 2]), "prefetch.creatinine"),
    "prefetch-observation-broken": (
        _set(("prefetch", "weight", "entry", 0, "resource", "status"), {"x": 1}),
        "prefetch.weight.entry[0].resource.status",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_an_invalid_request_is_422_naming_the_problem(open_service: Service, case: str) -> None:
    change, named = INVALID[case]
    before = open_service.rows()["cds_cards"]
    issues = outcome_of(open_service.call(SIGN, change(request())), 422)
    assert named in diagnostics(issues)
    assert open_service.rows()["cds_cards"] == before


def test_a_body_that_is_not_json_is_400(
    open_service: Service, secured: Service, keys: Keys
) -> None:
    for raw in (b"{not json", b"", b"\xff\xfe", b"{'hook': 'order-sign'}"):
        issues = outcome_of(open_service.send(SIGN, raw), 400)
        assert "not JSON" in diagnostics(issues)
    # Authenticated, the same.
    outcome_of(secured.send(SIGN, b"{not json", bearer(token_for(secured, keys))), 400)
    # Feedback too.
    outcome_of(open_service.client.post(f"/cds-services/{SIGN}/feedback", content=b"nope"), 400)


def test_a_hook_sent_to_the_other_service_is_422(open_service: Service) -> None:
    issues = outcome_of(open_service.call(SIGN, request("order-select")), 422)
    assert "order-sign" in diagnostics(issues)
    issues = outcome_of(open_service.call(SELECT, request("order-sign")), 422)
    assert "order-select" in diagnostics(issues)


def test_an_unknown_service_is_404(open_service: Service, secured: Service) -> None:
    for service in (open_service, secured):
        for path in ("/cds-services/nope", "/cds-services/nope/feedback"):
            r = service.client.post(path, json=request())
            assert outcome_of(r, 404)[0]["code"] == "not-found"


def _deep(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


JUNK: dict[str, bytes] = {
    "empty-list": b"[]",
    "a-string": b'"x"',
    "a-number": b"1",
    "null": b"null",
    "hook-a-number": b'{"hook": 1}',
    "hook-only": b'{"hook": "order-sign"}',
    "context-a-list": b'{"hook": "order-sign", "hookInstance": "i", "context": []}',
    "context-ids-objects": (
        b'{"hook": "order-sign", "hookInstance": "i", "context": '
        b'{"userId": {}, "patientId": [], "draftOrders": {}}}'
    ),
    "draftOrders-a-list": (
        b'{"hook": "order-sign", "hookInstance": "i", "context": '
        b'{"userId": "u", "patientId": "p", "draftOrders": []}}'
    ),
    "draftOrders-entries-junk": (
        b'{"hook": "order-sign", "hookInstance": "i", "context": {"userId": "u", "patientId": "p",'
        b' "draftOrders": {"resourceType": "Bundle", "entry": [1, "x", null, {"resource": 5}]}}}'
    ),
    "draftOrders-entry-a-string": (
        b'{"hook": "order-sign", "hookInstance": "i", "context": {"userId": "u", "patientId": "p",'
        b' "draftOrders": {"resourceType": "Bundle", "entry": "x"}}}'
    ),
    "fhirServer-not-a-url": (
        b'{"hook": "order-sign", "hookInstance": "i", "fhirServer": "not a url", "context": '
        b'{"userId": "u", "patientId": "p", "draftOrders": {}}}'
    ),
    "fhirAuthorization-empty": (
        b'{"hook": "order-sign", "hookInstance": "i", "fhirServer": "http://127.0.0.1:9/fhir", '
        b'"fhirAuthorization": {}, "context": {"userId": "u", "patientId": "p", "draftOrders": {}}}'
    ),
    "prefetch-a-string": (
        b'{"hook": "order-sign", "hookInstance": "i", "prefetch": "x", "context": '
        b'{"userId": "u", "patientId": "p", "draftOrders": {}}}'
    ),
}


def _prefetch_junk(value: object) -> bytes:
    body = request()
    for key in REQUIRED_PREFETCH:
        body["prefetch"][key] = value
    return json.dumps(body).encode()


def _raw_in_prefetch(raw: str) -> bytes:
    body = request()
    body["prefetch"]["conditions"] = "@@JUNK@@"
    return json.dumps(body).replace('"@@JUNK@@"', raw).encode()


JUNK |= {
    "prefetch-values-lists": _prefetch_junk([[[]], {"a": None}]),
    "prefetch-values-numbers": _prefetch_junk(7),
    "prefetch-values-bundles-of-junk": _prefetch_junk(
        {"resourceType": "Bundle", "entry": [None, 1, {"resource": []}, {"resource": {"x": 1}}]}
    ),
    "prefetch-values-wrong-types": _prefetch_junk({"resourceType": "Patient", "id": 5}),
    "prefetch-bundle-entry-not-a-list": _prefetch_junk({"resourceType": "Bundle", "entry": {}}),
    "prefetch-deeply-nested-objects": _raw_in_prefetch(_deep(500)),
    "prefetch-deeply-nested-lists": _raw_in_prefetch("[" * 500 + "]" * 500),
    "prefetch-deeply-nested-in-a-bundle": _raw_in_prefetch(
        '{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Condition", '
        '"code": ' + _deep(400) + "}}]}"
    ),
}


@pytest.mark.parametrize("case", sorted(JUNK))
def test_junk_is_never_a_500(open_service: Service, case: str) -> None:
    for service_id in (SIGN, SELECT):
        r = open_service.send(service_id, JUNK[case])
        assert r.status_code < 500, (r.status_code, r.text[:2000])
        if r.status_code != 200:
            outcome_of(r, r.status_code)
    r = open_service.client.post(
        f"/cds-services/{SIGN}/feedback",
        content=JUNK[case],
        headers={"Content-Type": "application/json"},
    )
    outcome_of(r, 422)


@pytest.mark.parametrize("path", ["/cds-services/" + SIGN, f"/cds-services/{SIGN}/feedback"])
def test_very_deep_nesting_is_not_a_500(open_service: Service, path: str) -> None:
    # A fresh connection: after the 500 uvicorn drops the connection.
    with httpx.Client(base_url=open_service.url, timeout=30) as client:
        r = client.post(path, content=_raw_in_prefetch(_deep(5000)))
    assert r.status_code < 500, r.text[:500]


# --- never repeated --------------------------------------------------------------------------------


def test_the_same_order_twice_is_answered_once(open_service: Service) -> None:
    body = request()
    assert cards_of(open_service.call(SIGN, body))
    again = copy.deepcopy(body)
    again["hookInstance"] = str(uuid.uuid4())
    assert cards_of(open_service.call(SIGN, again)) == []


def test_a_changed_dose_brings_the_dose_card_back(open_service: Service) -> None:
    body = request()
    first = dose_card(cards_of(open_service.call(SIGN, body)))
    assert "2400 mg/day" in first["summary"]
    changed = cards_of(open_service.call(SIGN, with_dose(body, 600)))
    card = dose_card(changed)
    assert "1800 mg/day" in card["summary"]
    assert card["uuid"] != first["uuid"]
    # Back to the first dose: that card was shown already.
    assert all(
        c.get("suggestions") is None
        for c in cards_of(open_service.call(SIGN, with_dose(body, 800)))
    )


def test_order_select_then_order_sign_is_not_repeated(open_service: Service) -> None:
    pid = f"pt-{uuid.uuid4().hex[:12]}"
    assert cards_of(open_service.call(SELECT, request("order-select", pid)))
    assert cards_of(open_service.call(SIGN, request("order-sign", pid))) == []


def test_the_same_order_sent_at_once_is_answered_once(open_service: Service) -> None:
    callers = 10
    for _ in range(3):
        body = request()
        start = threading.Barrier(callers)

        def send(_: int, body: Body = body, start: threading.Barrier = start) -> int:
            with httpx.Client(base_url=open_service.url, timeout=30) as client:
                start.wait()
                return len(cards_of(client.post(f"/cds-services/{SIGN}", json=body)))

        with ThreadPoolExecutor(callers) as pool:
            answered = [n for n in pool.map(send, range(callers)) if n]
        assert len(answered) == 1, f"{len(answered)} of {callers} answers had the cards"


def test_another_patient_gets_the_cards_again(open_service: Service) -> None:
    assert cards_of(open_service.call(SIGN, request()))
    assert cards_of(open_service.call(SIGN, request()))


# --- feedback --------------------------------------------------------------------------------------


def test_feedback_accepted_and_overridden_is_stored(open_service: Service) -> None:
    cards = cards_of(open_service.call(SIGN, request()))
    fixed = dose_card(cards)
    other = next(c for c in cards if c is not fixed)
    suggestion = fixed["suggestions"][0]["uuid"]
    reason = other["overrideReasons"][0]
    when = now_iso()
    r = open_service.feedback(
        SIGN,
        {
            "feedback": [
                {
                    "card": fixed["uuid"],
                    "outcome": "accepted",
                    "acceptedSuggestions": [{"id": suggestion}],
                    "outcomeTimestamp": when,
                },
                {
                    "card": other["uuid"],
                    "outcome": "overridden",
                    "overrideReason": {
                        "reason": reason,
                        "userComment": "Discussed with the patient",
                    },
                    "outcomeTimestamp": when,
                },
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {}
    [accepted] = feedback_for(open_service.store, fixed["uuid"])
    assert accepted.outcome == "accepted"
    assert accepted.accepted_suggestions == suggestion
    assert accepted.override_code is None
    assert accepted.outcome_at == when
    [overridden] = feedback_for(open_service.store, other["uuid"])
    assert overridden.outcome == "overridden"
    assert overridden.override_code == reason["code"]
    assert overridden.override_system == reason["system"]
    assert overridden.override_display == reason["display"]
    assert overridden.user_comment == "Discussed with the patient"
    assert overridden.accepted_suggestions == ""


def test_feedback_on_an_unknown_card_stores_nothing(open_service: Service) -> None:
    cards = cards_of(open_service.call(SIGN, request()))
    known, unknown = cards[0]["uuid"], str(uuid.uuid4())
    before = open_service.rows()["cds_feedback"]
    for items in ([unknown], [known, unknown], [unknown, known]):
        body = {
            "feedback": [
                {"card": c, "outcome": "accepted", "outcomeTimestamp": now_iso()} for c in items
            ]
        }
        issues = outcome_of(open_service.feedback(SIGN, body), 422)
        assert unknown in diagnostics(issues)
        assert known not in diagnostics(issues)
    assert feedback_for(open_service.store, known) == []
    assert open_service.rows()["cds_feedback"] == before


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"feedback": []},
        {"feedback": [{"card": "x", "outcome": "ignored", "outcomeTimestamp": "t"}]},
        {"feedback": [{"card": "x", "outcome": "accepted"}]},
        {"feedback": [{"outcome": "accepted", "outcomeTimestamp": "t"}]},
    ],
    ids=["empty", "no-items", "bad-outcome", "no-timestamp", "no-card"],
)
def test_invalid_feedback_is_422(open_service: Service, body: Body) -> None:
    before = open_service.rows()["cds_feedback"]
    outcome_of(open_service.feedback(SIGN, body), 422)
    assert open_service.rows()["cds_feedback"] == before


# --- plan link -------------------------------------------------------------------------------------


def test_the_cards_link_opens_the_full_plan(open_service: Service) -> None:
    cards = cards_of(open_service.call(SIGN, request()))
    links = [link for c in cards for link in c["links"]]
    assert links
    for link in links:
        assert link["type"] == "absolute"
        assert link["label"]
        assert link["url"].startswith(f"{open_service.url}/cds/plans/")
    with httpx.Client() as browser:  # no session, no token header: the link alone opens it
        r = browser.get(dose_card(cards)["links"][0]["url"])
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert RENAL_BAND in html.unescape(r.text)
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["referrer-policy"] == "no-referrer"
        missing = browser.get(f"{open_service.url}/cds/plans/{uuid.uuid4().hex}")
        assert missing.status_code == 404
        assert RENAL_BAND not in html.unescape(missing.text)


# --- response shape --------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "service_id"), [("order-sign", SIGN), ("order-select", SELECT)])
def test_cards_have_the_cds_hooks_shape(open_service: Service, name: str, service_id: str) -> None:
    r = open_service.call(service_id, request(name))
    assert set(r.json()) == {"cards"}
    cards = cards_of(r)
    assert cards
    for card in cards:
        assert 0 < len(card["summary"]) < 140
        assert card["indicator"] in {"info", "warning", "critical"}
        assert card["source"]["label"]
        uuid.UUID(card["uuid"])
        if card.get("suggestions"):
            assert card["selectionBehavior"] in {"at-most-one", "any"}
        for suggestion in card.get("suggestions", []):
            assert suggestion["label"]
            for action in suggestion["actions"]:
                assert action["type"] in {"create", "update", "delete"}
                assert action["description"]
                if "resource" in action:
                    order = MedicationRequest.model_validate(action["resource"])
                    assert order.id == draft(request(name))["id"]
    indicators = [c["indicator"] for c in cards]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert indicators == sorted(indicators, key=rank.__getitem__), "most urgent first"
