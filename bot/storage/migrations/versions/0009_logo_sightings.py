"""Logo sightings: brand logos seen in customers' photos.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 02:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "logo_sightings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("photo_url", sa.Text(), nullable=False),
        sa.Column("logo", sa.String(length=100), nullable=False),
        sa.Column("ours", sa.Boolean(), nullable=False),
        sa.Column("inliers", sa.Integer(), nullable=False),
        sa.Column("sentiment_label", sa.String(length=10), nullable=True),
        sa.Column("sentiment_score", sa.Double(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("logo_sightings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_logo_sightings_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_logo_sightings_conversation_id"), ["conversation_id"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("logo_sightings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_logo_sightings_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_logo_sightings_at"))
    op.drop_table("logo_sightings")
