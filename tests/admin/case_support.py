"""Cases for staff-app tests: submitted through the real intake pipeline."""

from __future__ import annotations

import json

from sqlalchemy import select

from core.cases import (
    Accused,
    Channel,
    NewReport,
    SealedAttachment,
    attachment_field,
    attachment_meta_field,
)
from core.models import Body, Case, new_id
from core.runtime import Runtime
from crypto import StreamSealer, padded_size, seal_text
from intake.pipeline import Draft, IntakePipeline

EDUCATION_REPORT = NewReport(
    channel=Channel.WEB,
    text="县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。",
    accused=Accused(name="王某某", unit="县教育局", position="基建股股长"),
    contact="13800000000",
)


async def submit(
    runtime: Runtime, report: NewReport = EDUCATION_REPORT, *, attachment: bytes | None = None
) -> tuple[str, str]:
    """Submit a report; return (case id, receipt)."""
    draft = Draft()
    if attachment is not None:
        draft.attachments.append(seal_attachment(draft, "现场照片.jpg", attachment))
    receipt = await IntakePipeline(runtime).submit(report, draft)
    return draft.case_id, receipt


async def body_id(runtime: Runtime, name: str) -> str:
    async with runtime.db.reading() as session:
        found = await session.scalar(select(Body.id).where(Body.name == name))
    assert found is not None
    return found


async def load_case(runtime: Runtime, case_id: str) -> Case:
    async with runtime.db.reading() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    return case


def seal_attachment(draft: Draft, name: str, data: bytes) -> SealedAttachment:
    """Seal a file as the channels do: a stream, and its metadata as JSON."""
    attachment_id = new_id()
    sealer = StreamSealer(draft.data_key, draft.case_id, attachment_field(attachment_id))
    meta = json.dumps({"name": name, "content_type": "image/jpeg", "size": len(data)})
    return SealedAttachment(
        id=attachment_id,
        sealed_meta=seal_text(
            draft.data_key, draft.case_id, attachment_meta_field(attachment_id), meta
        ),
        segments=[*sealer.update(data), *sealer.finalize()],
        size_bucket=padded_size(len(data)),
    )
