"""Languages: the ticket's customer language, the languages each agent speaks, each logged message's.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 15:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_handoff_tickets_language"), ["language"], unique=False)
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("languages", sa.String(length=200), server_default="en", nullable=False)
        )
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=16), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_column("language")
    with op.batch_alter_table("agents", schema=None) as batch_op:
        batch_op.drop_column("languages")
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_tickets_language"))
        batch_op.drop_column("language")
