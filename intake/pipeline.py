"""The one intake pipeline every channel calls (web, hotline, voicemail, mailbox).

validate -> decide the route in memory -> seal -> store in one transaction
-> enqueue notifications -> return the receipt. The slow receipt KDF runs in
the bounded thread pool before the transaction, never inside it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import append_event
from core.cases import (
    MessageKind,
    NewReport,
    Reader,
    SealedAttachment,
    Status,
    ThreadMessage,
    add_message,
    case_for_reporter,
    insert_attachment,
    insert_case,
    reporter_case_and_thread,
    seal_new_case,
)
from core.county import BodyKind, today
from core.errors import InvalidInput, NotFound
from core.models import Body, BodyKey, Case, new_id
from core.outbox import OutboxKind, enqueue
from core.runtime import Runtime
from crypto import CaseKey as DataKey
from crypto import PublicKey, ReceiptKeys, derive_receipt_keys, generate_receipt, normalise_receipt
from routing import Decision, ProblemType, RoutingFacts, decide_report

MAX_TEXT = 20_000


@dataclass
class Draft:
    """A case being assembled: its id and data key exist before attachments stream in."""

    case_id: str = field(default_factory=new_id)
    data_key: DataKey = field(default_factory=DataKey.generate)
    attachments: list[SealedAttachment] = field(default_factory=list)


@dataclass(frozen=True)
class ReporterView:
    status: Status
    updated_on: str
    messages: list[ThreadMessage]
    received_on: str = ""


def check_text(text: object, *, field_name: str = "text", maximum: int = MAX_TEXT) -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"{field_name} 必须是文字。", code="invalid_field")
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("内容不能为空。", code="empty_text")
    if len(stripped) > maximum:
        raise InvalidInput(f"内容不能超过 {maximum} 字。", code="text_too_long")
    return stripped


def check_reporter_message(receipt: str, text: object) -> str:
    """A reporter's added information, refused when it carries their own receipt."""
    checked = check_text(text)
    if receipt in "".join(ch for ch in checked if ch.isdigit()):
        # People paste their receipt by mistake; it would then sit in a message staff read.
        raise InvalidInput(
            "补充内容中包含您的查询码。为保护您的匿名，请删除查询码后再提交。",
            code="receipt_in_message",
        )
    return checked


class IntakePipeline:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def derive(self, receipt: str) -> ReceiptKeys:
        """Argon2id for one receipt, in the bounded pool (shared by submissions and checks)."""
        secrets = self.runtime.secrets
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.runtime.kdf_pool,
            lambda: derive_receipt_keys(
                receipt,
                site_salt=secrets.site_salt,
                pepper=secrets.pepper,
                params=self.runtime.settings.receipt_kdf,
            ),
        )

    async def submit(self, report: NewReport, draft: Draft | None = None) -> str:
        """Store a new case and return its receipt (20 digits, unformatted)."""
        draft = draft or Draft()
        receipt = generate_receipt()
        keys = await self.derive(receipt)
        day = today()
        registry = await self.runtime.registry_cache.get(self.runtime.db)
        decision = decide_report(
            RoutingFacts(
                text=report.text,
                accused_name=report.accused.name,
                accused_unit=report.accused.unit,
                accused_position=report.accused.position,
                category_hint=report.category_hint,
                received_on=day,
                registry=registry,
            )
        )
        async with self.runtime.db.reading() as session:
            readers = await readers_for(session, decision)
        # Sealing (HPKE per reader) happens before the write transaction, so writers queue
        # only for the inserts themselves.
        sealed = seal_new_case(
            case_id=draft.case_id,
            data_key=draft.data_key,
            report=report,
            decision=decision,
            receipt=keys,
            readers=readers,
            index_key=self.runtime.secrets.index_key,
            today=day,
            attachments=draft.attachments,
        )
        async with self.runtime.db.transaction() as session:
            await insert_case(session, sealed, draft.attachments)
            await append_event(
                session,
                "case.received",
                case_id=draft.case_id,
                detail={"channel": report.channel.value, "attachments": len(draft.attachments)},
            )
            await enqueue(
                session,
                OutboxKind.NOTIFY_BODY,
                f"case-received:{draft.case_id}",
                {
                    "body_id": decision.assignee_body_id,
                    "reason": "case_received",
                    # Lets the notifier skip members recused from this case (回避).
                    "case_id": draft.case_id,
                },
                key_is_new=True,
            )
        return receipt

    async def reporter_view(self, receipt_text: str) -> ReporterView:
        keys = await self.derive(normalise_receipt(receipt_text))
        async with self.runtime.db.reading() as session:
            found = await reporter_case_and_thread(session, keys)
        if found is None:
            raise NotFound("未找到与该查询码对应的举报。")
        case, messages = found
        return ReporterView(
            Status(case.status),
            case.status_changed_on.isoformat(),
            messages,
            received_on=case.received_on.isoformat(),
        )

    async def add_reporter_message(
        self,
        receipt_text: str,
        text: str,
        attachments: Sequence[SealedAttachment] = (),
        *,
        keys: ReceiptKeys | None = None,
    ) -> None:
        """``keys``: already derived (by `open_draft_for_receipt`, to seal attachments)."""
        receipt = normalise_receipt(receipt_text)
        text = check_reporter_message(receipt, text)
        if keys is None:
            keys = await self.derive(receipt)
        async with self.runtime.db.transaction() as session:
            case, data_key = await _reporter_case(session, keys)
            message = await add_message(
                session, case, data_key, MessageKind.FROM_REPORTER, text, today=today()
            )
            for attachment in attachments:
                await insert_attachment(session, case.id, attachment, message.id)
            await append_event(session, "case.reporter_message", case_id=case.id)
            await enqueue(
                session,
                OutboxKind.NOTIFY_BODY,
                f"reporter-message:{message.id}",
                {
                    "body_id": case.assignee_body_id,
                    "reason": "reporter_message",
                    "case_id": case.id,
                },
                key_is_new=True,
            )

    async def open_draft_for_receipt(self, receipt_text: str) -> tuple[Case, DataKey, ReceiptKeys]:
        """For channels that stream attachments into an existing case (adding information)."""
        keys = await self.derive(normalise_receipt(receipt_text))
        async with self.runtime.db.reading() as session:
            case, data_key = await _reporter_case(session, keys)
            return case, data_key, keys


async def _reporter_case(session: AsyncSession, keys: ReceiptKeys) -> tuple[Case, DataKey]:
    found = await case_for_reporter(session, keys)
    if found is None:
        raise NotFound("未找到与该查询码对应的举报。")
    return found


async def readers_for(session: AsyncSession, decision: Decision) -> list[Reader]:
    """Who can open a new case: the assignee, 巡察办 (it approves every 移交), and for reports
    about inspectors also the 领导小组 (第二十七条). Destinations get the key only on approval.

    One query: the newest active key generation of each of those bodies."""
    kinds = [BodyKind.OFFICE.value]
    if decision.problem_type is ProblemType.INSPECTOR_MISCONDUCT:
        kinds.append(BodyKind.LEADING_GROUP.value)
    rows = await session.execute(
        _ACTIVE_KEYS, {"assignee": decision.assignee_body_id, "kinds": kinds}
    )
    newest: dict[str, Reader] = {}
    for body_id, key_id, public_key in rows:
        if body_id not in newest:  # rows come newest first within a body
            newest[body_id] = Reader(body_id, key_id, _parsed_public_key(public_key))
    if decision.assignee_body_id not in newest:
        raise NotFound("受理机构尚未配置密钥，请联系县委巡察办。", code="no_reader")
    return [newest[body_id] for body_id in sorted(newest)]


_ACTIVE_KEYS = (
    select(BodyKey.body_id, BodyKey.id, BodyKey.public_key)
    .join(Body, Body.id == BodyKey.body_id)
    .where(
        or_(
            Body.id == bindparam("assignee"),
            Body.kind.in_(bindparam("kinds", expanding=True)),
        ),
        BodyKey.retired_at.is_(None),
    )
    .order_by(BodyKey.body_id, BodyKey.created_at.desc())
)


@lru_cache(maxsize=256)
def _parsed_public_key(raw: bytes) -> PublicKey:
    """Public keys are immutable and few (a generation per body): each is parsed and its ML-KEM
    half checked once per process, not on every submission."""
    return PublicKey(raw)
