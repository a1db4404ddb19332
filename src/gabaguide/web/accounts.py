"""Account pages: sign-up, log-in, log-out, password reset by a one-time code, the account page
(export, delete, shares with clinicians, calendar feed) and the clinician's read-only views."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from gabaguide.store import accounts
from gabaguide.store import diary as diary_store
from gabaguide.web.auth import (
    PASSWORD_MAX,
    ROLES,
    AnyAccount,
    CheckedForm,
    ClinicianAccount,
    PatientAccount,
    check_password,
    client_address,
    hash_password,
    log_in,
    log_out,
    password_problems,
)
from gabaguide.web.errors import NotFoundError
from gabaguide.web.pages import render
from gabaguide.web.state import AppState, app_state

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
reset_log = logging.getLogger("gabaguide.reset")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,63}$")
LIMITED = "Too many attempts: wait a few minutes and try again."


def _email(raw: object) -> str:
    return str(raw or "").strip().lower()


def _email_problems(email: str) -> list[str]:
    return [] if EMAIL.match(email) else ["email: must be an e-mail address like name@example.org"]


def _home(role: str) -> str:
    return "/clinician" if role == "clinician" else "/diary"


def _safe_next(raw: object, default: str) -> str:
    """Only a path on this site (never an absolute URL: no open redirect)."""
    text = str(raw or "")
    parts = urlsplit(text)
    if text.startswith("/") and not text.startswith("//") and not parts.netloc and "\\" not in text:
        return text
    return default


# --- sign-up, log-in, log-out ---------------------------------------------------------------------


@router.get("/signup", response_class=HTMLResponse)
def signup_form(request: Request) -> HTMLResponse:
    return render(request, "signup.html", values={"role": "patient"}, problems=[])


@router.post("/signup", response_class=HTMLResponse)
def signup(request: Request, state: State, form: CheckedForm) -> Response:
    email, password = _email(form.get("email")), str(form.get("password", ""))
    role = str(form.get("role", ""))
    problems = _email_problems(email) + password_problems(password)
    if role not in ROLES:
        problems.append(f"role: must be one of {', '.join(ROLES)}")
    if password != str(form.get("password_again", "")):
        problems.append("password_again: the two passwords differ")
    if not problems:
        try:
            account = accounts.create_user(state.store, email, hash_password(password), role)
        except accounts.EmailTakenError:
            problems.append("email: an account with this address exists; log in instead")
    if problems:
        values = {"email": email, "role": role}
        return render(request, "signup.html", 422, values=values, problems=problems)
    response = RedirectResponse(_home(account.role), status_code=303)
    log_in(state, response, account)
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "") -> HTMLResponse:
    return render(request, "login.html", values={"next": next}, problems=[], notice=None)


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, state: State, form: CheckedForm) -> Response:
    email, password = _email(form.get("email")), str(form.get("password", ""))[:PASSWORD_MAX]
    keys = (f"addr:{client_address(request)}", f"email:{email}")
    values = {"email": email, "next": str(form.get("next", ""))}
    if any(state.login_limiter.limited(key) for key in keys):
        return render(request, "login.html", 429, values=values, problems=[LIMITED], notice=None)
    account = accounts.by_email(state.store, email)
    if account is None or not check_password(account.password_hash, password):
        for key in keys:
            state.login_limiter.hit(key)
        problems = ["email or password: no account matches (check both and try again)"]
        return render(request, "login.html", 422, values=values, problems=problems, notice=None)
    response = RedirectResponse(_safe_next(form.get("next"), _home(account.role)), status_code=303)
    log_in(state, response, account)
    return response


@router.post("/logout")
def logout(request: Request, state: State, _form: CheckedForm) -> Response:
    response = RedirectResponse("/", status_code=303)
    log_out(state, request, response)
    return response


# --- password reset -------------------------------------------------------------------------------


@router.get("/reset", response_class=HTMLResponse)
def reset_form(request: Request) -> HTMLResponse:
    return render(request, "reset.html", values={}, problems=[])


@router.post("/reset", response_class=HTMLResponse)
def reset_request(request: Request, state: State, form: CheckedForm) -> Response:
    """Issue a one-time code. The answer is the same whether or not the account exists."""
    email = _email(form.get("email"))
    if not state.login_limiter.allow(f"reset:{client_address(request)}"):
        return render(request, "reset.html", 429, values={"email": email}, problems=[LIMITED])
    account = accounts.by_email(state.store, email)
    if account is not None:
        ttl = timedelta(minutes=state.settings.reset_code_minutes)
        code = accounts.new_reset_code(state.store, account.id, ttl)
        if state.settings.show_reset_codes:
            # The demo configuration has no mail server: the code goes to the server console.
            # The account is not named (no personal data in logs); codes are per account.
            reset_log.warning(
                "password reset code: %s (valid %d minutes)",
                code,
                state.settings.reset_code_minutes,
            )
    return RedirectResponse("/reset/confirm", status_code=303)


@router.get("/reset/confirm", response_class=HTMLResponse)
def reset_confirm_form(request: Request, state: State) -> HTMLResponse:
    return render(
        request,
        "reset_confirm.html",
        values={},
        problems=[],
        console=state.settings.show_reset_codes,
    )


@router.post("/reset/confirm", response_class=HTMLResponse)
def reset_confirm(request: Request, state: State, form: CheckedForm) -> Response:
    email, code = _email(form.get("email")), str(form.get("code", "")).strip()[:32]
    password = str(form.get("password", ""))
    keys = (f"addr:{client_address(request)}", f"email:{email}")
    ctx = {"values": {"email": email}, "console": state.settings.show_reset_codes}
    if any(state.login_limiter.limited(key) for key in keys):
        return render(request, "reset_confirm.html", 429, problems=[LIMITED], **ctx)
    problems = password_problems(password)
    if problems:
        return render(request, "reset_confirm.html", 422, problems=problems, **ctx)
    account = accounts.by_email(state.store, email)
    if account is None or not accounts.use_reset_code(state.store, account.id, code):
        for key in keys:
            state.login_limiter.hit(key)
        problems = ["code: not valid for this e-mail address (codes work once, for a short time)"]
        return render(request, "reset_confirm.html", 422, problems=problems, **ctx)
    accounts.set_password(state.store, account.id, hash_password(password))
    return render(
        request,
        "login.html",
        values={"email": email, "next": ""},
        problems=[],
        notice="Password changed: log in with the new one.",
    )


# --- the account: export, delete, shares ----------------------------------------------------------


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, state: State, account: AnyAccount) -> HTMLResponse:
    shares = diary_store.shares_of(state.store, account.id) if account.role == "patient" else []
    return render(request, "account.html", me=account, shares=shares, new_code=None, problems=[])


@router.get("/account/export.json")
def export(state: State, account: AnyAccount) -> Response:
    """Everything kept about the account, as one JSON file."""
    data = diary_store.export(state.store, account.id)
    return Response(
        json.dumps(data, indent=2),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="gabaguide-my-data.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/account/delete", response_class=HTMLResponse)
def delete_account(
    request: Request, state: State, account: AnyAccount, form: CheckedForm
) -> Response:
    if not check_password(account.password_hash, str(form.get("password", ""))[:PASSWORD_MAX]):
        shares = diary_store.shares_of(state.store, account.id)
        problems = ["password: does not match; the account was not deleted"]
        return render(
            request,
            "account.html",
            422,
            me=account,
            shares=shares,
            new_code=None,
            problems=problems,
        )
    accounts.delete_user(state.store, account.id)
    response = render(request, "deleted.html", account=None)
    log_out(state, request, response)
    return response


@router.post("/account/shares", response_class=HTMLResponse)
def new_share(
    request: Request, state: State, account: PatientAccount, _form: CheckedForm
) -> HTMLResponse:
    code = diary_store.new_share(state.store, account.id)
    shares = diary_store.shares_of(state.store, account.id)
    return render(request, "account.html", me=account, shares=shares, new_code=code, problems=[])


@router.post("/account/shares/{share_id}/revoke")
def revoke_share(
    share_id: int, state: State, account: PatientAccount, _form: CheckedForm
) -> Response:
    if not diary_store.revoke_share(state.store, account.id, share_id):
        raise NotFoundError(f"no share {share_id} on this account")
    return RedirectResponse("/account#shares", status_code=303)


# --- clinicians -----------------------------------------------------------------------------------


@router.get("/clinician", response_class=HTMLResponse)
def clinician_home(request: Request, state: State, account: ClinicianAccount) -> HTMLResponse:
    patients = diary_store.patients_of(state.store, account.id)
    return render(request, "clinician.html", patients=patients, problems=[], linked=None)


@router.post("/clinician/redeem", response_class=HTMLResponse)
def clinician_redeem(
    request: Request, state: State, account: ClinicianAccount, form: CheckedForm
) -> Response:
    code = str(form.get("code", ""))[:40]
    if not state.login_limiter.allow(f"share:{account.id}"):
        problems = [LIMITED]
    elif diary_store.redeem_share(state.store, account.id, code):
        return RedirectResponse("/clinician", status_code=303)
    else:
        problems = [
            "code: not a valid share code (each code works once; ask the patient for a new one)"
        ]
    patients = diary_store.patients_of(state.store, account.id)
    return render(request, "clinician.html", 422, patients=patients, problems=problems, linked=None)
