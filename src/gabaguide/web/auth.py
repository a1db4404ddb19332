"""Who is asking, and did the form come from us: password hashing (argon2), session cookies,
CSRF tokens on every form, and the log-in rate limit.

- Sessions live in the database (revocable: log-out and password changes end them); the cookie holds
  a random token, HttpOnly, SameSite=Lax, Secure over HTTPS.
- CSRF: every visitor has a random ``gg_csrf`` cookie; every form carries ``csrf`` =
  HMAC(key, cookie | session). A cross-site page can neither read the cookie nor compute the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request, Response
from starlette.datastructures import FormData

from gabaguide.store import accounts
from gabaguide.store.accounts import Account
from gabaguide.web.state import AppState, app_state

SESSION_COOKIE = "gg_session"
CSRF_COOKIE = "gg_csrf"
CSRF_FIELD = "csrf"
ROLES = ("patient", "clinician")
PASSWORD_MIN, PASSWORD_MAX = 10, 128
_hasher = PasswordHasher()


class LoginRequiredError(Exception):
    """The page needs a logged-in user (the app answers with a redirect to the log-in page)."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class ForbiddenError(Exception):
    """The request is not allowed: a missing or wrong CSRF token, or the wrong kind of account."""

    def __init__(self, detail: str) -> None:
        self.detail = detail


# --- passwords ------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problems(password: str, field: str = "password") -> list[str]:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return [f"{field}: must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long"]
    return []


# --- sessions -------------------------------------------------------------------------------------


def current_account(request: Request) -> Account | None:
    """The logged-in account, or None (looked up once per request)."""
    if not hasattr(request.state, "account"):
        token = request.cookies.get(SESSION_COOKIE)
        state = app_state(request)
        request.state.account = (
            accounts.session_account(state.store, token) if token and len(token) < 100 else None
        )
    found: Account | None = request.state.account
    return found


def log_in(state: AppState, response: Response, account: Account) -> None:
    token = accounts.start_session(state.store, account.id, _session_ttl(state))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(_session_ttl(state).total_seconds()),
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )


def log_out(state: AppState, request: Request, response: Response) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        accounts.end_session(state.store, token)
    response.delete_cookie(SESSION_COOKIE, path="/")


def _session_ttl(state: AppState) -> timedelta:
    return timedelta(hours=state.settings.session_hours)


def require(role: str | None = None) -> object:
    """A dependency: the logged-in account (of ``role``, when given)."""

    def dependency(request: Request) -> Account:
        account = current_account(request)
        if account is None:
            # After logging in, come back to the page asked for (a form post cannot be replayed).
            raise LoginRequiredError(request.url.path if request.method == "GET" else "")
        if role is not None and account.role != role:
            raise ForbiddenError(f"This page is for {role} accounts.")
        return account

    return Depends(dependency)


PatientAccount = Annotated[Account, require("patient")]
ClinicianAccount = Annotated[Account, require("clinician")]
AnyAccount = Annotated[Account, require()]


# --- CSRF -----------------------------------------------------------------------------------------


def csrf_cookie(request: Request) -> tuple[str, bool]:
    """The visitor's CSRF cookie value, and whether it is new (to be set on the response)."""
    value = request.cookies.get(CSRF_COOKIE, "")
    if 16 <= len(value) <= 64:
        return value, False
    if not hasattr(request.state, "new_csrf"):
        request.state.new_csrf = secrets.token_urlsafe(24)
    new: str = request.state.new_csrf
    return new, True


def csrf_token(request: Request, cookie: str) -> str:
    state = app_state(request)
    bound = f"csrf|{cookie}|{request.cookies.get(SESSION_COOKIE, '')}"
    return hmac.new(state.visitor_secret.encode(), bound.encode(), hashlib.sha256).hexdigest()


def set_csrf_cookie(state: AppState, response: Response, value: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        value,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=state.settings.secure_cookies,
        path="/",
    )


def check_csrf(request: Request, form: FormData) -> None:
    """ForbiddenError unless the form carries this visitor's token."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = str(form.get(CSRF_FIELD, ""))
    if not cookie or not sent or not hmac.compare_digest(sent, csrf_token(request, cookie)):
        raise ForbiddenError(
            "This form has expired or did not come from gabaguide: go back, reload the page and "
            "try again."
        )


async def checked_form(request: Request) -> FormData:
    """The request's form, after the CSRF check (a dependency for every form POST)."""
    form = await request.form()
    check_csrf(request, form)
    return form


CheckedForm = Annotated[FormData, Depends(checked_form)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
