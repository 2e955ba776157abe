"""The database schema (SQLAlchemy 2 declarative, typed).

What may be stored in clear is fixed by SPEC §3: ids, channel, received date,
accused unit id, tags, destination, assignee, status, deadlines, blind index,
attachment count and size bucket. Everything a person wrote is a sealed blob
(`crypto.envelope`); nothing here can hold an IP address, a user agent or a
mail sender, because no column exists for one.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID_LENGTH = 22


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored moment is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def new_id() -> str:
    """A random, unguessable, non-sequential id (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[str]: JSON}


def _id_column() -> Mapped[str]:
    return mapped_column(String(ID_LENGTH), primary_key=True, default=new_id)


def _tz_datetime() -> DateTime:
    return DateTime(timezone=True)


class Meta(Base):
    """Key/value facts about the installation (schema owner, demo loaded, …)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


# --- the county ---------------------------------------------------------------------------


class Unit(Base):
    """被巡察单位 (第十一条)."""

    __tablename__ = "units"
    id: Mapped[str] = _id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())


class UnitAlias(Base):
    __tablename__ = "unit_aliases"
    id: Mapped[str] = _id_column()
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    alias: Mapped[str] = mapped_column(String(200), unique=True)


class Body(Base):
    """A body that reads cases.

    巡察组, 巡察办, 县纪委, 组织部, a unit's 党组织, 相关部门 or 领导小组.
    """

    __tablename__ = "bodies"
    id: Mapped[str] = _id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())


class BodyKey(Base):
    """A body's HPKE keypair generation; the newest active one seals new cases."""

    __tablename__ = "body_keys"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())
    retired_at: Mapped[datetime | None] = mapped_column(_tz_datetime())


class BodyKeyGrant(Base):
    """A body private key wrapped to a user's public key (or to the escrow key: user_id null)."""

    __tablename__ = "body_key_grants"
    __table_args__ = (UniqueConstraint("body_key_id", "user_id"),)
    id: Mapped[str] = _id_column()
    body_key_id: Mapped[str] = mapped_column(ForeignKey("body_keys.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())


class User(Base):
    __tablename__ = "users"
    id: Mapped[str] = _id_column()
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    private_key_by_password: Mapped[bytes | None] = mapped_column(LargeBinary)
    private_key_by_recovery: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Until the invitation is accepted: the private key sealed under the one-time invitation
    # token, which is never stored (docs/key-ceremony.md).
    private_key_by_invitation: Mapped[bytes | None] = mapped_column(LargeBinary)
    invitation_lookup: Mapped[bytes | None] = mapped_column(LargeBinary, unique=True)
    invitation_expires_at: Mapped[datetime | None] = mapped_column(_tz_datetime())
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(_tz_datetime())
    disabled_at: Mapped[datetime | None] = mapped_column(_tz_datetime())
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())


class Membership(Base):
    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("user_id", "body_id"),)
    id: Mapped[str] = _id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())


class StaffSession(Base):
    """A server-side staff session; the user's private key is sealed under the cookie's secret."""

    __tablename__ = "staff_sessions"
    id: Mapped[str] = _id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    secret_check: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())
    last_seen_at: Mapped[datetime] = mapped_column(_tz_datetime())
    revoked_at: Mapped[datetime | None] = mapped_column(_tz_datetime())


class Round(Base):
    """巡察轮次: 常规 (regular) or 专项 (special)."""

    __tablename__ = "rounds"
    id: Mapped[str] = _id_column()
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())


class RoundAssignment(Base):
    """One unit inspected by one 巡察组 in one round (a unit never in two groups at once)."""

    __tablename__ = "round_assignments"
    __table_args__ = (UniqueConstraint("round_id", "unit_id"),)
    id: Mapped[str] = _id_column()
    round_id: Mapped[str] = mapped_column(ForeignKey("rounds.id", ondelete="CASCADE"), index=True)
    group_body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id"), index=True)


class Recusal(Base):
    """回避: a user kept away from a unit's cases, or from cases about one person (blind index)."""

    __tablename__ = "recusals"
    id: Mapped[str] = _id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    person_index: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())


class CalendarOverride(Base):
    """Admin-edited working-day facts for years the holiday calendar does not cover yet."""

    __tablename__ = "calendar_overrides"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    workday: Mapped[bool] = mapped_column(Boolean)


# --- cases --------------------------------------------------------------------------------


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue", "assignee_body_id", "status", "received_on", "id"),
        Index("ix_cases_received", "received_on", "id"),
    )
    id: Mapped[str] = _id_column()
    receipt_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    channel: Mapped[str] = mapped_column(String(8))
    received_on: Mapped[date] = mapped_column(Date)
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.id"), index=True)
    categories: Mapped[list[str]] = mapped_column(JSON)
    primary: Mapped[str | None] = mapped_column(String(16))
    problem_type: Mapped[str] = mapped_column(String(24))
    destination: Mapped[str] = mapped_column(String(32))
    assignee_body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"))
    status: Mapped[str] = mapped_column(String(24))
    status_changed_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date | None] = mapped_column(Date)
    blind_index: Mapped[str | None] = mapped_column(String(64), index=True)
    attachment_count: Mapped[int] = mapped_column(Integer, default=0)
    size_bucket: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)


class CaseField(Base):
    """One sealed content field of a case (text, accused, contact, explanation, …)."""

    __tablename__ = "case_fields"
    case_id: Mapped[str] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class CaseKey(Base):
    """The case data key wrapped to one reader: a body key, or the reporter key (body null)."""

    __tablename__ = "case_keys"
    __table_args__ = (UniqueConstraint("case_id", "body_key_id"),)
    id: Mapped[str] = _id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    body_id: Mapped[str | None] = mapped_column(ForeignKey("bodies.id"), index=True)
    body_key_id: Mapped[str | None] = mapped_column(ForeignKey("body_keys.id"))
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())


class Message(Base):
    """A message on a case: reporter → handler, handler → reporter, or an internal note."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_case", "case_id", "seq"),)
    id: Mapped[str] = _id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_on: Mapped[date] = mapped_column(Date)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Attachment(Base):
    __tablename__ = "attachments"
    id: Mapped[str] = _id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    sealed_meta: Mapped[bytes] = mapped_column(LargeBinary)
    segment_count: Mapped[int] = mapped_column(Integer)
    size_bucket: Mapped[int] = mapped_column(Integer)


class BlobChunk(Base):
    """Sealed attachment segments, in the database so every instance sees them."""

    __tablename__ = "blob_chunks"
    attachment_id: Mapped[str] = mapped_column(
        ForeignKey("attachments.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class TriageRecord(Base):
    """Each tagging of a case: the router's original and every staff override, with a reason."""

    __tablename__ = "triage_records"
    id: Mapped[str] = _id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    categories: Mapped[list[str]] = mapped_column(JSON)
    primary: Mapped[str | None] = mapped_column(String(16))
    problem_type: Mapped[str] = mapped_column(String(24))
    destination: Mapped[str] = mapped_column(String(32))
    author_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    sealed_reason: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())


class Transfer(Base):
    """移交 (第十九条): proposed by a 巡察组, approved by 巡察办, answered by 书面反馈."""

    __tablename__ = "transfers"
    id: Mapped[str] = _id_column()
    case_id: Mapped[str] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    destination_body_id: Mapped[str] = mapped_column(ForeignKey("bodies.id"), index=True)
    sealed_note: Mapped[bytes | None] = mapped_column(LargeBinary)
    proposed_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(_tz_datetime())
    decision: Mapped[str | None] = mapped_column(String(16))
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(_tz_datetime())
    due_on: Mapped[date | None] = mapped_column(Date)
    sealed_feedback: Mapped[bytes | None] = mapped_column(LargeBinary)
    feedback_on: Mapped[date | None] = mapped_column(Date)


# --- audit and background work -------------------------------------------------------------


class Event(Base):
    """The audit log, a hash chain (`crypto.audit`): each row commits to the one before."""

    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), unique=True, default=new_id)
    at: Mapped[datetime] = mapped_column(_tz_datetime())
    kind: Mapped[str] = mapped_column(String(48), index=True)
    actor_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class OutboxItem(Base):
    """Background work written in the same transaction as its cause (transactional outbox)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: Mapped[str] = _id_column()
    kind: Mapped[str] = mapped_column(String(32))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(_tz_datetime())
    created_at: Mapped[datetime] = mapped_column(_tz_datetime())
    done_at: Mapped[datetime | None] = mapped_column(_tz_datetime())
    last_error: Mapped[str | None] = mapped_column(String(500))
