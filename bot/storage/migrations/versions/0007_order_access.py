"""Order access: platform identities linked to customers, delivery postcodes, failed second-factor attempts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 01:10:34.327593
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "customer_identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "external_id"),
    )
    with op.batch_alter_table("customer_identities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_identities_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "order_check_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("sender_id", sa.String(length=128), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("order_check_failures", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_check_failures_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_check_failures_order_id"), ["order_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_order_check_failures_sender_id"), ["sender_id"], unique=False)

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shipping_postcode", sa.String(length=10), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("shipping_postcode")

    with op.batch_alter_table("order_check_failures", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_check_failures_sender_id"))
        batch_op.drop_index(batch_op.f("ix_order_check_failures_order_id"))
        batch_op.drop_index(batch_op.f("ix_order_check_failures_at"))
    op.drop_table("order_check_failures")

    with op.batch_alter_table("customer_identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_identities_customer_id"))
    op.drop_table("customer_identities")
