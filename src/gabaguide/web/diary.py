"""The patient diary pages: today's entry (with red flags answered at once), the personal plan (from
an assessment or a prescription), dose-time calendars (download and a private subscription URL),
and the one-page report a patient prints or shares read-only with a clinician.

Every route takes the owner from the session (or, for a clinician, from a share they hold): no
route addresses another user's rows by id.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from gabaguide.clinical.diary import check_entry, red_flag_alerts
from gabaguide.clinical.outcomes import outcomes
from gabaguide.clinical.personal import PlanCalendar, days, personal_plan, supply
from gabaguide.domain import ScheduledDose, input_problems, parse_patient
from gabaguide.errors import InputError
from gabaguide.interop.diarycharts import dose_chart, pain_chart
from gabaguide.interop.ical import calendar_ics
from gabaguide.records import DiaryEntry, PersonalPlan, PlanRequest
from gabaguide.store import diary as store
from gabaguide.store.accounts import Account
from gabaguide.web.auth import CheckedForm, ClinicianAccount, PatientAccount
from gabaguide.web.errors import NotFoundError, problems_by_field
from gabaguide.web.pages import render
from gabaguide.web.security import CHART_PAGE_CSP
from gabaguide.web.state import AppState, app_state

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
RECENT_DAYS_SHOWN = 14
REPORT_DAYS = 28
CALENDAR_DAYS_BEHIND, CALENDAR_DAYS_AHEAD = 7, 90
"""The window a calendar file or feed covers around today (feeds are polled, so it rolls)."""


def today() -> date:
    """The server's date: the diary's "today" (entries can be made for any past day)."""
    return date.today()


# --- the diary ------------------------------------------------------------------------------------


@router.get("/diary", response_class=HTMLResponse)
def diary_home(
    request: Request,
    state: State,
    account: PatientAccount,
    day: Annotated[str | None, Query(max_length=10)] = None,
    saved: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    shown = _day_or_today(day)
    existing = store.entry(state.store, account.id, shown.isoformat())
    values: dict[str, Any] = existing.model_dump() if existing else {"day": shown.isoformat()}
    return _diary_page(request, state, account, values, [], saved=saved)


@router.post("/diary/entries", response_class=HTMLResponse)
def save_entry(
    request: Request, state: State, account: PatientAccount, form: CheckedForm
) -> Response:
    values, data, problems = _entry_form(form)
    entry = None
    if not problems:
        try:
            entry = check_entry(state.knowledge, DiaryEntry.model_validate(data))
        except ValidationError as exc:
            problems = input_problems(exc)
        except InputError as exc:
            problems = list(exc.problems)
    if entry is None:
        return _diary_page(request, state, account, values, problems, status_code=422)
    if entry.day > today().isoformat():
        problems = [f"day: cannot be after today ({today().isoformat()}); got {entry.day}"]
        return _diary_page(request, state, account, values, problems, status_code=422)
    store.save_entry(state.store, account.id, entry)
    if entry.red_flags:
        alerts = red_flag_alerts(state.knowledge, entry.red_flags)
        return render(
            request,
            "diary_alert.html",
            alerts=alerts,
            entry=entry,
            source_by_id=state.knowledge.source_by_id,
        )
    return RedirectResponse(f"/diary?saved={entry.day}", status_code=303)


@router.post("/diary/entries/{day}/delete")
def delete_entry(day: str, state: State, account: PatientAccount, _form: CheckedForm) -> Response:
    if not store.delete_entry(state.store, account.id, day[:10]):
        raise NotFoundError(f"no diary entry for {day[:10]!r}")
    return RedirectResponse("/diary", status_code=303)


def _entry_form(form: FormData) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """The form as typed (to show again) and as data for DiaryEntry; whole numbers are parsed here
    so that a typing error is named like any other problem."""
    values: dict[str, Any] = {k: str(v) for k, v in form.items() if k != "csrf"}
    values["side_effects"] = [str(v) for v in form.getlist("side_effects")]
    values["red_flags"] = [str(v) for v in form.getlist("red_flags")]
    data: dict[str, Any] = {
        "day": values.get("day", ""),
        "side_effects": values["side_effects"],
        "red_flags": values["red_flags"],
    }
    problems = []
    for field, required in (("pain", True), ("sleep_interference", False), ("doses_taken", False)):
        raw = values.get(field, "").strip()
        if not raw:
            if required:
                problems.append(f"{field}: is required")
            continue
        try:
            data[field] = int(raw)
        except ValueError:
            problems.append(f"{field}: must be a whole number; got {raw[:20]!r}")
    note = values.get("note", "").strip()
    if note:
        data["note"] = note
    return values, data, problems


def _diary_page(
    request: Request,
    state: AppState,
    account: Account,
    values: dict[str, Any],
    problems: list[str],
    status_code: int = 200,
    saved: str | None = None,
) -> HTMLResponse:
    k = state.knowledge
    saved_plans = store.plans(state.store, account.id)
    calendar = PlanCalendar([p.plan for p in saved_plans])
    now = today()
    in_force = calendar.plan_on(now)
    plan = saved_plans[in_force].plan if in_force is not None else None
    diary = store.entries(state.store, account.id)
    return render(
        request,
        "diary.html",
        status_code=status_code,
        values=values,
        problems=problems,
        errors=_by_field(problems),
        saved=saved,
        today=now.isoformat(),
        plan=plan,
        upcoming=saved_plans[-1].plan if saved_plans and plan is None else None,
        today_doses=calendar.doses_on(now),
        supply=supply(plan, now) if plan else None,
        recent=list(reversed(diary[-RECENT_DAYS_SHOWN:])),
        flagged=[e for e in reversed(diary) if e.red_flags][:5],
        scales=k.diary.scales,
        side_effects=k.diary.side_effects,
        red_flags=k.diary.red_flags,
        side_effect_by_id=k.side_effect_by_id,
        red_flag_by_id=k.red_flag_by_id,
        has_feed=store.has_feed(state.store, account.id),
        source_by_id=k.source_by_id,
    )


def _by_field(problems: list[str]) -> dict[str, list[str]]:
    """Problems by the form input they are about (``current_regimen.dose_mg`` -> ``dose_mg``), so
    the page can mark each input ``aria-invalid``; whatever the sentence's wording."""
    out: dict[str, list[str]] = {}
    for field, messages in problems_by_field(problems).items():
        field = field.removeprefix("patient.").removeprefix("current_regimen.")
        out.setdefault(field.split("[")[0].split(".")[0], []).extend(messages)
    return out


def _day_or_today(raw: str | None) -> date:
    if raw:
        try:
            return min(date.fromisoformat(raw), today())
        except ValueError:
            raise InputError(
                [f"day: must be a real calendar date YYYY-MM-DD; got {raw!r}"]
            ) from None
    return today()


# --- the personal plan ----------------------------------------------------------------------------


@router.get("/diary/plan", response_class=HTMLResponse)
def plan_page(request: Request, state: State, account: PatientAccount) -> HTMLResponse:
    return _plan_page(request, state, account, {"start_date": today().isoformat()}, [])


@router.post("/diary/plan", response_class=HTMLResponse)
def plan_from_prescription(
    request: Request, state: State, account: PatientAccount, form: CheckedForm
) -> Response:
    """A plan from the prescription as written: product, dose and times a day, kept as they are."""
    values = {k: str(v).strip() for k, v in form.items() if k != "csrf"}
    problems: list[str] = []
    numbers: dict[str, Any] = {}
    for field, kind in (("dose_mg", float), ("times_per_day", int)):
        try:
            numbers[field] = kind(values.get(field, ""))
        except ValueError:
            problems.append(
                f"current_regimen.{field}: must be a number; got {values.get(field, '')[:20]!r}"
            )
    patient: dict[str, Any] = {
        "goal": "review",
        "current_regimen": {"product": values.get("product", ""), **numbers},
    }
    if values.get("indication"):
        patient["indication"] = values["indication"]
    return _make_plan(request, state, account, values, patient, problems)


@router.post("/diary/plan/from-assessment", response_class=HTMLResponse)
def plan_from_assessment(
    request: Request, state: State, account: PatientAccount, form: CheckedForm
) -> Response:
    """The plan of an assessment result page (which posts back the patient JSON it was made from)."""
    values = {k: str(v).strip() for k, v in form.items() if k not in ("csrf", "patient")}
    try:
        patient = json.loads(str(form.get("patient", "")))
        problems: list[str] = [] if isinstance(patient, dict) else ["patient: must be an object"]
    except json.JSONDecodeError:
        patient, problems = {}, ["patient: must be the JSON the result page was made from"]
    return _make_plan(request, state, account, values, patient, problems)


def _make_plan(
    request: Request,
    state: AppState,
    account: Account,
    values: dict[str, str],
    patient_data: dict[str, Any],
    problems: list[str],
) -> Response:
    request_data: dict[str, Any] = {"start_date": values.get("start_date", "")}
    baseline = values.get("baseline_pain", "")
    if baseline:
        try:
            request_data["baseline_pain"] = int(baseline)
        except ValueError:
            problems.append(f"baseline_pain: must be a whole number; got {baseline[:20]!r}")
    if not problems:
        try:
            patient = parse_patient(patient_data)
            plan_request = PlanRequest.model_validate({**request_data, "patient": patient})
            _, plan = personal_plan(state.knowledge, plan_request)
        except ValidationError as exc:
            problems = input_problems(exc)
        except InputError as exc:
            problems = list(exc.problems)
    if problems:
        return _plan_page(request, state, account, values, problems, status_code=422)
    store.add_plan(state.store, account.id, plan_request, plan)
    return RedirectResponse("/diary/plan#plans", status_code=303)


@router.post("/diary/plan/{plan_id}/delete")
def delete_plan(
    plan_id: int, state: State, account: PatientAccount, _form: CheckedForm
) -> Response:
    if not store.delete_plan(state.store, account.id, plan_id):
        raise NotFoundError(f"no plan {plan_id} on this account")
    return RedirectResponse("/diary/plan#plans", status_code=303)


def _plan_page(
    request: Request,
    state: AppState,
    account: Account,
    values: dict[str, Any],
    problems: list[str],
    status_code: int = 200,
) -> HTMLResponse:
    k = state.knowledge
    return render(
        request,
        "diary_plan.html",
        status_code=status_code,
        values=values,
        problems=problems,
        errors=_by_field(problems),
        plans=list(reversed(store.plans(state.store, account.id))),
        products=[(p.id, p.name) for p in k.products],
        indications=k.indications,
        pain_scale=k.diary.scales.pain,
        has_feed=store.has_feed(state.store, account.id),
    )


# --- calendars ------------------------------------------------------------------------------------


@router.get("/diary/schedule.ics")
def schedule_ics(state: State, account: PatientAccount) -> Response:
    return _ics(state, account.id, download=True)


@router.post("/diary/calendar", response_class=HTMLResponse)
def new_feed(
    request: Request, state: State, account: PatientAccount, _form: CheckedForm
) -> Response:
    token = store.new_feed(state.store, account.id)
    url = str(request.base_url).rstrip("/") + f"/calendar/{token}.ics"
    return render(request, "diary_feed.html", url=url)


@router.post("/diary/calendar/revoke")
def revoke_feed(state: State, account: PatientAccount, _form: CheckedForm) -> Response:
    store.revoke_feed(state.store, account.id)
    return RedirectResponse("/diary/plan#calendar", status_code=303)


@router.get("/calendar/{token}.ics")
def feed(token: str, state: State) -> Response:
    """A private subscription URL (the token is the only key; revoking it ends the feed)."""
    owner = store.feed_owner(state.store, token[:64])
    if owner is None:
        raise NotFoundError("no calendar at this address (it may have been revoked)")
    return _ics(state, owner, download=False)


def _ics(state: AppState, user_id: int, download: bool) -> Response:
    saved = store.plans(state.store, user_id)
    if not saved:
        raise NotFoundError("no plan yet: make one on the plan page first")
    now = today()
    doses = _dated(
        PlanCalendar([p.plan for p in saved]),
        now - timedelta(days=CALENDAR_DAYS_BEHIND),
        now + timedelta(days=CALENDAR_DAYS_AHEAD),
    )
    k = state.knowledge
    names = {p.id: p.name for p in k.products}
    stamp = datetime.now(UTC).replace(microsecond=0)
    data = calendar_ics(doses, names, k.dosing.scheduling.reminder_minutes_before, stamp)
    headers = {"Cache-Control": "no-store"}
    if download:
        headers["Content-Disposition"] = 'attachment; filename="my-gabapentin-doses.ics"'
    return Response(data, media_type="text/calendar", headers=headers)


def _dated(calendar: PlanCalendar, first: date, last: date) -> list[ScheduledDose]:
    out = []
    for day in days(first, last):
        out += [d.model_copy(update={"date": day.isoformat()}) for d in calendar.doses_on(day)]
    return out


# --- the report -----------------------------------------------------------------------------------


@router.get("/diary/report", response_class=HTMLResponse)
def report(
    request: Request,
    state: State,
    account: PatientAccount,
    as_of: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    return _report(request, state, account.id, account.email, _day_or_today(as_of), shared=False)


@router.get("/clinician/patients/{share_id}", response_class=HTMLResponse)
def shared_report(
    request: Request,
    share_id: int,
    state: State,
    account: ClinicianAccount,
    as_of: Annotated[str | None, Query(max_length=10)] = None,
) -> HTMLResponse:
    """A patient's report, read-only, for the clinician holding the patient's share."""
    owner = store.shared_owner(state.store, account.id, share_id)
    if owner is None:
        raise NotFoundError(f"no shared patient {share_id} for this account")
    patients = {p.share_id: p.email for p in store.patients_of(state.store, account.id)}
    return _report(request, state, owner, patients[share_id], _day_or_today(as_of), shared=True)


def _report(
    request: Request, state: AppState, user_id: int, who: str, as_of: date, shared: bool
) -> HTMLResponse:
    k = state.knowledge
    saved = [p.plan for p in store.plans(state.store, user_id)]
    diary = store.entries(state.store, user_id)
    o = outcomes(k, saved, diary, as_of)
    calendar = PlanCalendar(saved)
    first = as_of - timedelta(days=REPORT_DAYS - 1)
    shown = [e for e in diary if first.isoformat() <= e.day <= as_of.isoformat()]
    plan_index = calendar.plan_on(as_of)
    plan: PersonalPlan | None = saved[plan_index] if plan_index is not None else None
    chart_from = min([first] + ([calendar.first_day] if calendar.first_day else []))
    response = render(
        request,
        "report.html",
        o=o,
        who=who,
        shared=shared,
        plan=plan,
        supply=supply(plan, as_of) if plan else None,
        entries=list(reversed(shown)),
        pain_chart=pain_chart(shown, k.diary.scales.pain.min, k.diary.scales.pain.max),
        pain_scale=k.diary.scales.pain,
        dose_chart=dose_chart([calendar.planned(d) for d in days(max(chart_from, first), as_of)]),
        side_effect_by_id=k.side_effect_by_id,
        red_flag_by_id=k.red_flag_by_id,
        source_by_id=k.source_by_id,
        report_days=REPORT_DAYS,
    )
    response.headers["Content-Security-Policy"] = CHART_PAGE_CSP
    return response
