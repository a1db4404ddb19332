"""The tables. Reactions keep no personal data: a visitor is a keyed hash of a random cookie."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint
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
