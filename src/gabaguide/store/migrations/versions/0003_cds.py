"""CDS Hooks: cards shown, feedback on them, plan links, JWT ids seen.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cds_cards",
        sa.Column("uuid", sa.String(36), primary_key=True),
        sa.Column("problem_key", sa.String(64), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("problem", sa.String(64), nullable=False),
        sa.Column("indicator", sa.String(16), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cds_cards_problem_key", "cds_cards", ["problem_key"], unique=True)
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "card_uuid",
            sa.String(36),
            sa.ForeignKey("cds_cards.uuid", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("accepted_suggestions", sa.Text, nullable=False),
        sa.Column("override_code", sa.String(64), nullable=True),
        sa.Column("override_system", sa.String(255), nullable=True),
        sa.Column("override_display", sa.String(255), nullable=True),
        sa.Column("user_comment", sa.Text, nullable=True),
        sa.Column("outcome_at", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cds_feedback_card_uuid", "cds_feedback", ["card_uuid"])
    op.create_table(
        "cds_plans",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("patient_json", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cds_plans_expires_at", "cds_plans", ["expires_at"])
    op.create_table(
        "cds_token_ids",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cds_token_ids_expires_at", "cds_token_ids", ["expires_at"])


def downgrade() -> None:
    op.drop_table("cds_token_ids")
    op.drop_table("cds_plans")
    op.drop_table("cds_feedback")
    op.drop_table("cds_cards")
