"""CDS Hooks 2.0 routes: discovery, the order-select and order-sign services, feedback, and the
page behind a card's link to the full plan.

A call is authenticated (JWT, :mod:`gabaguide.web.cdsauth`), read (prefetch, or fetched from the
EHR's FHIR server, or 412), assessed by the same core as every other entry point
(:mod:`gabaguide.interop.cdsadvice`), and answered with the cards not shown before for the same
order. Errors are FHIR OperationOutcomes: 400 for a body that is not JSON, 422 for one that is not
a valid request, 401 (no detail) for a refused token, 404 for an unknown service.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from pydantic import BaseModel, ValidationError

from gabaguide.clinical.assess import assess
from gabaguide.domain import error_sentence, parse_patient
from gabaguide.errors import InputError
from gabaguide.interop.cdsadvice import CardDraft, advise
from gabaguide.interop.cdshooks import (
    REQUIRED_PREFETCH,
    SERVICES,
    CdsResponse,
    Feedback,
    HookRequest,
    Link,
    OperationOutcome,
    OrderContext,
    discovery,
    prefetch_templates,
)
from gabaguide.interop.fhirchart import read_chart
from gabaguide.interop.fhirread import FhirInputError, R, foreign_subjects, read_resources
from gabaguide.store import cds as memory
from gabaguide.web.cdsauth import UnauthorizedError
from gabaguide.web.cdsfetch import UnobtainableError, fetch, fill
from gabaguide.web.errors import NotFoundError
from gabaguide.web.pages import render, result_context
from gabaguide.web.security import CHART_PAGE_CSP
from gabaguide.web.state import AppState, app_state

log = logging.getLogger("gabaguide.web.cds")
router = APIRouter(tags=["CDS Hooks"])
State = Annotated[AppState, Depends(app_state)]
FHIR_JSON = "application/fhir+json"
_INDICATOR_ORDER = {"critical": 0, "warning": 1, "info": 2}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {
        "model": OperationOutcome,
        "description": str(why),
        "content": {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}},
    }
    for status, why in (
        (400, "The body is not JSON."),
        (404, "No such service."),
        (412, "Required prefetch data was neither sent nor fetchable."),
        (422, "Not a valid request, or a FHIR resource that cannot be read."),
    )
}
_ERRORS[401] = {"description": "The JWT is missing or not acceptable (no detail)."}


class CdsError(Exception):
    """An answer other than cards: status and OperationOutcome issues."""

    def __init__(self, status: int, issues: list[str], code: str = "invalid") -> None:
        super().__init__("; ".join(issues))
        self.status, self.issues, self.code = status, issues, code


def outcome(status: int, issues: list[str], code: str = "invalid") -> JSONResponse:
    """A FHIR OperationOutcome with one issue per problem."""
    return JSONResponse(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": i} for i in issues],
        },
        status_code=status,
        media_type=FHIR_JSON,
    )


@router.get("/cds-services")
def services(state: State) -> JSONResponse:
    """CDS Hooks discovery: the order-select and order-sign services with their prefetch."""
    return JSONResponse(discovery(state.knowledge))


@router.post("/cds-services/{service_id}", response_model=CdsResponse, responses=_ERRORS)
async def call(service_id: str, request: Request, state: State) -> Response:
    """A CDS Hooks service call: cards for the gabapentinoid (or co-medication) orders."""
    try:
        hook = _service(service_id)
        claims = await run_in_threadpool(_authorize, request, state)
        data = _json(await request.body())
        body = await run_in_threadpool(_answer, state, service_id, hook, data, claims, request)
    except CdsError as p:
        return outcome(p.status, p.issues, p.code)
    except UnauthorizedError:
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return JSONResponse(body)


@router.post("/cds-services/{service_id}/feedback", responses=_ERRORS)
async def feedback(service_id: str, request: Request, state: State) -> Response:
    """CDS Hooks feedback: what the clinician did with each card (accepted, or overridden with a
    reason). Stored all together or not at all."""
    try:
        _service(service_id)
        await run_in_threadpool(_authorize, request, state)
        data = _json(await request.body())
        await run_in_threadpool(_record, state, service_id, data)
    except CdsError as p:
        return outcome(p.status, p.issues, p.code)
    except UnauthorizedError:
        return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return JSONResponse({})


@router.get("/cds/plans/{token}", response_class=HTMLResponse, include_in_schema=False)
def plan_page(token: str, request: Request, state: State) -> HTMLResponse:
    """The full assessment behind a card's link (the link lasts ``GABAGUIDE_CDS_PLAN_HOURS``)."""
    found = memory.plan_patient(state.store, token)
    if found is None:
        raise NotFoundError("This plan link is unknown or has expired.")
    data = json.loads(found)
    patient = parse_patient(data)
    a = assess(patient, state.knowledge)
    response = render(request, "result.html", **result_context(state, patient, data, a))
    response.headers["Content-Security-Policy"] = CHART_PAGE_CSP
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _service(service_id: str) -> str:
    if service_id not in SERVICES:
        raise CdsError(404, [f"no CDS service {service_id!r}; see GET /cds-services"], "not-found")
    return SERVICES[service_id][0]


def _endpoint(state: AppState, request: Request) -> str:
    base = state.settings.public_url.rstrip("/") if state.settings.public_url else None
    if base:
        return base + request.url.path
    return str(request.url.replace(query=""))


def _authorize(request: Request, state: AppState) -> dict[str, Any]:
    if not state.settings.cds_auth:
        return {}
    assert state.cds_verifier is not None
    called = _endpoint(state, request)
    # A feedback call's audience is the endpoint called or, as some clients send, its service.
    audience = (
        [called, called.removesuffix("/feedback")] if called.endswith("/feedback") else [called]
    )
    return state.cds_verifier.verify(request.headers.get("authorization"), audience)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        raise CdsError(400, ["the body is not JSON"], "structure") from None
    except RecursionError:
        raise CdsError(400, ["the body is nested too deeply"], "structure") from None


def _sentences(exc: ValidationError, prefix: str = "") -> list[str]:
    return [prefix + error_sentence(e) for e in exc.errors()]


def _answer(
    state: AppState,
    service_id: str,
    hook: str,
    data: Any,
    claims: dict[str, Any],
    request: Request,
) -> dict[str, Any]:
    k = state.knowledge
    if not isinstance(data, dict):
        raise CdsError(422, ["the body must be a CDS Hooks request (a JSON object)"])
    try:
        req = HookRequest.model_validate(data)
    except ValidationError as exc:
        raise CdsError(422, _sentences(exc)) from None
    if req.hook != hook:
        raise CdsError(422, [f"hook must be {hook!r} for service {service_id!r}; got {req.hook!r}"])
    try:
        context = OrderContext.model_validate(req.context)
    except ValidationError as exc:
        raise CdsError(422, _sentences(exc, "context.")) from None
    prefetch = _prefetch(state, req, context)
    try:
        pid = context.patientId
        chart = read_chart(
            k,
            datetime.now(UTC).date(),
            _patient(prefetch, pid),
            _read(Observation, prefetch, "creatinine", pid),
            _read(Observation, prefetch, "weight", pid),
            _read(MedicationRequest, prefetch, "medications", pid),
            _read(Condition, prefetch, "conditions", pid),
            _read(AllergyIntolerance, prefetch, "allergies", pid),
        )
        drafts = advise(k, hook, context, chart, state.settings.cds_min_severity)
    except InputError as exc:
        raise CdsError(422, list(exc.problems)) from None
    scope = "\n".join((str(claims.get("iss", "")), str(req.fhirServer or ""), context.patientId))
    return _respond(state, service_id, scope, drafts, request)


def _read(model: type[R], prefetch: dict[str, Any], key: str, patient_id: str) -> list[R]:
    """The prefetch key's resources of ``model``; a resource about another patient is an error."""
    found = read_resources(model, prefetch[key], f"prefetch.{key}")
    foreign = foreign_subjects(found, patient_id, f"prefetch.{key}")
    if foreign:
        raise FhirInputError(foreign)
    return found


def _patient(prefetch: dict[str, Any], patient_id: str) -> FhirPatient | None:
    found = read_resources(FhirPatient, prefetch["patient"], "prefetch.patient")
    if found and found[0].id is not None and found[0].id != patient_id:
        raise FhirInputError(
            [f"prefetch.patient is Patient/{found[0].id}, not the context's Patient/{patient_id}"]
        )
    return found[0] if found else None


def _prefetch(state: AppState, req: HookRequest, context: OrderContext) -> dict[str, Any]:
    """The prefetch, completed from the FHIR server when the EHR left keys out (412 if it cannot)."""
    given = dict(req.prefetch or {})
    missing = [key for key in REQUIRED_PREFETCH if key not in given]
    if not missing:
        return given
    if req.fhirServer is None or req.fhirAuthorization is None:
        raise CdsError(
            412,
            [
                f"prefetch {key!r} was not sent and there is no fhirServer to fetch it"
                for key in missing
            ],
            "required",
        )
    templates = prefetch_templates(state.knowledge)
    values = context.model_dump()
    queries = {key: fill(templates[key], values) for key in missing}
    try:
        given |= fetch(
            str(req.fhirServer),
            req.fhirAuthorization.access_token,
            queries,
            state.settings.cds_fetch_timeout_s,
        )
    except UnobtainableError as exc:
        raise CdsError(
            412,
            [f"prefetch {key!r} could not be fetched from the FHIR server" for key in exc.keys],
            "required",
        ) from None
    return given


def _respond(
    state: AppState, service_id: str, scope: str, drafts: list[CardDraft], request: Request
) -> dict[str, Any]:
    kept = [
        memory.ShownCard(
            uuid=str(d.card.uuid),
            problem_key=hashlib.sha256(
                f"{scope}\n{d.order_key}\n{d.problem}\n{d.fingerprint}".encode()
            ).hexdigest(),
            problem=d.problem,
            indicator=d.card.indicator,
            plan_json=d.patient.model_dump_json(exclude_defaults=True),
        )
        for d in drafts
    ]
    tokens = memory.show_once(state.store, service_id, kept, state.settings.cds_plan_hours)
    base = (state.settings.public_url or str(request.base_url)).rstrip("/")
    cards = []
    # Most urgent first; within an indicator, the card with a corrected order first.
    for d in sorted(
        drafts, key=lambda d: (_INDICATOR_ORDER[d.card.indicator], not d.card.suggestions)
    ):
        token = tokens.get(str(d.card.uuid))
        if token is None:
            continue
        link = Link(
            label="Full plan in gabaguide", url=f"{base}/cds/plans/{token}", type="absolute"
        )
        card = d.card.model_copy(update={"links": (*d.card.links, link)})
        cards.append(_compact(card))
    return {"cards": cards}


def _compact(model: BaseModel) -> dict[str, Any]:
    """A response object without its empty optional fields."""
    out: dict[str, Any] = model.model_dump(mode="json", exclude_defaults=True)
    return out


def _record(state: AppState, service_id: str, data: Any) -> None:
    try:
        items = Feedback.model_validate(data).feedback
    except ValidationError as exc:
        raise CdsError(422, _sentences(exc)) from None
    rows = [
        memory.FeedbackRow(
            card=i.card,
            outcome=i.outcome,
            accepted=tuple(s.id for s in i.acceptedSuggestions),
            override_code=i.overrideReason.reason.code
            if i.overrideReason and i.overrideReason.reason
            else None,
            override_system=i.overrideReason.reason.system
            if i.overrideReason and i.overrideReason.reason
            else None,
            override_display=i.overrideReason.reason.display
            if i.overrideReason and i.overrideReason.reason
            else None,
            comment=i.overrideReason.userComment if i.overrideReason else None,
            outcome_at=i.outcomeTimestamp,
        )
        for i in items
    ]
    unknown = memory.record_feedback(state.store, service_id, rows)
    if unknown:
        raise CdsError(
            422, [f"feedback.card {u!r} is not a card this service issued" for u in unknown]
        )
