"""Decision log: decisions and feedback.

Revision ID: 0001
Revises:
Create Date: 2026-03-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Spelled out rather than imported from assistant.decision_log: a migration is a
# snapshot of the schema at its time, and must not change when the models do.
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("channel", sa.String(), nullable=True),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("priority", sa.String(), nullable=True),
        sa.Column("route", sa.String(), nullable=True),
        sa.Column("queue", sa.String(), nullable=True),
        sa.Column("due_by", sa.DateTime(), nullable=True),
        sa.Column("resolved_tier", sa.Integer(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("responded_at", sa.DateTime(), nullable=True),
        sa.Column("request", _JSON, nullable=False),
        sa.Column("result", _JSON, nullable=False),
        sa.Column("versions", _JSON, nullable=False),
        sa.UniqueConstraint("uuid", name="uq_decisions_uuid"),
    )
    op.create_index("ix_decisions_request_id", "decisions", ["request_id"])
    op.create_index("ix_decisions_created_at", "decisions", ["created_at"])
    op.create_index("ix_decisions_source", "decisions", ["source"])

    op.create_table(
        "feedback",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
        sa.Column("decision_uuid", sa.String(36), sa.ForeignKey("decisions.uuid", name="fk_feedback_decision"),
                  nullable=False),
        sa.Column("request_id", sa.String(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("resolved_tier", sa.Integer(), nullable=True),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("priority", sa.String(), nullable=True),
        sa.Column("final_text", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("responded_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_feedback_decision_uuid", "feedback", ["decision_uuid"])


def downgrade() -> None:
    op.drop_index("ix_feedback_decision_uuid", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_decisions_source", table_name="decisions")
    op.drop_index("ix_decisions_created_at", table_name="decisions")
    op.drop_index("ix_decisions_request_id", table_name="decisions")
    op.drop_table("decisions")
