"""Public engagement: comments beside mentions, and the engagement queue.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 05:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), server_default="mention", nullable=False))
        batch_op.add_column(sa.Column("post_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("account_id", sa.String(length=64), server_default="", nullable=False))
        batch_op.add_column(sa.Column("author_followers", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("media_urls", sa.Text(), server_default="[]", nullable=False))
    op.create_table(
        "engagement_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("intent", sa.String(length=80), nullable=True),
        sa.Column("sentiment_label", sa.String(length=10), nullable=False),
        sa.Column("sentiment_score", sa.Double(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("product_title", sa.String(length=200), nullable=True),
        sa.Column("product_confidence", sa.Double(), nullable=True),
        sa.Column("logos", sa.String(length=300), nullable=False),
        sa.Column("urgency", sa.Integer(), nullable=False),
        sa.Column("reach", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=80), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("suggestion", sa.Text(), nullable=False),
        sa.Column("suggestion_kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("hidden", sa.Boolean(), nullable=False),
        sa.Column("reply_text", sa.Text(), nullable=True),
        sa.Column("reply_kind", sa.String(length=10), nullable=True),
        sa.Column("reply_id", sa.String(length=128), nullable=True),
        sa.Column("replied_by", sa.String(length=80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("mention_id"),
    )
    with op.batch_alter_table("engagement_items", schema=None) as batch_op:
        for column in ("channel", "category", "urgency", "decision", "status", "created_at"):
            batch_op.create_index(batch_op.f(f"ix_engagement_items_{column}"), [column], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("engagement_items", schema=None) as batch_op:
        for column in ("channel", "category", "urgency", "decision", "status", "created_at"):
            batch_op.drop_index(batch_op.f(f"ix_engagement_items_{column}"))
    op.drop_table("engagement_items")
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        for column in ("media_urls", "author_followers", "account_id", "post_id", "kind"):
            batch_op.drop_column(column)
