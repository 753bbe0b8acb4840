"""Automatic assignment: agents' presence, capacity and channels; supervisors' pins; SLA breach marks.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 19:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("away", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("capacity", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("channels", sa.String(length=200), server_default="", nullable=False))
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pinned_to", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("manual_only", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("released_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("first_breach_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_breach_for", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "agent_presence",
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("agent_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("agent_presence")
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        for column in ("next_breach_for", "first_breach_at", "released_by", "manual_only", "pinned_to"):
            batch_op.drop_column(column)
    with op.batch_alter_table("agents", schema=None) as batch_op:
        for column in ("channels", "capacity", "away"):
            batch_op.drop_column(column)
