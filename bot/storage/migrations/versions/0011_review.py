"""The content editors' review queue.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 12:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=80), nullable=True),
        sa.Column("confidence", sa.Double(), nullable=True),
        sa.Column("entities", sa.Text(), nullable=False),
        sa.Column("reasons", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("decided_intent", sa.String(length=80), nullable=True),
        sa.Column("example", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("written_to", sa.String(length=300), nullable=True),
        sa.Column("heldout", sa.Boolean(), nullable=True),
        sa.Column("said_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["decided_by"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        for column in ("conversation_id", "intent", "status", "said_at"):
            batch_op.create_index(batch_op.f(f"ix_review_items_{column}"), [column], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        for column in ("conversation_id", "intent", "status", "said_at"):
            batch_op.drop_index(batch_op.f(f"ix_review_items_{column}"))
    op.drop_table("review_items")
