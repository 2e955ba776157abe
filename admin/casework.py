"""Case operations shared by the JSON API and the HTML console.

Each operation is one transaction: load the case (visible to the user, locked for update),
ask the policy with the case's facts, open the data key through the user's session key,
apply the transition (``core.triage``) and append the audit event. Viewing and downloading
are decryptions, so they are audited in the same transaction that reads the content.
"""

from __future__ import annotations

import tempfile
from collections.abc import Awaitable, Callable, Iterator
from typing import IO, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from admin.dossier import AttachmentInfo, Dossier, attachment_infos, open_dossier
from admin.policy import CaseFacts, Permissions, Rule, allows, case_permissions
from admin.web import Staff
from core.access import open_data_key, visible_case
from core.audit import append_event
from core.cases import Status, attachment_field
from core.errors import Forbidden, NotFound
from core.models import Attachment, BlobChunk, Case
from core.runtime import Runtime
from core.transfers import approved_transfer, pending_transfer
from core.triage import Action, allowed_actions
from crypto import CaseKey as DataKey
from crypto import StreamOpener

T = TypeVar("T")
Work = Callable[[AsyncSession, Case, DataKey], Awaitable[T]]
SPOOL_IN_MEMORY = 8 * 1024 * 1024


async def case_facts(session: AsyncSession, case: Case) -> CaseFacts:
    approved = await approved_transfer(session, case.id)
    return CaseFacts(
        assignee_body_id=case.assignee_body_id,
        status=case.status,
        transfer_destination_body_id=approved.destination_body_id if approved else None,
        pending_transfer=await pending_transfer(session, case.id) is not None,
    )


# Which state-machine steps each case rule needs (core.triage); reading and writing need none.
_STEPS: dict[Rule, frozenset[Action]] = {
    Rule.TRIAGE: frozenset({Action.TRIAGE}),
    Rule.PROPOSE_TRANSFER: frozenset({Action.PROPOSE_TRANSFER}),
    Rule.DECIDE_TRANSFER: frozenset({Action.APPROVE_TRANSFER}),
    Rule.FEEDBACK: frozenset({Action.FEEDBACK}),
    Rule.CLOSE: frozenset({Action.CLOSE, Action.DUPLICATE, Action.NOT_ACCEPT}),
}


def usable_now(permissions: Permissions, status: str) -> frozenset[Rule]:
    """The rules the user holds on this case that its current state also allows."""
    possible = allowed_actions(Status(status))
    return frozenset(
        rule for rule in permissions.granted if rule not in _STEPS or _STEPS[rule] & possible
    )


def _require(staff: Staff, rule: Rule, facts: CaseFacts) -> None:
    if not allows(staff.actor, rule, facts):
        raise Forbidden("您无权对该案件执行此操作。")


async def act(runtime: Runtime, staff: Staff, case_id: str, rule: Rule, work: Work[T]) -> T:
    """Run one state change on a case the user may see and act on under ``rule``."""
    async with runtime.db.transaction() as session:
        case = await visible_case(session, staff.viewer, case_id, for_update=True)
        _require(staff, rule, await case_facts(session, case))
        key = await open_data_key(session, staff.viewer, staff.keypair(), case.id)
        return await work(session, case, key)


async def view_case(runtime: Runtime, staff: Staff, case_id: str) -> tuple[Dossier, Permissions]:
    """Decrypt a case for reading; the ``case.viewed`` event commits with the read."""
    async with runtime.db.transaction() as session:
        case = await visible_case(session, staff.viewer, case_id)
        facts = await case_facts(session, case)
        _require(staff, Rule.READ_CASE, facts)
        dossier, _key = await open_dossier(session, staff.viewer, staff.keypair(), case.id)
        await append_event(session, "case.viewed", actor_id=staff.user.id, case_id=case.id)
    return dossier, case_permissions(staff.actor, facts)


async def download_attachment(
    runtime: Runtime, staff: Staff, case_id: str, attachment_id: str
) -> tuple[AttachmentInfo, IO[bytes]]:
    """Decrypt one attachment into a spooled temporary file, fully verified before it is sent.

    The stream format releases plaintext before its last segment is checked, so nothing is
    sent until :meth:`StreamOpener.finalize` succeeds.
    """
    async with runtime.db.transaction() as session:
        case = await visible_case(session, staff.viewer, case_id)
        _require(staff, Rule.READ_CASE, await case_facts(session, case))
        row = await session.scalar(
            select(Attachment).where(Attachment.id == attachment_id, Attachment.case_id == case.id)
        )
        if row is None:
            raise NotFound("未找到该附件。")
        key = await open_data_key(session, staff.viewer, staff.keypair(), case.id)
        dossier_info = await _attachment_info(session, case, key, row)
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 — handed to the response, closed there
        try:
            opener = StreamOpener(key, case.id, attachment_field(row.id))
            chunks = await session.stream_scalars(
                select(BlobChunk.data)
                .where(BlobChunk.attachment_id == row.id)
                .order_by(BlobChunk.seq)
            )
            async for chunk in chunks:
                for plain in opener.update(chunk):
                    spool.write(plain)
            for plain in opener.finalize():
                spool.write(plain)
        except BaseException:
            spool.close()
            raise
        await append_event(
            session,
            "attachment.downloaded",
            actor_id=staff.user.id,
            case_id=case.id,
            detail={"attachment": row.id},
        )
    spool.seek(0)
    return dossier_info, spool


async def _attachment_info(
    session: AsyncSession, case: Case, key: DataKey, row: Attachment
) -> AttachmentInfo:
    for info in await attachment_infos(session, case, key):
        if info.id == row.id:
            return info
    raise NotFound("未找到该附件。")


def iter_file(handle: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    try:
        while chunk := handle.read(size):
            yield chunk
    finally:
        handle.close()
