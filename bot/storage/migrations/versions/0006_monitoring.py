"""Monitoring: message log, spike alerts, mutes, photo lookups, moderation review.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 04:20:36.170437
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "message_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=True),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=80), nullable=True),
        sa.Column("sentiment_label", sa.String(length=10), nullable=False),
        sa.Column("sentiment_score", sa.Double(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source"),
    )
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_log_channel"), ["channel"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_log_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_log_intent"), ["intent"], unique=False)

    op.create_table(
        "monitor_cursors",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "photo_lookups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("top_score", sa.Double(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("photo_lookups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_photo_lookups_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_photo_lookups_conversation_id"), ["conversation_id"], unique=False
        )

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("negative_count", sa.Integer(), nullable=False),
        sa.Column("total_count", sa.Integer(), nullable=False),
        sa.Column("baseline_count", sa.Double(), nullable=False),
        sa.Column("baseline_share", sa.Double(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("acknowledged_by", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("webhook_status", sa.String(length=20), nullable=False),
        sa.Column("webhook_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_scope"), ["scope"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_window_end"), ["window_end"], unique=False)

    op.create_table(
        "muted_authors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("muted_by", sa.Integer(), nullable=True),
        sa.Column("muted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unmuted_by", sa.Integer(), nullable=True),
        sa.Column("unmuted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["muted_by"],
            ["agents.id"],
        ),
        sa.ForeignKeyConstraint(
            ["unmuted_by"],
            ["agents.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "author_id"),
    )
    op.create_table(
        "alert_messages",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["message_log.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("alert_id", "message_id"),
    )
    with op.batch_alter_table("moderation_flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="open"))
        batch_op.add_column(sa.Column("reviewed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_moderation_flags_message_id"), ["message_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_moderation_flags_status"), ["status"], unique=False)
        batch_op.create_foreign_key("fk_moderation_flags_message", "message_log", ["message_id"], ["id"])
        batch_op.create_foreign_key("fk_moderation_flags_reviewer", "agents", ["reviewed_by"], ["id"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("moderation_flags", schema=None) as batch_op:
        batch_op.drop_constraint("fk_moderation_flags_reviewer", type_="foreignkey")
        batch_op.drop_constraint("fk_moderation_flags_message", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_moderation_flags_status"))
        batch_op.drop_index(batch_op.f("ix_moderation_flags_message_id"))
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewed_by")
        batch_op.drop_column("status")
        batch_op.drop_column("message_id")
        batch_op.drop_column("author")

    op.drop_table("alert_messages")
    op.drop_table("muted_authors")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_window_end"))
        batch_op.drop_index(batch_op.f("ix_alerts_status"))
        batch_op.drop_index(batch_op.f("ix_alerts_scope"))

    op.drop_table("alerts")
    with op.batch_alter_table("photo_lookups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_photo_lookups_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_photo_lookups_at"))

    op.drop_table("photo_lookups")
    op.drop_table("monitor_cursors")
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_log_intent"))
        batch_op.drop_index(batch_op.f("ix_message_log_conversation_id"))
        batch_op.drop_index(batch_op.f("ix_message_log_channel"))
        batch_op.drop_index(batch_op.f("ix_message_log_at"))

    op.drop_table("message_log")
