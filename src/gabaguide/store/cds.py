"""The CDS service's memory: JWT ids seen, cards shown (never repeated for the same order),
feedback on cards, and the short-lived links from a card to the full plan."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gabaguide.store.db import Store
from gabaguide.store.tables import CdsCard, CdsFeedback, CdsPlan, CdsTokenId


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def first_use(store: Store, issuer: str, jti: str, expires_at: datetime) -> bool:
    """Record a token id; False when the issuer used it before (a replay). Expired ids are pruned."""
    now = datetime.now(UTC)
    try:
        with store.session.begin() as s:
            s.execute(delete(CdsTokenId).where(CdsTokenId.expires_at < now))
            s.add(CdsTokenId(key=_hash(f"{issuer}\n{jti}"), expires_at=expires_at))
    except IntegrityError:
        return False
    return True


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
    with store.session.begin() as s:
        seen = set(
            s.scalars(
                select(CdsCard.problem_key).where(
                    CdsCard.problem_key.in_([c.problem_key for c in cards])
                )
            )
        )
        plans: dict[str, str] = {}
        s.execute(delete(CdsPlan).where(CdsPlan.expires_at < now))
        for card in cards:
            if card.problem_key in seen:
                continue
            seen.add(card.problem_key)
            s.add(
                CdsCard(
                    uuid=card.uuid,
                    problem_key=card.problem_key,
                    service=service,
                    problem=card.problem,
                    indicator=card.indicator,
                    shown_at=now,
                )
            )
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


def record_feedback(store: Store, rows: Sequence[FeedbackRow]) -> list[str]:
    """Store every row, or none: the uuids of cards this service never issued, if any."""
    now = datetime.now(UTC)
    with store.session.begin() as s:
        known = set(s.scalars(select(CdsCard.uuid).where(CdsCard.uuid.in_([r.card for r in rows]))))
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
