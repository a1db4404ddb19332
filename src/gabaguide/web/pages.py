"""The HTML pages: home, assessment form and result, education pages with reactions, sources."""

from __future__ import annotations

import json
import secrets
from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from gabaguide.clinical.assess import assess, check_patient
from gabaguide.domain import Assessment, Patient, parse_patient
from gabaguide.errors import InputError
from gabaguide.interop.pkplot import concentration_chart
from gabaguide.interop.plancharts import plan_chart
from gabaguide.knowledge.model import Knowledge
from gabaguide.pk.plan import plan_scenario
from gabaguide.pk.simulate import simulate
from gabaguide.store import reactions
from gabaguide.store.demo import demo_patient, demo_patients
from gabaguide.web.api import ics_response
from gabaguide.web.auth import (
    CheckedForm,
    csrf_cookie,
    csrf_token,
    current_account,
    set_csrf_cookie,
)
from gabaguide.web.education import REACTIONS, page_by_slug, pages
from gabaguide.web.errors import NotFoundError, problems_by_field
from gabaguide.web.forms import MAX_MEDICATION_ROWS, form_values, patient_data
from gabaguide.web.security import CHART_PAGE_CSP
from gabaguide.web.state import AppState, app_state
from gabaguide.web.suggest import suggestions

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(files("gabaguide.web") / "templates"))
State = Annotated[AppState, Depends(app_state)]
VISITOR_COOKIE = "gg_visitor"
SEVERITY_ORDER = ("contraindicated", "warning", "caution", "info")
# Virtual patients behind the result page's concentration band (enough for stable 5th/95th
# percentiles; the seed makes the page reproducible).
PLAN_CURVE_SUBJECTS = 200
PLAN_CURVE_SEED = 20261124
PLAN_CURVE_DAYS = 4


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page, with what every page needs: the education menu, the visitor's account and the CSRF
    token its forms carry (the CSRF cookie is set on a visitor's first page)."""
    state = app_state(request)
    k: Knowledge = state.knowledge
    context.setdefault("education", pages(k))
    context.setdefault("account", current_account(request))
    cookie, new = csrf_cookie(request)
    context["csrf"] = csrf_token(request, cookie)
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    if new:
        set_csrf_cookie(state, response, cookie)
    return response


@router.get("/", response_class=HTMLResponse)
def home(request: Request, state: State) -> HTMLResponse:
    return render(request, "home.html", demos=demo_patients(state.store))


@router.get("/assess", response_class=HTMLResponse)
def assess_form(request: Request, state: State, demo: str | None = None) -> HTMLResponse:
    data: dict[str, Any] = {}
    if demo is not None:
        found = demo_patient(state.store, demo)
        if found is None:
            raise NotFoundError(f"no demo patient {demo!r}")
        data = found
    return _form(request, state, form_values(data), {})


@router.post("/assess", response_class=HTMLResponse)
async def assess_submit(request: Request, state: State, form: CheckedForm) -> HTMLResponse:
    values, data, problems = _read_form(form)
    patient = None
    try:
        patient = parse_patient(data)
        check_patient(state.knowledge, patient)
    except InputError as exc:
        problems.extend(exc.problems)
    errors = problems_by_field(problems)
    if patient is None or errors:
        return _form(request, state, values, errors, status_code=422)
    a = assess(patient, state.knowledge)
    response = render(request, "result.html", **result_context(state, patient, data, a))
    response.headers["Content-Security-Policy"] = CHART_PAGE_CSP
    return response


@router.post("/assess/calendar")
async def assess_calendar(request: Request, state: State, form: CheckedForm) -> Response:
    """The .ics of a result page's plan (the page posts back the patient JSON it was made from)."""
    try:
        data = json.loads(str(form.get("patient", "")))
        if form.get("start_date"):
            routine = dict(data.get("routine") or {}) | {"start_date": str(form["start_date"])}
            data["routine"] = routine
        patient = parse_patient(data)
        check_patient(state.knowledge, patient)
        return ics_response(state, assess(patient, state.knowledge))
    except (json.JSONDecodeError, AttributeError, TypeError):
        problems = ["patient must be the JSON the result page was made from"]
    except InputError as exc:
        problems = list(exc.problems)
    return render(
        request, "error.html", status_code=422, title="Calendar not made", problems=problems
    )


def _read_form(form: FormData) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    flat = {k: str(v) for k, v in form.items()}
    rows = {k: [str(v) for v in form.getlist(k)] for k in ("med_name", "med_dose_mg", "med_times")}
    values: dict[str, Any] = dict(flat)
    values["medications"] = [
        {"name": n, "dose_mg": d, "times_per_day": t}
        for n, d, t in zip(rows["med_name"], rows["med_dose_mg"], rows["med_times"], strict=False)
        if n.strip()
    ]
    data, problems = patient_data(flat, rows)
    return values, data, problems


def _form(
    request: Request,
    state: State,
    values: dict[str, Any],
    errors: dict[str, list[str]],
    status_code: int = 200,
) -> HTMLResponse:
    k = state.knowledge
    return render(
        request,
        "assess.html",
        status_code=status_code,
        values=values,
        errors=errors,
        product_options=[(p.id, p.name) for p in k.products],
        indications=k.indications,
        max_rows=MAX_MEDICATION_ROWS,
    )


SERIOUS = ("contraindicated", "warning")


def result_context(
    state: AppState, patient: Patient, data: dict[str, Any], a: Assessment
) -> dict[str, Any]:
    k = state.knowledge
    findings = sorted(a.findings, key=lambda f: SEVERITY_ORDER.index(f.severity))
    pk_chart, pk_reason, pk_sim = None, None, None
    built = plan_scenario(
        k, patient, a, n=PLAN_CURVE_SUBJECTS, seed=PLAN_CURVE_SEED, days=PLAN_CURVE_DAYS
    )
    if built.scenario is None:
        pk_reason = built.reason
    else:
        try:
            pk_sim = simulate(k, built.scenario)
            label = f"CrCl {a.renal.crcl_ml_min:g} mL/min"
            pk_chart = concentration_chart([(label, pk_sim)])
        except InputError as exc:
            pk_reason = "; ".join(exc.problems)
    return {
        "a": a,
        "patient": patient,
        "patient_json": json.dumps(data),
        "findings": findings,
        "answer_reasons": [f for f in findings if f.severity in SERIOUS][:3],
        "plan_chart": plan_chart(a),
        "pk_chart": pk_chart,
        "pk_reason": pk_reason,
        "pk_sim": pk_sim,
        "product_names": {p.id: p.name for p in k.products},
        "source_by_id": k.source_by_id,
        "pain_scale": k.diary.scales.pain,
    }


@router.get("/learn", response_class=HTMLResponse)
def learn_index(request: Request) -> HTMLResponse:
    return render(request, "learn_index.html")


@router.get("/learn/{slug}", response_class=HTMLResponse)
def learn_page(request: Request, slug: str, state: State) -> HTMLResponse:
    page = page_by_slug(state.knowledge).get(slug)
    if page is None:
        raise NotFoundError(f"no page {slug!r}")
    visitor = request.cookies.get(VISITOR_COOKIE)
    mine = None if visitor is None else reactions.mine(state.store, slug, _visitor(state, visitor))
    ar = {r.id: r for r in state.knowledge.adverse_reactions}
    return render(
        request,
        "learn_page.html",
        page=page,
        ar_by_id=ar,
        source_by_id=state.knowledge.source_by_id,
        **_reaction_context(state, slug, mine),
    )


@router.post("/learn/{slug}/reaction", response_class=HTMLResponse)
def learn_react(
    request: Request,
    slug: str,
    reaction: Annotated[str, Form(max_length=32)],
    state: State,
    _form: CheckedForm,
) -> Response:
    """Record the visitor's reaction (HTMX swaps the widget; without JavaScript, back to the page)."""
    if slug not in page_by_slug(state.knowledge):
        raise NotFoundError(f"no page {slug!r}")
    allowed = [r for r, _ in REACTIONS]
    if reaction not in allowed:
        raise InputError([f"reaction must be one of {', '.join(allowed)}; got {reaction!r}"])
    client = request.client.host if request.client else "unknown"
    if not state.reaction_limiter.allow(client):
        return render(
            request,
            "_reactions.html",
            status_code=429,
            limited=True,
            **_reaction_context(state, slug, None),
        )
    cookie = request.cookies.get(VISITOR_COOKIE) or ""
    new_cookie = not 16 <= len(cookie) <= 64
    if new_cookie:
        cookie = secrets.token_urlsafe(24)
    reactions.react(state.store, slug, _visitor(state, cookie), reaction)
    if request.headers.get("HX-Request") == "true":
        response: Response = render(
            request, "_reactions.html", **_reaction_context(state, slug, reaction)
        )
    else:
        response = RedirectResponse(f"/learn/{slug}#reactions", status_code=303)
    if new_cookie:
        response.set_cookie(
            VISITOR_COOKIE,
            cookie,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="lax",
            secure=state.settings.secure_cookies,
        )
    return response


def _visitor(state: AppState, cookie: str) -> str:
    return reactions.visitor_key(state.visitor_secret, cookie)


def _reaction_context(state: AppState, slug: str, mine: str | None) -> dict[str, Any]:
    return {
        "slug": slug,
        "reactions": REACTIONS,
        "counts": reactions.counts(state.store, slug),
        "mine": mine,
    }


@router.get("/sources", response_class=HTMLResponse)
def sources(request: Request, state: State) -> HTMLResponse:
    return render(request, "sources.html", sources=state.knowledge.sources)


@router.get("/assess/suggest", response_class=HTMLResponse)
def suggest_options(
    request: Request, state: State, med_name: Annotated[str, Query(max_length=60)] = ""
) -> HTMLResponse:
    """<option>s for the medication datalist (HTMX swaps them in as the prescriber types)."""
    found = suggestions(state.knowledge, med_name, 12) if len(med_name.strip()) >= 2 else []
    return render(request, "_suggestions.html", suggestions=found)
