"""Conversations the bot handled alone, and the assistant's own 1-5 rating of them.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

INDEXED = ("conversation_id", "state", "topic", "ended_at", "asked_at", "rated_at")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "bot_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_customer_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_bot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=80), nullable=True),
        sa.Column("intents", sa.String(length=400), nullable=False),
        sa.Column("in_form", sa.Boolean(), nullable=False),
        sa.Column("session_over", sa.Boolean(), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=10), nullable=True),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("not_asked", sa.String(length=20), nullable=True),
        sa.Column("ask_sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ask_attempts", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bot_sessions", schema=None) as batch_op:
        for column in INDEXED:
            batch_op.create_index(batch_op.f(f"ix_bot_sessions_{column}"), [column], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("bot_sessions", schema=None) as batch_op:
        for column in INDEXED:
            batch_op.drop_index(batch_op.f(f"ix_bot_sessions_{column}"))
    op.drop_table("bot_sessions")
