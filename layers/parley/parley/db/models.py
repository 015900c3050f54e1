"""The tables (DESIGN §6). Migrations under parley/db/migrations mirror them."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {uuid.UUID: UUID(as_uuid=True), dict: JSONB}


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class ChatType(enum.StrEnum):
    DIRECT = "direct"
    GROUP = "group"


class MemberRole(enum.StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class ReceiptStatus(enum.IntEnum):
    """Ordered so that the aggregate status of a message is the minimum."""

    SENT = 1
    DELIVERED = 2
    READ = 3

    @property
    def wire(self) -> str:
        return self.name


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RefreshToken(Base):
    """One row per issued refresh token; a family is one login's chain."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # the token's jti
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_refresh_tokens_user_id", "user_id"),)


class Chat(Base):
    __tablename__ = "chats"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(128))
    is_public: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    # "<smaller user id>:<larger user id>" for direct chats: one chat per pair.
    direct_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _now()
    # Per-chat sequence: incremented in the sending transaction (row lock).
    last_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"), default=0)
    last_message_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChatMember(Base):
    __tablename__ = "chat_members"

    chat_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16), default=MemberRole.MEMBER.value)
    joined_at: Mapped[datetime] = _now()
    last_read_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"), default=0)

    __table_args__ = (Index("ix_chat_members_user_id", "user_id"),)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    chat_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(BigInteger)
    sender_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    client_message_id: Mapped[str | None] = mapped_column(String(64))
    reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = _now()
    is_pinned: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    pinned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    pinned_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_forwarded: Mapped[bool] = mapped_column(Boolean, server_default=text("false"), default=False)
    forwarded_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL")
    )
    original_sender_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    edited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Loaded with the messages of any query, in one more statement.
    attachment_links: Mapped[list[MessageAttachment]] = relationship(
        order_by="MessageAttachment.position", lazy="selectin", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("chat_id", "seq", name="uq_messages_chat_id_seq"),
        # Idempotent retries: one message per (sender, clientMessageId).
        Index(
            "uq_messages_sender_client_message_id",
            "sender_id",
            "client_message_id",
            unique=True,
            postgresql_where=text("client_message_id IS NOT NULL"),
        ),
        Index(
            "ix_messages_pinned",
            "chat_id",
            "pinned_at",
            postgresql_where=text("is_pinned"),
        ),
    )


class Attachment(Base):
    """An uploaded file: issued to one member for one chat, linked by messages later.

    Unlinked (no `message_attachments` row) past its TTL, it is deleted
    with its S3 object. A forward links the same attachment to a new message.
    """

    __tablename__ = "attachments"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    chat_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    uploader_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(Text, unique=True)
    filename: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()
    # Set when a message first links it (the object was checked in S3 then).
    linked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # The cleanup looks for old uploads that no message links.
        Index("ix_attachments_created_at", "created_at"),
    )


class MessageAttachment(Base):
    """One attachment of one message, in the order the sender gave."""

    __tablename__ = "message_attachments"

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    attachment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(SmallInteger)
    attachment: Mapped[Attachment] = relationship(lazy="joined")

    __table_args__ = (Index("ix_message_attachments_attachment_id", "attachment_id"),)


class Receipt(Base):
    """Delivery state of one message for one recipient (never the sender)."""

    __tablename__ = "receipts"

    message_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Copied from the message so read-up-to and unread counts need no join. No
    # foreign key of its own: the message's ties it to the chat, and a big
    # group's send would check the chat once per receipt.
    chat_id: Mapped[uuid.UUID]
    seq: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[int] = mapped_column(SmallInteger, default=ReceiptStatus.SENT.value)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_receipts_user_chat_seq", "user_id", "chat_id", "seq"),
        # What queued while a user was away: looked up at every $connect.
        Index(
            "ix_receipts_undelivered",
            "user_id",
            "seq",
            postgresql_where=text("status = 1"),
        ),
    )


class OutboxEvent(Base):
    """Events written with the change they describe, published after commit."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    topic: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSONB)
    created_at: Mapped[datetime] = _now()
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)

    __table_args__ = (
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )


class AuditLog(Base):
    """Append-only record of every domain event."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[dict] = mapped_column(JSONB)
    recorded_at: Mapped[datetime] = _now()

    __table_args__ = (
        Index("ix_audit_log_key_occurred_at", "key", "occurred_at"),
        Index("ix_audit_log_event_type", "event_type"),
    )


class AnalyticsChatDaily(Base):
    __tablename__ = "analytics_chat_daily"

    chat_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    messages_sent: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    messages_delivered: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    messages_read: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    median_read_ms: Mapped[int | None] = mapped_column(BigInteger)


class AnalyticsUserDaily(Base):
    __tablename__ = "analytics_user_daily"

    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    messages_sent: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    messages_delivered: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    messages_read: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    median_read_ms: Mapped[int | None] = mapped_column(BigInteger)


class AnalyticsReadSample(Base):
    """Time from send to read, one per message and reader: the medians' input."""

    __tablename__ = "analytics_read_samples"

    message_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reader_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    chat_id: Mapped[uuid.UUID] = mapped_column()
    sender_id: Mapped[uuid.UUID | None] = mapped_column()
    day: Mapped[date] = mapped_column(Date)
    read_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        Index("ix_analytics_read_samples_chat_day", "chat_id", "day"),
        Index("ix_analytics_read_samples_reader_day", "reader_id", "day"),
    )


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    event_id: Mapped[uuid.UUID] = mapped_column()
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    chat_id: Mapped[uuid.UUID] = mapped_column()
    message_id: Mapped[uuid.UUID] = mapped_column()
    channel: Mapped[str] = mapped_column(String(32), default="log")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = _now()
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("event_id", "user_id", name="uq_notifications_event_user"),
        Index("ix_notifications_user_id_created_at", "user_id", "created_at"),
    )


class ProcessedEvent(Base):
    """Consumers' idempotency: the effect and this row commit together."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    processed_at: Mapped[datetime] = _now()
