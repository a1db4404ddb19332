"""The patient diary's rows: plans, diary days, read-only shares and calendar feeds. Every function
takes the owner's user id and touches that user's rows only."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gabaguide.records import DiaryEntry, PersonalPlan, PlanRequest
from gabaguide.store.accounts import digest, now
from gabaguide.store.db import Store
from gabaguide.store.tables import CalendarFeed, DiaryDay, DiaryPlan, Share, User

SHARE_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed by hand
SHARE_CODE_GROUPS = 3


@dataclass(frozen=True)
class SavedPlan:
    id: int
    request: PlanRequest
    plan: PersonalPlan
    created_at: datetime


@dataclass(frozen=True)
class SharedWith:
    id: int
    clinician_email: str | None
    created_at: datetime


@dataclass(frozen=True)
class SharedPatient:
    share_id: int
    owner_id: int
    email: str


# --- plans -----------------------------------------------------------------------------------------


def add_plan(store: Store, user_id: int, request: PlanRequest, plan: PersonalPlan) -> int:
    with store.session.begin() as s:
        row = DiaryPlan(
            user_id=user_id,
            start_date=plan.start_date,
            request_json=request.model_dump_json(),
            plan_json=plan.model_dump_json(),
            created_at=now(),
        )
        s.add(row)
        s.flush()
        return row.id


def plans(store: Store, user_id: int) -> list[SavedPlan]:
    """The user's plans, oldest start first (ties: the older plan first)."""
    with store.session() as s:
        rows = s.execute(
            select(DiaryPlan)
            .where(DiaryPlan.user_id == user_id)
            .order_by(DiaryPlan.start_date, DiaryPlan.id)
        ).scalars()
        return [
            SavedPlan(
                id=r.id,
                request=PlanRequest.model_validate_json(r.request_json),
                plan=PersonalPlan.model_validate_json(r.plan_json),
                created_at=r.created_at,
            )
            for r in rows
        ]


def delete_plan(store: Store, user_id: int, plan_id: int) -> bool:
    with store.session.begin() as s:
        done = s.execute(
            delete(DiaryPlan).where(DiaryPlan.id == plan_id, DiaryPlan.user_id == user_id)
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]


# --- diary days ------------------------------------------------------------------------------------


def save_entry(store: Store, user_id: int, entry: DiaryEntry) -> None:
    """Record the day (replacing an earlier entry for the same day), committed before returning."""
    values: dict[str, Any] = {
        "pain": entry.pain,
        "sleep_interference": entry.sleep_interference,
        "doses_taken": entry.doses_taken,
        "side_effects": json.dumps(list(entry.side_effects)),
        "red_flags": json.dumps(list(entry.red_flags)),
        "flagged": bool(entry.red_flags),
        "note": entry.note,
        "updated_at": now(),
    }
    for attempt in range(2):  # a concurrent first save of the same day: retry as an update
        try:
            with store.session.begin() as s:
                row = s.execute(
                    select(DiaryDay)
                    .where(DiaryDay.user_id == user_id, DiaryDay.day == entry.day)
                    .with_for_update()
                ).scalar_one_or_none()
                if row is None:
                    s.add(DiaryDay(user_id=user_id, day=entry.day, **values))
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
            return
        except IntegrityError:
            if attempt:
                raise


def entries(store: Store, user_id: int) -> list[DiaryEntry]:
    """The user's diary, oldest day first."""
    with store.session() as s:
        rows = s.execute(
            select(DiaryDay).where(DiaryDay.user_id == user_id).order_by(DiaryDay.day)
        ).scalars()
        return [_entry(r) for r in rows]


def entry(store: Store, user_id: int, day: str) -> DiaryEntry | None:
    with store.session() as s:
        row = s.execute(
            select(DiaryDay).where(DiaryDay.user_id == user_id, DiaryDay.day == day)
        ).scalar_one_or_none()
        return None if row is None else _entry(row)


def delete_entry(store: Store, user_id: int, day: str) -> bool:
    with store.session.begin() as s:
        done = s.execute(delete(DiaryDay).where(DiaryDay.user_id == user_id, DiaryDay.day == day))
        return bool(done.rowcount)  # type: ignore[attr-defined]


def _entry(r: DiaryDay) -> DiaryEntry:
    return DiaryEntry(
        day=r.day,
        pain=r.pain,
        sleep_interference=r.sleep_interference,
        doses_taken=r.doses_taken,
        side_effects=tuple(json.loads(r.side_effects)),
        red_flags=tuple(json.loads(r.red_flags)),
        note=r.note,
    )


# --- shares with clinicians -----------------------------------------------------------------------


def new_share(store: Store, owner_id: int) -> str:
    """A new share code (returned once, kept as a hash) that one clinician can redeem."""
    code = "-".join(
        "".join(secrets.choice(SHARE_CODE_ALPHABET) for _ in range(4))
        for _ in range(SHARE_CODE_GROUPS)
    )
    with store.session.begin() as s:
        s.add(Share(owner_id=owner_id, code_hash=digest(_normal(code)), created_at=now()))
    return code


def redeem_share(store: Store, clinician_id: int, code: str) -> bool:
    """Link an unredeemed share code to the clinician; False for an unknown or used code."""
    with store.session.begin() as s:
        row = s.execute(
            select(Share).where(Share.code_hash == digest(_normal(code))).with_for_update()
        ).scalar_one_or_none()
        if row is None or row.clinician_id is not None or row.owner_id == clinician_id:
            return False
        row.clinician_id = clinician_id
        return True


def shares_of(store: Store, owner_id: int) -> list[SharedWith]:
    with store.session() as s:
        rows = s.execute(
            select(Share, User.email)
            .outerjoin(User, User.id == Share.clinician_id)
            .where(Share.owner_id == owner_id)
            .order_by(Share.id)
        ).all()
        return [
            SharedWith(id=sh.id, clinician_email=email, created_at=sh.created_at)
            for sh, email in rows
        ]


def revoke_share(store: Store, owner_id: int, share_id: int) -> bool:
    with store.session.begin() as s:
        done = s.execute(delete(Share).where(Share.id == share_id, Share.owner_id == owner_id))
        return bool(done.rowcount)  # type: ignore[attr-defined]


def patients_of(store: Store, clinician_id: int) -> list[SharedPatient]:
    with store.session() as s:
        rows = s.execute(
            select(Share.id, Share.owner_id, User.email)
            .join(User, User.id == Share.owner_id)
            .where(Share.clinician_id == clinician_id)
            .order_by(User.email)
        ).all()
        return [SharedPatient(share_id=i, owner_id=o, email=e) for i, o, e in rows]


def shared_owner(store: Store, clinician_id: int, share_id: int) -> int | None:
    """The patient behind a share the clinician holds (None when it is not theirs or revoked)."""
    with store.session() as s:
        return s.execute(
            select(Share.owner_id).where(Share.id == share_id, Share.clinician_id == clinician_id)
        ).scalar_one_or_none()


def _normal(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


# --- calendar feeds --------------------------------------------------------------------------------


def new_feed(store: Store, user_id: int) -> str:
    """A new private calendar token (replacing the old one, which stops working)."""
    token = secrets.token_urlsafe(24)
    with store.session.begin() as s:
        s.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id))
        s.add(CalendarFeed(token_hash=digest(token), user_id=user_id, created_at=now()))
    return token


def has_feed(store: Store, user_id: int) -> bool:
    with store.session() as s:
        return (
            s.execute(
                select(CalendarFeed.token_hash).where(CalendarFeed.user_id == user_id)
            ).first()
            is not None
        )


def revoke_feed(store: Store, user_id: int) -> None:
    with store.session.begin() as s:
        s.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id))


def feed_owner(store: Store, token: str) -> int | None:
    with store.session() as s:
        return s.execute(
            select(CalendarFeed.user_id).where(CalendarFeed.token_hash == digest(token))
        ).scalar_one_or_none()


# --- export ----------------------------------------------------------------------------------------


def export(store: Store, user_id: int) -> dict[str, Any]:
    """Everything kept about the user, as JSON-ready data (no password hash, no token hashes)."""
    with store.session() as s:
        user = s.get(User, user_id)
        if user is None:
            return {}
        account = {
            "email": user.email,
            "role": user.role,
            "created_at": user.created_at.isoformat(),
        }
    return {
        "account": account,
        "plans": [
            {
                "id": p.id,
                "created_at": p.created_at.isoformat(),
                "request": p.request.model_dump(mode="json"),
                "plan": p.plan.model_dump(mode="json"),
            }
            for p in plans(store, user_id)
        ],
        "diary": [e.model_dump(mode="json") for e in entries(store, user_id)],
        "shares": [
            {"id": sh.id, "clinician": sh.clinician_email, "created_at": sh.created_at.isoformat()}
            for sh in shares_of(store, user_id)
        ],
        "calendar_feed": has_feed(store, user_id),
    }
