"""The tables. Reactions keep no personal data: a visitor is a keyed hash of a random cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """Values the app keeps between restarts (the key that hashes visitor cookies)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256))


class Reaction(Base):
    """One visitor's reaction to one education page (changeable, never duplicated)."""

    __tablename__ = "reactions"
    __table_args__ = (UniqueConstraint("page", "visitor", name="uq_reactions_page_visitor"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    page: Mapped[str] = mapped_column(String(64), index=True)
    visitor: Mapped[str] = mapped_column(String(64))
    reaction: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DemoPatient(Base):
    """An example patient offered on the home page (loaded from the bundled examples)."""

    __tablename__ = "demo_patients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    patient_json: Mapped[str] = mapped_column(Text)


# --- accounts and the patient diary ---------------------------------------------------------------
# Every row below belongs to one user and goes when the user is deleted (ON DELETE CASCADE).
# Secrets (session tokens, reset codes, share codes, calendar tokens) are stored as SHA-256 hashes.


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginSession(Base):
    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ResetCode(Base):
    __tablename__ = "reset_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DiaryPlan(Base):
    """A personal plan: the request it was made from and the dated plan made (kept as made)."""

    __tablename__ = "diary_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    start_date: Mapped[str] = mapped_column(String(10))
    request_json: Mapped[str] = mapped_column(Text)
    plan_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DiaryDay(Base):
    """One diary day of one user (one row per day, changeable)."""

    __tablename__ = "diary_entries"
    __table_args__ = (UniqueConstraint("user_id", "day", name="uq_diary_entries_user_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    day: Mapped[str] = mapped_column(String(10))
    pain: Mapped[int] = mapped_column(Integer)
    sleep_interference: Mapped[int | None] = mapped_column(Integer, nullable=True)
    doses_taken: Mapped[int | None] = mapped_column(Integer, nullable=True)
    side_effects: Mapped[str] = mapped_column(Text)
    red_flags: Mapped[str] = mapped_column(Text)
    flagged: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Share(Base):
    """A read-only share of a patient's diary with a clinician, by a code; revocable."""

    __tablename__ = "shares"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    clinician_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CalendarFeed(Base):
    """A private calendar subscription URL's token (one per user; revoking deletes it)."""

    __tablename__ = "calendar_feeds"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CdsCard(Base):
    """A card the CDS service showed: kept so that it is never shown again for the same order,
    and so that feedback can name it. ``problem_key`` hashes issuer, FHIR server, patient, order,
    problem and what the card said; no patient data is stored in the clear."""

    __tablename__ = "cds_cards"

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    problem_key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    service: Mapped[str] = mapped_column(String(64))
    problem: Mapped[str] = mapped_column(String(64))
    indicator: Mapped[str] = mapped_column(String(16))
    shown_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CdsFeedback(Base):
    """What the clinician did with a card: accepted (with the suggestions taken) or overridden
    (with the reason and comment)."""

    __tablename__ = "cds_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    card_uuid: Mapped[str] = mapped_column(
        ForeignKey("cds_cards.uuid", ondelete="CASCADE"), index=True
    )
    outcome: Mapped[str] = mapped_column(String(16))
    accepted_suggestions: Mapped[str] = mapped_column(Text, default="")
    override_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    override_system: Mapped[str | None] = mapped_column(String(255), nullable=True)
    override_display: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome_at: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CdsPlan(Base):
    """The patient behind a card's link to the full plan, for a limited time (token hashed)."""

    __tablename__ = "cds_plans"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_json: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CdsTokenId(Base):
    """A service-call JWT's ``jti``, kept until the token expires, so that no token is used twice."""

    __tablename__ = "cds_token_ids"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
