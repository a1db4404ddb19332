"""The CDS service's memory: JWT ids seen, cards shown (never repeated for the same order),
feedback on cards, and the short-lived links from a card to the full plan."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gabaguide.store.db import Store
from gabaguide.store.tables import Base, CdsCard, CdsFeedback, CdsPlan, CdsTokenId


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def first_use(store: Store, issuer: str, jti: str, expires_at: datetime) -> bool:
    """Record a token id; False when the issuer used it before (a replay)."""
    with store.session.begin() as s:
        inserted = s.execute(
            _insert_new(store, CdsTokenId, "key").values(
                key=_hash(f"{issuer}\n{jti}"), expires_at=expires_at
            )
        ).first()
    _prune(store)
    return inserted is not None


_PRUNE_EVERY_S = 60.0
_last_prune: dict[int, float] = {}


def _prune(store: Store) -> None:
    """Delete expired token ids and plan links, at most once a minute per store."""
    now = time.monotonic()
    if now - _last_prune.get(id(store), 0.0) < _PRUNE_EVERY_S:
        return
    _last_prune[id(store)] = now
    moment = datetime.now(UTC)
    with store.session.begin() as s:
        s.execute(delete(CdsTokenId).where(CdsTokenId.expires_at < moment))
        s.execute(delete(CdsPlan).where(CdsPlan.expires_at < moment))


def _insert_new(store: Store, table: type[Base], key: str) -> Any:
    """INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key: a row only when it is new, safely
    under concurrent calls (SQLite and PostgreSQL)."""
    dialect = store.engine.dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    column = getattr(table, key)
    return insert(table).on_conflict_do_nothing(index_elements=[column]).returning(column)


@dataclass(frozen=True)
class ShownCard:
    uuid: str
    problem_key: str
    problem: str
    indicator: str
    plan_json: str
    """The assessed patient, for the card's link to the full plan."""


def show_once(
    store: Store, service: str, cards: Sequence[ShownCard], plan_hours: int
) -> dict[str, str]:
    """Record the cards not shown before; for each, a plan-link token (by card uuid). Cards whose
    problem was already shown for the same order are left out of the answer."""
    if not cards:
        return {}
    now = datetime.now(UTC)
    tokens: dict[str, str] = {}
    plans: dict[str, str] = {}
    with store.session.begin() as s:
        for card in cards:
            new = s.execute(
                _insert_new(store, CdsCard, "problem_key").values(
                    uuid=card.uuid,
                    problem_key=card.problem_key,
                    service=service,
                    problem=card.problem,
                    indicator=card.indicator,
                    shown_at=now,
                )
            ).first()
            if new is None:  # shown before for the same order (or by a concurrent call)
                continue
            if card.plan_json not in plans:
                token = secrets.token_urlsafe(24)
                plans[card.plan_json] = token
                s.add(
                    CdsPlan(
                        token_hash=_hash(token),
                        patient_json=card.plan_json,
                        expires_at=now + timedelta(hours=plan_hours),
                    )
                )
            tokens[card.uuid] = plans[card.plan_json]
    return tokens


def plan_patient(store: Store, token: str) -> str | None:
    """The patient JSON behind a plan link, while the link is valid."""
    with store.session() as s:
        row = s.get(CdsPlan, _hash(token))
        if row is None or _aware(row.expires_at) < datetime.now(UTC):
            return None
        return row.patient_json


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


@dataclass(frozen=True)
class FeedbackRow:
    card: str
    outcome: str
    accepted: tuple[str, ...]
    override_code: str | None
    override_system: str | None
    override_display: str | None
    comment: str | None
    outcome_at: str


def record_feedback(store: Store, service: str, rows: Sequence[FeedbackRow]) -> list[str]:
    """Store every row, or none: the uuids of cards this service never issued, if any."""
    now = datetime.now(UTC)
    issued = select(CdsCard.uuid).where(
        CdsCard.uuid.in_([r.card for r in rows]), CdsCard.service == service
    )
    with store.session.begin() as s:
        known = set(s.scalars(issued))
        unknown = [r.card for r in rows if r.card not in known]
        if unknown:
            return unknown
        for r in rows:
            s.add(
                CdsFeedback(
                    card_uuid=r.card,
                    outcome=r.outcome,
                    accepted_suggestions=" ".join(r.accepted),
                    override_code=r.override_code,
                    override_system=r.override_system,
                    override_display=r.override_display,
                    user_comment=r.comment,
                    outcome_at=r.outcome_at,
                    received_at=now,
                )
            )
    return []


def feedback_for(store: Store, card: str) -> list[CdsFeedback]:
    with store.session() as s:
        return list(
            s.scalars(
                select(CdsFeedback).where(CdsFeedback.card_uuid == card).order_by(CdsFeedback.id)
            )
        )
