"""Accounts: users, log-in sessions and password-reset codes. Tokens and codes are random and only
their SHA-256 hashes are stored; password hashing is the caller's (the web layer's argon2)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gabaguide.store.db import Store
from gabaguide.store.tables import LoginSession, ResetCode, User

RESET_CODE_DIGITS = 8


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    password_hash: str


class EmailTakenError(Exception):
    """An account with this e-mail address exists."""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


def _account(u: User) -> Account:
    return Account(id=u.id, email=u.email, role=u.role, password_hash=u.password_hash)


def create_user(store: Store, email: str, password_hash: str, role: str) -> Account:
    try:
        with store.session.begin() as s:
            user = User(email=email, password_hash=password_hash, role=role, created_at=now())
            s.add(user)
            s.flush()
            return _account(user)
    except IntegrityError:
        raise EmailTakenError(email) from None


def by_email(store: Store, email: str) -> Account | None:
    with store.session() as s:
        u = s.execute(select(User).where(User.email == email)).scalar_one_or_none()
        return None if u is None else _account(u)


def by_id(store: Store, user_id: int) -> Account | None:
    with store.session() as s:
        u = s.get(User, user_id)
        return None if u is None else _account(u)


def set_password(store: Store, user_id: int, password_hash: str) -> None:
    """Change the password and end every session of the user."""
    with store.session.begin() as s:
        user = s.get(User, user_id)
        if user is not None:
            user.password_hash = password_hash
        s.execute(delete(LoginSession).where(LoginSession.user_id == user_id))


def start_session(store: Store, user_id: int, ttl: timedelta) -> str:
    """A new session token for the user (returned once; only its hash is kept)."""
    token = secrets.token_urlsafe(32)
    with store.session.begin() as s:
        s.add(LoginSession(token_hash=digest(token), user_id=user_id, expires_at=now() + ttl))
    return token


def session_account(store: Store, token: str) -> Account | None:
    """The account of a live session token (expired sessions are removed)."""
    with store.session.begin() as s:
        row = s.get(LoginSession, digest(token))
        if row is None:
            return None
        if _aware(row.expires_at) <= now():
            s.delete(row)
            return None
        user = s.get(User, row.user_id)
        return None if user is None else _account(user)


def end_session(store: Store, token: str) -> None:
    with store.session.begin() as s:
        s.execute(delete(LoginSession).where(LoginSession.token_hash == digest(token)))


def new_reset_code(store: Store, user_id: int, ttl: timedelta) -> str:
    """A one-time numeric code (earlier codes of the user stop working)."""
    code = "".join(secrets.choice("0123456789") for _ in range(RESET_CODE_DIGITS))
    with store.session.begin() as s:
        s.execute(delete(ResetCode).where(ResetCode.user_id == user_id))
        s.add(ResetCode(user_id=user_id, code_hash=digest(code), expires_at=now() + ttl))
    return code


def use_reset_code(store: Store, user_id: int, code: str) -> bool:
    """True once for a live code of the user; the code is gone afterwards."""
    with store.session.begin() as s:
        row = s.execute(select(ResetCode).where(ResetCode.user_id == user_id)).scalar_one_or_none()
        if row is None:
            return False
        ok = secrets.compare_digest(row.code_hash, digest(code)) and _aware(row.expires_at) > now()
        if ok:
            s.delete(row)
        return ok


def delete_user(store: Store, user_id: int) -> None:
    """Delete the account and, by cascade, every row that belongs to it."""
    with store.session.begin() as s:
        user = s.get(User, user_id)
        if user is not None:
            s.delete(user)


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns: they were stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
