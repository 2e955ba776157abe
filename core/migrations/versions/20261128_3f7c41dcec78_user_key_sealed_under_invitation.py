"""user key sealed under invitation

Revision ID: 3f7c41dcec78
Revises: 2b377c8ca985
Create Date: 2026-11-28 10:34:07.060228

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3f7c41dcec78"
down_revision: str | Sequence[str] | None = "2b377c8ca985"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """A new user's private key, sealed under the one-time invitation token until accepted."""
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private_key_by_invitation", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("private_key_by_invitation")
