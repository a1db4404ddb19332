"""Property tests of the JSON API from its own OpenAPI document (schemathesis against the live
server): whatever the generated request, the server never answers 5xx, and every documented
answer has the documented status, content type and body."""

from __future__ import annotations

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gabaguide.web import Settings, create_app
from tests.web.conftest import LiveServer

SIMULATE = "/api/v1/simulate"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Bounded for a small machine: a few dozen requests per operation (fewer simulations), each a real
# HTTP call, so no deadline; derandomized so a failure reproduces on the next run.
BOUNDED = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=True,
)
SIMULATE_BOUNDED = settings(BOUNDED, max_examples=10)


# The document of the app the live server runs (the app is only built, never started, here; the
# test below checks the server publishes the same document). `schemathesis.pytest.from_fixture`
# would load it from the server itself, but schemathesis 4.32's lazy loader sets `Node._nodeid`,
# which pytest 9.2 no longer has.
DOCUMENT = create_app(Settings(database_url="sqlite://")).openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT)


@schema.exclude(path=SIMULATE).parametrize()
@BOUNDED
def test_api_never_fails_and_answers_as_documented(
    case: schemathesis.Case, live_server: LiveServer
) -> None:
    """Every operation but /simulate: no 5xx, and the answer conforms to the schema."""
    case.call_and_validate(base_url=live_server.url, checks=CHECKS)


@schema.include(path=SIMULATE).parametrize()
@SIMULATE_BOUNDED
def test_simulate_never_fails_and_answers_as_documented(
    case: schemathesis.Case, live_server: LiveServer
) -> None:
    """/simulate, with fewer examples (each call runs the PK model): no 5xx, documented answers."""
    case.call_and_validate(base_url=live_server.url, checks=CHECKS)


def test_the_server_publishes_the_document_tested(client: httpx.Client) -> None:
    """The live server's /openapi.json is the document the property tests are generated from."""
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.json() == DOCUMENT


def test_bad_fields_are_each_named(client: httpx.Client) -> None:
    """Two bad fields in one patient: 422 and one error naming each."""
    r = client.post("/api/v1/assess", json={"age_years": "old", "weight_kg": -1})
    assert r.status_code == 422
    body = r.json()
    assert body["detail"]
    assert [e["field"] for e in body["errors"]] == ["age_years", "weight_kg"]
    age, weight = (e["message"] for e in body["errors"])
    assert "age_years must be a number" in age
    assert "0.5" in weight
    assert "400" in weight
