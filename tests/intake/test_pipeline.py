"""The one intake pipeline: route, seal, store atomically; the reporter's receipt opens it."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from core.cases import Accused, Channel, NewReport, Status
from core.errors import InvalidInput, NotFound
from core.models import Case, CaseField, CaseKey, Event, Message, OutboxItem, TriageRecord, User
from core.runtime import Runtime
from crypto import (
    DecryptionFailed,
    KeyPair,
    format_receipt,
    open_text,
    unwrap_body_key,
    unwrap_case_key,
)
from crypto.user_keys import unwrap_user_key_with_password
from intake import pipeline as pipeline_module
from intake.pipeline import IntakePipeline
from tests.conftest import BACKENDS, DEMO_PASSWORD

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

REPORT = NewReport(
    channel=Channel.WEB,
    text="县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。",
    accused=Accused(name="王某某", unit="县教育局", position="基建股股长"),
    contact="13800000000",
)


async def _count(runtime: Runtime, model: type) -> int:
    async with runtime.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def _user_body_key(runtime: Runtime, username: str, body_id: str) -> KeyPair:
    from core.models import BodyKeyGrant

    async with runtime.db.reading() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None
        assert user.private_key_by_password is not None
        user_key = unwrap_user_key_with_password(
            user.private_key_by_password, user.id, DEMO_PASSWORD
        )
        grant = await session.scalar(select(BodyKeyGrant).where(BodyKeyGrant.user_id == user.id))
        assert grant is not None
        return unwrap_body_key(grant.wrapped, body_id, user_key)


async def test_submission_is_routed_sealed_and_opens_for_assignee_only(
    demo_runtime: Runtime,
) -> None:
    receipt = await IntakePipeline(demo_runtime).submit(REPORT)
    assert len(receipt) == 20
    assert receipt.isdigit()
    async with demo_runtime.db.reading() as session:
        case = await session.scalar(select(Case))
        assert case is not None
        assert case.problem_type == "violation_lead"
        assert case.destination == "county_discipline_commission"
        assert case.channel == "web"
        assert case.status == "received"
        assert case.blind_index is not None
        keys = list(await session.scalars(select(CaseKey).where(CaseKey.case_id == case.id)))
        text_field = await session.get(CaseField, (case.id, "text"))
        assert text_field is not None
        assert await session.scalar(select(func.count()).select_from(TriageRecord)) == 1
        kinds = set(await session.scalars(select(Event.kind)))
        assert "case.received" in kinds
        assert await session.scalar(select(func.count()).select_from(OutboxItem)) == 1
    # 第一巡察组 inspects 县教育局 in the demo round: it is the assignee and can read.
    group1_key = await _user_body_key(demo_runtime, "group1", case.assignee_body_id)
    wrapped = next(k for k in keys if k.body_key_id == group1_key.key_id)
    data_key = unwrap_case_key(wrapped.wrapped, case.id, group1_key)
    assert open_text(data_key, case.id, "text", text_field.sealed) == REPORT.text
    # 县纪委 is the destination, but only an approved 移交 gives it the key.
    jw_grant_body = await _jw_body_id(demo_runtime)
    jw_key = await _user_body_key(demo_runtime, "jw", jw_grant_body)
    assert all(k.body_key_id != jw_key.key_id for k in keys)
    with pytest.raises(DecryptionFailed):
        unwrap_case_key(wrapped.wrapped, case.id, jw_key)


async def _jw_body_id(runtime: Runtime) -> str:
    from core.models import Body

    async with runtime.db.reading() as session:
        body_id = await session.scalar(select(Body.id).where(Body.name == "县纪委"))
        assert body_id is not None
        return body_id


async def test_receipt_in_any_typed_form_shows_status_and_replies(demo_runtime: Runtime) -> None:
    pipeline = IntakePipeline(demo_runtime)
    receipt = await pipeline.submit(REPORT)
    typed = format_receipt(receipt).replace(" ", "-")
    view = await pipeline.reporter_view(typed)
    assert view.status is Status.RECEIVED
    assert view.messages == []
    await pipeline.add_reporter_message(receipt, "补充：转账记录在我手里。")
    view = await pipeline.reporter_view(receipt)
    assert [m.text for m in view.messages] == ["补充：转账记录在我手里。"]
    assert await _count(demo_runtime, Message) == 1


async def test_unknown_receipt_is_not_found(demo_runtime: Runtime) -> None:
    with pytest.raises(NotFound):
        await IntakePipeline(demo_runtime).reporter_view("1234 5678 9012 3456 7890")


async def test_message_containing_the_receipt_is_refused(demo_runtime: Runtime) -> None:
    pipeline = IntakePipeline(demo_runtime)
    receipt = await pipeline.submit(REPORT)
    with pytest.raises(InvalidInput) as caught:
        await pipeline.add_reporter_message(receipt, f"我的查询码是 {format_receipt(receipt)}")
    assert caught.value.code == "receipt_in_message"
    assert await _count(demo_runtime, Message) == 0


async def test_failed_submission_leaves_nothing(
    demo_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken_enqueue(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline_module, "enqueue", broken_enqueue)
    events_before = await _count(demo_runtime, Event)
    with pytest.raises(RuntimeError):
        await IntakePipeline(demo_runtime).submit(REPORT)
    for model in (Case, CaseField, CaseKey, TriageRecord, OutboxItem):
        assert await _count(demo_runtime, model) == 0
    assert await _count(demo_runtime, Event) == events_before
