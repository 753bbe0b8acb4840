"""The agent desk: agents, sessions, ticket ownership, agent replies, notes, CSAT and the audit trail.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "desk_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_desk_sessions_agent_id", "desk_sessions", ["agent_id"])
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("external_owner", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("csat_score", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("csat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_handoff_tickets_assignee_id", ["assignee_id"])
        batch_op.create_foreign_key("fk_handoff_tickets_assignee", "agents", ["assignee_id"], ["id"])
        batch_op.create_foreign_key("fk_handoff_tickets_resolved_by", "agents", ["resolved_by"], ["id"])
    op.create_table(
        "agent_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["handoff_tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_id"),
    )
    op.create_index("ix_agent_messages_ticket_id", "agent_messages", ["ticket_id"])
    op.create_table(
        "ticket_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"]),
        sa.ForeignKeyConstraint(["ticket_id"], ["handoff_tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_notes_ticket_id", "ticket_notes", ["ticket_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["agents.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_ticket_id", "audit_log", ["ticket_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_audit_log_ticket_id", table_name="audit_log")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_ticket_notes_ticket_id", table_name="ticket_notes")
    op.drop_table("ticket_notes")
    op.drop_index("ix_agent_messages_ticket_id", table_name="agent_messages")
    op.drop_table("agent_messages")
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.drop_constraint("fk_handoff_tickets_resolved_by", type_="foreignkey")
        batch_op.drop_constraint("fk_handoff_tickets_assignee", type_="foreignkey")
        batch_op.drop_index("ix_handoff_tickets_assignee_id")
        for column in (
            "csat_at",
            "csat_score",
            "resolved_by",
            "resolved_at",
            "first_response_at",
            "claimed_at",
            "external_owner",
            "assignee_id",
        ):
            batch_op.drop_column(column)
    op.drop_index("ix_desk_sessions_agent_id", table_name="desk_sessions")
    op.drop_table("desk_sessions")
    op.drop_table("agents")
