"""The JSON API ``/api/v1`` against the live server: the same JSON as the core and the CLI, one
named error per problem (``{detail, errors: [{field, message}]}``), the knowledge endpoints, the
OpenAPI document, and the headers every answer carries."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import httpx
import pytest

from gabaguide import Knowledge, assess, parse_patient
from gabaguide.clinical.checks import interaction_check, schedule_report
from gabaguide.domain import InteractionsRequest
from gabaguide.pk import simulate_regimen
from gabaguide.pk.summary import simulations_document
from gabaguide.web.examples import EXAMPLE_INTERACTIONS, EXAMPLE_PATIENT, EXAMPLE_SIMULATION
from tests.web.conftest import LiveServer

HEMODIALYSIS: dict[str, Any] = {
    "patient_id": "hd-1",
    "age_years": 72,
    "sex": "male",
    "weight_kg": 80,
    "crcl_ml_min": 10,
    "dialysis": "hemodialysis",
    "indication": "postherpetic neuralgia",
    "routine": {"wake": "07:00", "sleep": "22:00"},
}
TAPER: dict[str, Any] = {
    "patient_id": "taper-1",
    "age_years": 55,
    "crcl_ml_min": 90,
    "goal": "stop",
    "current_regimen": {"product": "gabapentin", "dose_mg": 600, "times_per_day": 3},
    "routine": {"start_date": "2026-12-01"},
}
PATIENTS = [
    pytest.param(EXAMPLE_PATIENT, id="crcl40-oxycodone"),
    pytest.param(HEMODIALYSIS, id="hemodialysis"),
    pytest.param(TAPER, id="taper-stop"),
]
NORCO_AND_ALCOHOL: dict[str, Any] = {
    "medications": [{"name": "Norco", "dose_mg": 5, "times_per_day": 4}],
    "alcohol_use": True,
}
JSON_HEADERS = {"content-type": "application/json"}
# A command-line option in a message ("--times must ...") is the CLI's wording, not the API's.
CLI_OPTION = re.compile(r"(^|\s)--[a-z]")


def js(value: object) -> bytes:
    return json.dumps(value).encode()


def core_assessment(patient: dict[str, Any]) -> dict[str, Any]:
    return assess(parse_patient(patient)).model_dump(mode="json")


def assert_errors(r: httpx.Response, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    """A 422 JSON error body with exactly one entry per expected (field, message fragments)."""
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"detail", "errors"}
    assert isinstance(body["detail"], str)
    assert body["detail"]
    for e in body["errors"]:
        assert set(e) == {"field", "message"}
        assert not CLI_OPTION.search(e["message"]), e
        if e["field"] != "body":
            assert e["field"] in e["message"], e  # every message names its field
    assert sorted(e["field"] for e in body["errors"]) == sorted(f for f, _ in expected), body
    for field, fragments in expected:
        message = next(e["message"] for e in body["errors"] if e["field"] == field)
        for fragment in fragments:
            assert fragment in message, (field, message)


# --- /assess: the same JSON as the core and the CLI ---------------------------------------------


@pytest.mark.parametrize("patient", PATIENTS)
def test_assess_is_the_core_assessment(client: httpx.Client, patient: dict[str, Any]) -> None:
    """POST /assess answers exactly what ``assess(parse_patient(...))`` gives."""
    r = client.post("/api/v1/assess", json=patient)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == core_assessment(patient)


def test_assess_examples_say_what_they_are_for(client: httpx.Client) -> None:
    """The example patients exercise what they are named for (renal band, dialysis, taper)."""
    example = client.post("/api/v1/assess", json=EXAMPLE_PATIENT).json()
    assert example["renal"]["crcl_ml_min"] == 40
    assert example["mme_daily"] == 45  # oxycodone 10 mg x 3 x 1.5
    assert example["schedule"][0]["date"] == "2026-12-01"
    hd = client.post("/api/v1/assess", json=HEMODIALYSIS).json()
    assert hd["renal"]["hemodialysis_supplement_mg"] > 0
    assert "renal.hemodialysis-supplement" in {f["code"] for f in hd["findings"]}
    taper = client.post("/api/v1/assess", json=TAPER).json()
    assert taper["plan"]["taper"]
    assert "taper.required" in {f["code"] for f in taper["findings"]}


def test_assess_is_what_the_cli_prints(client: httpx.Client) -> None:
    """`gabaguide assess` on the same patients (JSON Lines) prints the same JSON as the API."""
    patients = [EXAMPLE_PATIENT, HEMODIALYSIS, TAPER]
    done = subprocess.run(
        [sys.executable, "-m", "gabaguide", "assess", "-"],
        input="".join(json.dumps(p) + "\n" for p in patients),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "400"},
    )
    assert done.returncode == 0, done.stderr
    printed = [json.loads(line) for line in done.stdout.splitlines()]
    assert printed == [client.post("/api/v1/assess", json=p).json() for p in patients]


# --- bad input: 422, one error per problem, each naming its field --------------------------------

BAD_PATIENTS = [
    pytest.param(js({"weight_kg": -3}), "weight_kg", ("0.5", "400", "-3"), id="weight-range"),
    pytest.param(
        js({"medications": [{"name": "x", "dose_mg": "ten"}]}),
        "medications[0].dose_mg",
        ("a number", "'ten'"),
        id="dose-not-a-number",
    ),
    pytest.param(
        js({"medications": [{"name": "x"}, {"name": ""}]}),
        "medications[1].name",
        (),
        id="second-medication-empty-name",
    ),
    pytest.param(js({"colour": "red"}), "colour", ("is not a known field",), id="unknown-field"),
    pytest.param(
        js({"routine": {"bedtime": "22:00"}}),
        "routine.bedtime",
        ("is not a known field",),
        id="unknown-nested-field",
    ),
    pytest.param(js({"routine": {"wake": "7am"}}), "routine.wake", ("HH:MM",), id="clock-time"),
    pytest.param(
        js({"routine": {"start_date": "2026-02-30"}}),
        "routine.start_date",
        ("YYYY-MM-DD", "2026-02-30"),
        id="impossible-date",
    ),
    pytest.param(js({"pregnant": "yes"}), "pregnant", ("true or false",), id="strict-bool"),
    pytest.param(js({"goal": "maybe"}), "goal", ("start", "'maybe'"), id="unknown-goal"),
    pytest.param(js({"product": "aspirin"}), "product", ("'aspirin'",), id="unknown-product"),
    pytest.param(
        js(
            {
                "goal": "stop",
                "current_regimen": {"product": "aspirin", "dose_mg": 300, "times_per_day": 3},
            }
        ),
        "current_regimen.product",
        ("'aspirin'",),
        id="unknown-current-product",
    ),
    pytest.param(b"{not json", "body", ("not valid JSON",), id="malformed-json"),
    pytest.param(b'{"patient_id": "\xff"}', "body", (), id="not-utf8"),
    pytest.param(b"[1, 2]", "body", ("object",), id="json-array"),
    pytest.param(b"", "body", (), id="empty-body"),
]


@pytest.mark.parametrize(("content", "field", "fragments"), BAD_PATIENTS)
def test_bad_patient_is_422_naming_the_field(
    client: httpx.Client, content: bytes, field: str, fragments: tuple[str, ...]
) -> None:
    """Each bad patient: 422 with one error naming the field (the whole body is ``body``)."""
    r = client.post("/api/v1/assess", content=content, headers=JSON_HEADERS)
    assert_errors(r, [(field, fragments)])


def test_every_problem_gets_its_own_error(client: httpx.Client) -> None:
    """Four problems in one patient: four errors, one per field."""
    r = client.post(
        "/api/v1/assess",
        json={
            "weight_kg": -3,
            "age_years": 200,
            "colour": 1,
            "medications": [{"name": "x", "dose_mg": "ten"}],
        },
    )
    assert_errors(
        r,
        [
            ("weight_kg", ("0.5", "400")),
            ("age_years", ("0", "120")),
            ("colour", ("is not a known field",)),
            ("medications[0].dose_mg", ("a number",)),
        ],
    )


@pytest.mark.parametrize(
    "path", ["/api/v1/assess", "/api/v1/schedule", "/api/v1/schedule.ics"], ids=lambda p: p
)
def test_every_patient_endpoint_validates_alike(client: httpx.Client, path: str) -> None:
    """The patient endpoints share one validation: the same error body for the same bad patient."""
    r = client.post(path, json={"weight_kg": -3, "medications": [{"name": "x", "dose_mg": "ten"}]})
    assert_errors(r, [("weight_kg", ("0.5", "400")), ("medications[0].dose_mg", ("a number",))])


# --- /interactions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_body",
    [
        pytest.param(NORCO_AND_ALCOHOL, id="norco-alcohol"),
        pytest.param(EXAMPLE_INTERACTIONS, id="openapi-example"),
    ],
)
def test_interactions_are_the_core_check(
    client: httpx.Client, k: Knowledge, request_body: dict[str, Any]
) -> None:
    """POST /interactions answers what the core interaction check gives."""
    r = client.post("/api/v1/interactions", json=request_body)
    assert r.status_code == 200, r.text
    core = interaction_check(k, InteractionsRequest.model_validate(request_body))
    assert r.json() == core.model_dump(mode="json")


def test_norco_with_alcohol_counts_mme_and_flags_both(client: httpx.Client) -> None:
    """Norco 5 mg four times a day with alcohol: 20 MME/day, opioid and alcohol findings."""
    r = client.post("/api/v1/interactions", json=NORCO_AND_ALCOHOL)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["product"] == "gabapentin"
    assert body["mme_daily"] == 20
    codes = {f["code"] for f in body["findings"]}
    assert {"interaction.opioid", "interaction.alcohol"} <= codes
    assert all(f["citations"] for f in body["findings"])


@pytest.mark.parametrize(
    ("request_body", "field", "fragments"),
    [
        pytest.param(
            {**NORCO_AND_ALCOHOL, "product": "aspirin"},
            "product",
            ("'aspirin'",),
            id="unknown-product",
        ),
        pytest.param({"alcohol_use": True}, "medications", ("required",), id="no-medications"),
        pytest.param(
            {"medications": [{"name": "Norco", "times_per_day": 9}]},
            "medications[0].times_per_day",
            ("1", "6"),
            id="times-per-day-range",
        ),
    ],
)
def test_bad_interactions_request_is_422(
    client: httpx.Client,
    request_body: dict[str, Any],
    field: str,
    fragments: tuple[str, ...],
) -> None:
    """A bad interaction check: 422 naming the field."""
    assert_errors(client.post("/api/v1/interactions", json=request_body), [(field, fragments)])


# --- /schedule and /schedule.ics ------------------------------------------------------------------


def test_schedule_is_the_core_schedule(client: httpx.Client) -> None:
    """POST /schedule: dated doses and dispensing, as the core's schedule report."""
    r = client.post("/api/v1/schedule", json=EXAMPLE_PATIENT)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"patient_id", "schedule", "dispensing", "findings"}
    assert body["patient_id"] == "example-1"
    assert body["schedule"][0]["date"] == "2026-12-01"
    assert body["dispensing"]
    core = schedule_report(assess(parse_patient(EXAMPLE_PATIENT)))
    assert body == core.model_dump(mode="json")


def test_schedule_ics_is_a_calendar_of_every_dose(client: httpx.Client) -> None:
    """POST /schedule.ics with a start date: a text/calendar file with one event per dose."""
    r = client.post("/api/v1/schedule.ics", json=EXAMPLE_PATIENT)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/calendar")
    assert "attachment" in r.headers["content-disposition"]
    text = r.text
    assert text.startswith("BEGIN:VCALENDAR")
    assert text.rstrip().endswith("END:VCALENDAR")
    doses = assess(parse_patient(EXAMPLE_PATIENT)).schedule
    assert text.count("BEGIN:VEVENT") == len(doses)
    assert "DTSTART:20261201T" in text


def test_schedule_ics_without_start_date_is_422(client: httpx.Client) -> None:
    """No routine.start_date: 422 naming routine.start_date."""
    patient = {k: v for k, v in EXAMPLE_PATIENT.items() if k != "routine"}
    r = client.post("/api/v1/schedule.ics", json=patient)
    assert_errors(r, [("routine.start_date", ("YYYY-MM-DD",))])


def test_schedule_ics_of_a_plan_without_doses_is_422_on_the_body(client: httpx.Client) -> None:
    """A plan with no doses (a gabapentin allergy withholds it): 422 for the request as a whole,
    not a made-up field."""
    r = client.post("/api/v1/schedule.ics", json={"allergies": ["gabapentin"]})
    assert_errors(r, [("body", ("no doses",))])


# --- /simulate ------------------------------------------------------------------------------------


def test_simulate_compares_kidney_functions(client: httpx.Client) -> None:
    """Two CrCl values: two series with curves and metrics; the half-life is longer at CrCl 25."""
    r = client.post("/api/v1/simulate", json=EXAMPLE_SIMULATION)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"model", "simulations"}
    assert body["model"]["drug"] == "gabapentin"
    assert body["model"]["citations"]
    sims = body["simulations"]
    assert [s["crcl_ml_min"] for s in sims] == [90, 25]
    assert [s["label"] for s in sims] == ["CrCl 90 mL/min", "CrCl 25 mL/min"]
    for s in sims:
        assert s["n"] == 100
        assert s["days"] == 5
        assert s["regimen"] == "400 mg TID"
        curve = s["curve"]
        assert curve["time_h"]
        assert {"p5", "p50", "p95"} <= set(curve)
        assert all(len(curve[p]) == len(curve["time_h"]) for p in ("p5", "p50", "p95"))
        for name in ("cmax_mg_l", "cmin_mg_l", "auc_24h_mg_h_l", "half_life_h"):
            m = s["metrics"][name]
            assert m["p5"] <= m["median"] <= m["p95"]
    fast, slow = (s["metrics"]["half_life_h"]["median"] for s in sims)
    assert slow > fast


def test_simulate_is_the_core_simulation(client: httpx.Client, k: Knowledge) -> None:
    """A typical patient at one CrCl: the same document as the core (and `simulate --json`)."""
    request = {"regimen": "300 mg q8h", "crcl_ml_min": [45], "days": 3}
    r = client.post("/api/v1/simulate", json=request)
    assert r.status_code == 200, r.text
    sim = simulate_regimen("gabapentin", "300 mg q8h", 45, days=3, n=1, seed=1, knowledge=k)
    assert r.json() == json.loads(json.dumps(simulations_document([("CrCl 45 mL/min", sim)])))


def test_simulate_above_the_server_limit_is_422(
    client: httpx.Client, live_server: LiveServer
) -> None:
    """n above ``simulate_max_subjects``: 422 naming n (the limit protects the server)."""
    limit = live_server.settings.simulate_max_subjects
    r = client.post("/api/v1/simulate", json={**EXAMPLE_SIMULATION, "n": limit + 1})
    assert_errors(r, [("n", (str(limit), str(limit + 1)))])


BASE_SIMULATION: dict[str, Any] = {"regimen": "400 mg TID", "crcl_ml_min": [90]}
BAD_SIMULATIONS = [
    pytest.param({"regimen": "banana"}, "regimen", ("400 mg TID", "'banana'"), id="regimen-text"),
    pytest.param({"regimen": "400 mg q5h"}, "regimen", ("q5h",), id="regimen-interval"),
    pytest.param({"regimen": "4" * 41}, "regimen", ("40",), id="regimen-too-long"),
    pytest.param({"crcl_ml_min": [90, 90]}, "crcl_ml_min", ("different",), id="duplicate-crcl"),
    pytest.param({"crcl_ml_min": []}, "crcl_ml_min", (), id="no-crcl"),
    pytest.param({"days": 29}, "days", ("28", "29"), id="days-over-limit"),
    pytest.param({"drug": "aspirin"}, "drug", ("'aspirin'",), id="unknown-drug"),
    pytest.param({"crcl_ml_min": [0]}, "crcl_ml_min[0]", ("250",), id="crcl-out-of-range"),
    pytest.param({"weight_kg": 0}, "weight_kg", ("0.5", "400"), id="weight-out-of-range"),
    pytest.param({"times": ["08:00"]}, "times", ("3",), id="too-few-times"),
    pytest.param({"antacid_times": ["99:99"]}, "antacid_times[0]", ("HH:MM",), id="antacid-time"),
    pytest.param({"above_mg_l": [-1]}, "above_mg_l[0]", ("0",), id="negative-threshold"),
    pytest.param({"dialysis_days": [30]}, "dialysis_days", ("0 to 6",), id="dialysis-day"),
]


@pytest.mark.parametrize(("change", "field", "fragments"), BAD_SIMULATIONS)
def test_bad_simulation_is_422_naming_the_field(
    client: httpx.Client, change: dict[str, Any], field: str, fragments: tuple[str, ...]
) -> None:
    """Each bad simulation request: 422 with one error naming the request's own field."""
    r = client.post("/api/v1/simulate", json={**BASE_SIMULATION, **change})
    assert_errors(r, [(field, fragments)])


# --- /knowledge -----------------------------------------------------------------------------------


def test_facts_search_finds_cited_hemodialysis_facts(client: httpx.Client) -> None:
    """q=hemodialysis: facts that mention it, each cited to a known source (the catalogue of
    finding codes excepted: a finding carries its citations when it is raised)."""
    r = client.get("/api/v1/knowledge/facts", params={"q": "hemodialysis"})
    assert r.status_code == 200, r.text
    found = r.json()
    assert {"renal", "pk"} <= {f["kind"] for f in found}
    sources = {s["id"] for s in client.get("/api/v1/knowledge/sources").json()}
    for fact in found:
        assert "hemodialysis" in f"{fact['kind']} {fact['id']} {fact['text']}".lower()
        assert fact["citations"] or fact["kind"] == "finding-code", fact
        for c in fact["citations"]:
            assert c["source"] in sources
            assert c["locator"]


def test_facts_kind_filter(client: httpx.Client) -> None:
    """kind=renal: only renal facts; with q, the renal facts among the matches."""
    renal = client.get("/api/v1/knowledge/facts", params={"kind": "renal"}).json()
    assert renal
    assert {f["kind"] for f in renal} == {"renal"}
    both = client.get("/api/v1/knowledge/facts", params={"kind": "renal", "q": "hemodialysis"})
    everything = client.get("/api/v1/knowledge/facts", params={"q": "hemodialysis"}).json()
    assert both.json() == [f for f in everything if f["kind"] == "renal"]
    assert client.get("/api/v1/knowledge/facts", params={"kind": "no-such-kind"}).json() == []


def test_sources_list_and_one_source(client: httpx.Client) -> None:
    """Sources: a list with unique ids, and each one by id."""
    sources = client.get("/api/v1/knowledge/sources").json()
    assert sources
    ids = [s["id"] for s in sources]
    assert len(ids) == len(set(ids))
    first = sources[0]
    r = client.get(f"/api/v1/knowledge/sources/{first['id']}")
    assert r.status_code == 200
    assert r.json() == first


def test_unknown_source_is_404_json(client: httpx.Client) -> None:
    """An unknown source id: 404 with the JSON error body naming the id."""
    r = client.get("/api/v1/knowledge/sources/no-such-source", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"detail", "errors"}
    assert "no-such-source" in body["detail"]


def test_medication_lookahead_finds_norco_as_a_brand(client: httpx.Client) -> None:
    """q=norc: Norco, a brand of hydrocodone with acetaminophen."""
    r = client.get("/api/v1/knowledge/medications", params={"q": "norc"})
    assert r.status_code == 200, r.text
    brands = [s for s in r.json() if s["name"].lower() == "norco"]
    assert len(brands) == 1
    assert brands[0]["kind"] == "brand"
    assert "hydrocodone" in brands[0]["ingredients"]


@pytest.mark.parametrize(
    ("params", "field", "pattern"),
    [
        pytest.param({"q": "n"}, "q", r"\b2\b", id="q-too-short"),
        pytest.param({}, "q", r"required", id="q-missing"),
        pytest.param({"q": "norc", "limit": 0}, "limit", r"\b1\b", id="limit-zero"),
    ],
)
def test_bad_medication_lookahead_is_422(
    client: httpx.Client, params: dict[str, Any], field: str, pattern: str
) -> None:
    """A look-ahead query too short, missing or with a bad limit: 422 naming the parameter and
    its actual limit."""
    r = client.get("/api/v1/knowledge/medications", params=params)
    assert_errors(r, [(field, ())])
    message = r.json()["errors"][0]["message"]
    assert re.search(pattern, message), message


# --- the OpenAPI document, health and headers ----------------------------------------------------


@pytest.fixture(scope="module")
def openapi(live_server: LiveServer) -> dict[str, Any]:
    r = httpx.get(f"{live_server.url}/openapi.json", timeout=30)
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def test_openapi_lists_every_api_operation(openapi: dict[str, Any]) -> None:
    """The document has every /api/v1 operation and the health check."""
    assert {
        "/api/v1/assess",
        "/api/v1/interactions",
        "/api/v1/schedule",
        "/api/v1/schedule.ics",
        "/api/v1/simulate",
        "/api/v1/knowledge/facts",
        "/api/v1/knowledge/sources",
        "/api/v1/knowledge/sources/{source_id}",
        "/api/v1/knowledge/medications",
        "/healthz",
    } <= set(openapi["paths"])


def test_openapi_examples_are_the_shipped_examples(openapi: dict[str, Any]) -> None:
    """The request bodies carry the examples (the assess example is the example patient)."""
    paths = openapi["paths"]

    def examples(path: str) -> list[Any]:
        content = paths[path]["post"]["requestBody"]["content"]["application/json"]
        return [e["value"] for e in content["examples"].values()]

    assert examples("/api/v1/assess") == [EXAMPLE_PATIENT]
    assert examples("/api/v1/interactions") == [EXAMPLE_INTERACTIONS]
    assert examples("/api/v1/simulate") == [EXAMPLE_SIMULATION]


def test_openapi_422_is_the_error_body(openapi: dict[str, Any]) -> None:
    """Every /api/v1 operation documents 422 with the ErrorBody schema."""
    operations = [
        (path, method, op)
        for path, item in openapi["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
    ]
    assert len(operations) >= 9
    for path, method, op in operations:
        schema = op["responses"]["422"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path)
    error_body = openapi["components"]["schemas"]["ErrorBody"]
    assert {"detail", "errors"} <= set(error_body["properties"])
    field_error = openapi["components"]["schemas"]["FieldError"]
    assert set(field_error["properties"]) == {"field", "message"}


def test_healthz(client: httpx.Client) -> None:
    """/healthz answers ok."""
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        pytest.param("POST", "/api/v1/assess", EXAMPLE_PATIENT, 200, id="answer"),
        pytest.param("POST", "/api/v1/assess", {"weight_kg": -3}, 422, id="error"),
        pytest.param("GET", "/api/v1/knowledge/sources/nope", None, 404, id="not-found"),
    ],
)
def test_api_answers_carry_security_headers(
    client: httpx.Client, method: str, path: str, body: Any, status: int
) -> None:
    """Answers and errors alike: nosniff, no framing, a content security policy."""
    r = client.request(method, path, json=body)
    assert r.status_code == status
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in r.headers["content-security-policy"]


def test_unknown_api_path_is_404_json(client: httpx.Client) -> None:
    """A path under /api/v1 that does not exist: 404 with the JSON error body, even for a browser."""
    r = client.get("/api/v1/no-such-thing", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert set(r.json()) == {"detail", "errors"}
