"""Education-page reactions: one per visitor per page, changeable; counts per page."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gabaguide.store.db import Store
from gabaguide.store.tables import Reaction


def visitor_key(secret: str, cookie: str) -> str:
    """The stored stand-in for a visitor: a keyed hash of their random cookie, nothing else."""
    return hmac.new(secret.encode(), cookie.encode(), hashlib.sha256).hexdigest()


def counts(store: Store, page: str) -> dict[str, int]:
    with store.session() as s:
        rows = s.execute(
            select(Reaction.reaction, func.count())
            .where(Reaction.page == page)
            .group_by(Reaction.reaction)
        ).all()
    return {str(reaction): int(n) for reaction, n in rows}


def mine(store: Store, page: str, visitor: str) -> str | None:
    with store.session() as s:
        return s.execute(
            select(Reaction.reaction).where(Reaction.page == page, Reaction.visitor == visitor)
        ).scalar_one_or_none()


def react(store: Store, page: str, visitor: str, reaction: str) -> None:
    """Record or change the visitor's reaction to the page (one row per visitor and page)."""
    now = datetime.now(UTC)
    for _ in range(2):  # a concurrent first reaction by the same visitor: retry as an update
        try:
            with store.session.begin() as s:
                row = s.execute(
                    select(Reaction).where(Reaction.page == page, Reaction.visitor == visitor)
                ).scalar_one_or_none()
                if row is None:
                    s.add(Reaction(page=page, visitor=visitor, reaction=reaction, updated_at=now))
                else:
                    row.reaction, row.updated_at = reaction, now
            return
        except IntegrityError:
            continue
