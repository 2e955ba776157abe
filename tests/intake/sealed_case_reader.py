"""Test support: open every stored case as the 巡察办 user ``xcb`` (a reader of every new case).

It goes the long way a staff member would: password -> user key -> body key -> case key ->
fields and attachment streams, so a test that reads a case back also checks the sealing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.cases import Accused, attachment_field, attachment_meta_field
from core.models import Attachment, BlobChunk, BodyKey, BodyKeyGrant, Case, CaseField, User
from core.models import CaseKey as CaseKeyRow
from core.runtime import Runtime
from crypto import open_stream, open_text, unwrap_body_key, unwrap_case_key
from crypto.user_keys import unwrap_user_key_with_password
from tests.conftest import DEMO_PASSWORD


@dataclass(frozen=True)
class OpenedAttachment:
    meta: dict[str, Any]
    data: bytes


@dataclass(frozen=True)
class OpenedCase:
    case: Case
    text: str
    accused: Accused
    attachments: list[OpenedAttachment]


async def open_all_cases(runtime: Runtime, username: str = "xcb") -> list[OpenedCase]:
    opened = []
    async with runtime.db.reading() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        assert user.private_key_by_password is not None
        user_key = unwrap_user_key_with_password(
            user.private_key_by_password, user.id, DEMO_PASSWORD
        )
        grants = (
            await session.execute(
                select(BodyKeyGrant, BodyKey.body_id)
                .join(BodyKey, BodyKey.id == BodyKeyGrant.body_key_id)
                .where(BodyKeyGrant.user_id == user.id)
            )
        ).all()
        body_keys = {
            grant.body_key_id: unwrap_body_key(grant.wrapped, body_id, user_key)
            for grant, body_id in grants
        }
        for case in await session.scalars(select(Case).order_by(Case.id)):
            wrapped = await session.scalar(
                select(CaseKeyRow).where(
                    CaseKeyRow.case_id == case.id, CaseKeyRow.body_key_id.in_(list(body_keys))
                )
            )
            assert wrapped is not None, "xcb cannot open a case"
            assert wrapped.body_key_id is not None
            data_key = unwrap_case_key(wrapped.wrapped, case.id, body_keys[wrapped.body_key_id])
            fields = {
                f.name: open_text(data_key, case.id, f.name, f.sealed)
                for f in await session.scalars(
                    select(CaseField).where(CaseField.case_id == case.id)
                )
            }
            attachments = []
            for row in await session.scalars(
                select(Attachment).where(Attachment.case_id == case.id).order_by(Attachment.id)
            ):
                meta = json.loads(
                    open_text(data_key, case.id, attachment_meta_field(row.id), row.sealed_meta)
                )
                chunks = await session.scalars(
                    select(BlobChunk.data)
                    .where(BlobChunk.attachment_id == row.id)
                    .order_by(BlobChunk.seq)
                )
                data = b"".join(open_stream(data_key, case.id, attachment_field(row.id), chunks))
                attachments.append(OpenedAttachment(meta, data))
            opened.append(
                OpenedCase(case, fields["text"], Accused.from_json(fields["accused"]), attachments)
            )
    return opened
