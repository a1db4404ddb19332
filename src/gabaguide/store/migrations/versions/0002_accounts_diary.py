"""Accounts, sessions, reset codes, diary plans and days, shares and calendar feeds.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _owner(column: str = "user_id", nullable: bool = False) -> sa.Column[int]:
    return sa.Column(
        column, sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=nullable
    )


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        _owner(),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sessions_user_id", "sessions", ["user_id"])
    op.create_table(
        "reset_codes",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reset_codes_user_id", "reset_codes", ["user_id"])
    op.create_table(
        "diary_plans",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("start_date", sa.String(10), nullable=False),
        sa.Column("request_json", sa.Text, nullable=False),
        sa.Column("plan_json", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_diary_plans_user_id", "diary_plans", ["user_id"])
    op.create_table(
        "diary_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("pain", sa.Integer, nullable=False),
        sa.Column("sleep_interference", sa.Integer, nullable=True),
        sa.Column("doses_taken", sa.Integer, nullable=True),
        sa.Column("side_effects", sa.Text, nullable=False),
        sa.Column("red_flags", sa.Text, nullable=False),
        sa.Column("flagged", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("user_id", "day", name="uq_diary_entries_user_day"),
    )
    op.create_index("ix_diary_entries_user_id", "diary_entries", ["user_id"])
    op.create_table(
        "shares",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner("owner_id"),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        _owner("clinician_id", nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_shares_owner_id", "shares", ["owner_id"])
    op.create_index("ix_shares_clinician_id", "shares", ["clinician_id"])
    op.create_table(
        "calendar_feeds",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer,
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "calendar_feeds",
        "shares",
        "diary_entries",
        "diary_plans",
        "reset_codes",
        "sessions",
        "users",
    ):
        op.drop_table(table)
