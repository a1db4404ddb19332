"""The JSON API, ``/api/v1``: the same core entry points as the CLI, the same JSON."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict
from pydantic_core import PydanticCustomError

from gabaguide.clinical.assess import assess, check_patient
from gabaguide.clinical.checks import interaction_check, schedule_report
from gabaguide.domain import (
    CRCL_ML_MIN_RANGE,
    Assessment,
    ClockTime,
    InteractionCheck,
    InteractionsRequest,
    Patient,
    ScheduleReport,
    WeightKg,
)
from gabaguide.errors import InputError
from gabaguide.interop.ical import calendar_ics
from gabaguide.knowledge import Knowledge
from gabaguide.knowledge.catalogue import search
from gabaguide.pk import simulate_regimen
from gabaguide.pk.summary import simulations_document
from gabaguide.web.errors import ErrorBody, NotFoundError
from gabaguide.web.examples import EXAMPLE_INTERACTIONS, EXAMPLE_PATIENT, EXAMPLE_SIMULATION
from gabaguide.web.state import AppState, app_state
from gabaguide.web.suggest import Suggestion, suggestions

ERRORS: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorBody,
        "description": "Bad input: one message per problem, naming the field.",
    }
}
router = APIRouter(prefix="/api/v1", responses=ERRORS)
State = Annotated[AppState, Depends(app_state)]
PatientBody = Annotated[Patient, Body(openapi_examples={"patient": {"value": EXAMPLE_PATIENT}})]


def _assess(state: AppState, patient: Patient) -> Assessment:
    check_patient(state.knowledge, patient)  # InputError: an unknown product, an impossible pair
    return assess(patient, state.knowledge)


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


@router.post("/assess", response_model=Assessment, tags=["assessment"])
def assess_patient(patient: PatientBody, state: State) -> Response:
    """Assess one patient: kidney function, the label's band, titration, maximum, taper or switch,
    cited findings, alternatives, dose times and dispensing. Same JSON as `gabaguide assess`."""
    return _json(_assess(state, patient))


@router.post("/interactions", response_model=InteractionCheck, tags=["assessment"])
def interactions(
    request: Annotated[
        InteractionsRequest, Body(openapi_examples={"opioid": {"value": EXAMPLE_INTERACTIONS}})
    ],
    state: State,
) -> Response:
    """Interactions of other medicines (and alcohol) with a gabapentinoid, with the opioids' MME."""
    return _json(interaction_check(state.knowledge, request))


@router.post("/schedule", response_model=ScheduleReport, tags=["schedule"])
def schedule(patient: PatientBody, state: State) -> Response:
    """Clock times of every planned dose, what to dispense and the scheduling notes."""
    return _json(schedule_report(_assess(state, patient)))


@router.post(
    "/schedule.ics",
    response_class=Response,
    responses={200: {"content": {"text/calendar": {}}, "description": "An iCalendar file."}},
    tags=["schedule"],
)
def schedule_ics(patient: PatientBody, state: State) -> Response:
    """The planned doses as an iCalendar file (needs ``routine.start_date``)."""
    return ics_response(state, _assess(state, patient))


def ics_response(state: AppState, a: Assessment) -> Response:
    if not a.schedule:
        raise InputError(["body: the plan has no doses to put in a calendar (see the findings)"])
    if any(d.date is None for d in a.schedule):
        raise InputError(["routine.start_date is required for a calendar file (YYYY-MM-DD)"])
    k = state.knowledge
    names = {p.id: p.name for p in k.products}
    stamp = datetime.now(UTC).replace(microsecond=0)
    data = calendar_ics(a.schedule, names, k.dosing.scheduling.reminder_minutes_before, stamp)
    return Response(
        data,
        media_type="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="gabapentin-doses.ics"'},
    )


def _simulated_crcl(value: float) -> float:
    # 0 would mean no elimination at all: more than 0, up to the domain's maximum.
    if not (math.isfinite(value) and 0 < value <= CRCL_ML_MIN_RANGE[1]):
        raise PydanticCustomError(
            "out_of_range",
            "must be more than 0 and at most {hi} mL/min; got {value}",
            {"hi": f"{CRCL_ML_MIN_RANGE[1]:g}", "value": f"{value:g}"},
        )
    return value


SimCrCl = Annotated[float, Strict(), AfterValidator(_simulated_crcl)]
Threshold = Annotated[float, Strict(), Field(gt=0, le=10_000, allow_inf_nan=False)]


class SimulateRequest(BaseModel):
    """A regimen to simulate at one or more kidney functions (the body of ``/simulate``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regimen: str = Field(max_length=40, description="e.g. '400 mg TID', '300 mg q8h'.")
    crcl_ml_min: tuple[SimCrCl, ...] = Field(
        min_length=1, max_length=6, description="Creatinine clearances to compare, mL/min."
    )
    drug: Literal["gabapentin", "pregabalin"] = "gabapentin"
    days: int = Field(7, description="Days to simulate; the last is the steady state.")
    n: int = Field(1, description="Virtual patients; 1 = the typical patient.")
    seed: int = Field(1, ge=0, le=2**32 - 1)
    times: tuple[ClockTime, ...] = Field((), max_length=12, description="Dose clock times HH:MM.")
    weight_kg: WeightKg | None = None
    sex: Literal["female", "male"] | None = None
    antacid_times: tuple[ClockTime, ...] = Field((), max_length=12)
    dialysis_days: tuple[Annotated[int, Field(ge=0)], ...] = Field(
        (), max_length=28, description="0 = the first day; each must fall within `days`."
    )
    dialysis_start: ClockTime = "08:00"
    after_dialysis_mg: Annotated[float, Strict(), Field(ge=0, le=10_000, allow_inf_nan=False)] = 0.0
    above_mg_l: tuple[Threshold, ...] = Field((), max_length=6, description="Thresholds, mg/L.")


@router.post("/simulate", tags=["pharmacokinetics"])
def simulate(
    request: Annotated[
        SimulateRequest, Body(openapi_examples={"compare": {"value": EXAMPLE_SIMULATION}})
    ],
    state: State,
) -> dict[str, Any]:
    """Concentrations of a regimen: curves (median and 5th-95th percentile band), steady-state
    metrics and notes. Same JSON as `gabaguide simulate --json`."""
    limits = state.settings
    problems = []
    if not 1 <= request.n <= limits.simulate_max_subjects:
        problems.append(f"n must be between 1 and {limits.simulate_max_subjects}; got {request.n}")
    if not 1 <= request.days <= limits.simulate_max_days:
        problems.append(
            f"days must be between 1 and {limits.simulate_max_days}; got {request.days}"
        )
    if any(d >= request.days for d in request.dialysis_days):
        problems.append(
            f"dialysis_days must fall within the simulated days (0 to {request.days - 1})"
        )
    if len(set(request.crcl_ml_min)) != len(request.crcl_ml_min):
        problems.append("crcl_ml_min values must be different to compare")
    if problems:
        raise InputError(problems)
    sims = [
        (
            f"CrCl {crcl:g} mL/min",
            simulate_regimen(
                request.drug,
                request.regimen,
                crcl,
                days=request.days,
                n=request.n,
                seed=request.seed,
                times=request.times,
                weight_kg=request.weight_kg,
                sex=request.sex,
                antacid_times=request.antacid_times,
                dialysis_days=request.dialysis_days,
                dialysis_start=request.dialysis_start,
                after_dialysis_mg=request.after_dialysis_mg,
                thresholds_mg_l=request.above_mg_l,
                knowledge=state.knowledge,
            ),
        )
        for crcl in request.crcl_ml_min
    ]
    return simulations_document(sims)


class FactOut(BaseModel):
    kind: str
    id: str
    text: str
    citations: tuple[dict[str, str], ...]


@router.get("/knowledge/facts", response_model=list[FactOut], tags=["knowledge"])
def knowledge_facts(
    state: State,
    q: Annotated[
        str | None, Query(max_length=200, description="Words that must all match.")
    ] = None,
    kind: Annotated[str | None, Query(max_length=40, description="e.g. renal, warning.")] = None,
) -> list[FactOut]:
    """Search the knowledge base: every fact with its citations (as `gabaguide kb --json`)."""
    return [
        FactOut(
            kind=f.kind,
            id=f.id,
            text=f.text,
            citations=tuple(c.model_dump() for c in f.citations),
        )
        for f in search(state.knowledge, q, kind)
    ]


class SourceOut(BaseModel):
    id: str
    title: str
    document: str
    kind: str
    url: str | None


@router.get("/knowledge/sources", response_model=list[SourceOut], tags=["knowledge"])
def knowledge_sources(state: State) -> list[SourceOut]:
    """The sources every citation resolves to: label editions, guidelines, decisions."""
    return [SourceOut(**_source(state.knowledge, s.id)) for s in state.knowledge.sources]


@router.get(
    "/knowledge/sources/{source_id}",
    response_model=SourceOut,
    responses={404: {"model": ErrorBody}},
    tags=["knowledge"],
)
def knowledge_source(source_id: Annotated[str, Path(max_length=64)], state: State) -> SourceOut:
    """One source by id."""
    if source_id not in state.knowledge.source_by_id:
        raise NotFoundError(f"no source with id {source_id!r}")
    return SourceOut(**_source(state.knowledge, source_id))


def _source(k: Knowledge, sid: str) -> dict[str, Any]:
    s = k.source_by_id[sid]
    return {"id": s.id, "title": s.title, "document": s.document, "kind": s.kind, "url": s.url}


@router.get("/knowledge/medications", response_model=list[Suggestion], tags=["knowledge"])
def knowledge_medications(
    state: State,
    q: Annotated[str, Query(min_length=2, max_length=60, description="Start of a name or code.")],
    limit: Annotated[int, Query(ge=1, le=50)] = 12,
) -> list[Suggestion]:
    """Medicine names the knowledge base recognises (generic, brand, RxNorm code), for look-ahead."""
    return suggestions(state.knowledge, q, limit)
