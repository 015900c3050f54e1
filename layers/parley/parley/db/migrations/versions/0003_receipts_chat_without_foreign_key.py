"""receipts: chat_id without its own foreign key

A receipt's chat is its message's chat, copied so that read-up-to and unread
counts need no join; the message's foreign key (cascading from its chat)
already ties the receipt to the chat. Checking the chat again for every
receipt cost a big group's send a third of its receipts' insert.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_constraint(op.f("fk_receipts_chat_id_chats"), "receipts", type_="foreignkey")


def downgrade() -> None:
    op.create_foreign_key(
        op.f("fk_receipts_chat_id_chats"),
        "receipts",
        "chats",
        ["chat_id"],
        ["id"],
        ondelete="CASCADE",
    )
