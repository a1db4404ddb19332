"""Settings, education-page reactions and demo patients.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(256), nullable=False),
    )
    op.create_table(
        "reactions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("page", sa.String(64), nullable=False),
        sa.Column("visitor", sa.String(64), nullable=False),
        sa.Column("reaction", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("page", "visitor", name="uq_reactions_page_visitor"),
    )
    op.create_index("ix_reactions_page", "reactions", ["page"])
    op.create_table(
        "demo_patients",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("patient_json", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("demo_patients")
    op.drop_index("ix_reactions_page", table_name="reactions")
    op.drop_table("reactions")
    op.drop_table("settings")
