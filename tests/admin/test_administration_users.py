"""Users: invitation with a one-time token, pending key grants, disabling, recovery paths."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.body_keys import body_keys_via_member, complete_pending_grants, pending_grants
from core.county import Role, body_by_name
from core.errors import Conflict, Forbidden, InvalidInput
from core.invitations import accept_invitation, recover_with_code
from core.models import Event, StaffSession, User
from core.settings import Settings
from core.staff_admin import disable_user, invite_user, reissue_invitation, reset_second_factor
from crypto import DecryptionFailed
from tests.admin.administration_support import (
    EscrowedCounty,
    escrowed_demo,
    events,
    read_case_text,
    submit,
    user_key,
    user_named,
)
from tests.conftest import BACKENDS, DEMO_PASSWORD

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

NEW_PASSWORD = "青山绿水-correct-horse"


@pytest.fixture
async def county(settings: Settings) -> AsyncIterator[EscrowedCounty]:
    async with escrowed_demo(settings) as county:
        yield county


async def _accept(county: EscrowedCounty, token: str, password: str = NEW_PASSWORD) -> str:
    runtime = county.runtime
    async with runtime.db.transaction() as session:
        enrolment = await accept_invitation(
            session,
            token,
            password,
            params=runtime.settings.password_kdf,
            pepper=runtime.secrets.pepper,
            pool=runtime.kdf_pool,
        )
    return enrolment.recovery_code


async def test_invited_member_with_escrow_grant_reads_the_groups_cases(
    county: EscrowedCounty,
) -> None:
    runtime = county.runtime
    case_id = await submit(runtime)  # 县教育局 -> 第一巡察组 in the demo round
    async with runtime.db.transaction() as session:
        invitation, granted = await invite_user(
            session,
            "wangwei",
            Role.MEMBER,
            email="wangwei@xuncha.local",
            body_name="第一巡察组",
            escrow=county.escrow,
            actor_id=None,
        )
    assert granted
    stored = await user_named(runtime, "wangwei")
    assert stored.password_hash is None  # cannot log in before accepting
    assert stored.invitation_lookup is not None
    assert invitation.token.encode() not in stored.invitation_lookup  # only a hash is kept
    recovery = await _accept(county, f"  {invitation.token}\n")  # pasted with whitespace
    keys = await user_key(runtime, "wangwei", NEW_PASSWORD, pepper=True)
    assert await read_case_text(runtime, "wangwei", keys, case_id) == (
        "县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。"
    )
    # The token works once.
    with pytest.raises(Forbidden):
        await _accept(county, invitation.token)
    # The recovery code opens the same key.
    from tests.admin.administration_support import user_key_by_recovery

    assert (await user_key_by_recovery(runtime, "wangwei", recovery)).key_id == keys.key_id
    (event,) = await events(runtime, "user.invited")
    assert event.detail == {
        "user": "wangwei",
        "role": "member",
        "body": "第一巡察组",
        "granted": True,
    }


async def test_without_escrow_the_grant_waits_for_a_member(county: EscrowedCounty) -> None:
    runtime = county.runtime
    case_id = await submit(runtime)
    async with runtime.db.transaction() as session:
        invitation, granted = await invite_user(
            session,
            "lina",
            Role.MEMBER,
            email="lina@xuncha.local",
            body_name="第一巡察组",
            actor_id=None,
        )
    assert not granted
    await _accept(county, invitation.token)
    keys = await user_key(runtime, "lina", NEW_PASSWORD, pepper=True)
    async with runtime.db.reading() as session:
        assert [(p.username, p.body_name) for p in await pending_grants(session)] == [
            ("lina", "第一巡察组")
        ]
    from core.errors import NotFound

    with pytest.raises(NotFound):
        await read_case_text(runtime, "lina", keys, case_id)
    # group1, signed in (their key unlocked), completes the grant for their body.
    group1_keys = await user_key(runtime, "group1", DEMO_PASSWORD)
    async with runtime.db.transaction() as session:
        body = await body_by_name(session, "第一巡察组")
        group1 = await user_named(runtime, "group1")
        body_keys = await body_keys_via_member(session, body, group1, group1_keys)
        done = await complete_pending_grants(session, body, body_keys, actor_id=group1.id)
    assert done == ["lina"]
    assert await read_case_text(runtime, "lina", keys, case_id)
    async with runtime.db.reading() as session:
        assert await pending_grants(session) == []


async def test_weak_password_and_expired_invitation_are_refused(county: EscrowedCounty) -> None:
    runtime = county.runtime
    async with runtime.db.transaction() as session:
        invitation, _ = await invite_user(
            session,
            "zhaoli",
            Role.LEADER,
            email="z@xuncha.local",
            body_name="巡察工作领导小组",
            actor_id=None,
        )
    with pytest.raises(InvalidInput):
        await _accept(county, invitation.token, "short-pass")
    async with runtime.db.transaction() as session:
        user = await session.scalar(select(User).where(User.username == "zhaoli"))
        assert user is not None
        assert user.invitation_expires_at is not None
        user.invitation_expires_at = user.invitation_expires_at - timedelta(days=8)
    with pytest.raises(Forbidden):
        await _accept(county, invitation.token)
    with pytest.raises(Forbidden):
        await _accept(county, "not-a-token")


async def test_roles_and_bodies_must_fit(county: EscrowedCounty) -> None:
    runtime = county.runtime
    for role, body in (
        (Role.ADMIN, "第一巡察组"),
        (Role.OPERATOR, "县委巡察办"),
        (Role.MEMBER, None),
    ):
        with pytest.raises(InvalidInput):
            async with runtime.db.transaction() as session:
                await invite_user(
                    session, "someone", role, email="s@xuncha.local", body_name=body, actor_id=None
                )
    with pytest.raises(Conflict):
        async with runtime.db.transaction() as session:
            await invite_user(
                session,
                "group1",
                Role.MEMBER,
                email="g@xuncha.local",
                body_name="第一巡察组",
                actor_id=None,
            )


async def test_a_disabled_user_cannot_log_in_and_stays_in_the_audit(
    county: EscrowedCounty,
) -> None:
    from admin.auth import Authenticator, LoginFailed

    runtime = county.runtime
    auth = Authenticator(runtime)
    outcome = await auth.login("group1", DEMO_PASSWORD, None)
    group1_id = outcome.user.id
    xcb = await user_named(runtime, "xcb")
    async with runtime.db.transaction() as session:
        await disable_user(session, "group1", actor_id=xcb.id)
    with pytest.raises(LoginFailed):
        await auth.login("group1", DEMO_PASSWORD, None)
    async with runtime.db.reading() as session:
        user = await session.get(User, group1_id)
        assert user is not None
        assert user.disabled_at is not None
        sessions = list(
            await session.scalars(select(StaffSession).where(StaffSession.user_id == group1_id))
        )
        assert sessions
        assert all(s.revoked_at is not None for s in sessions)
        # Their earlier acts still name them; the disabling names who did it.
        logins = await session.scalars(
            select(Event).where(Event.kind == "staff.login", Event.actor_id == group1_id)
        )
        assert list(logins)
    (disabled,) = await events(runtime, "user.disabled")
    assert disabled.actor_id == xcb.id
    assert disabled.detail == {"user": "group1"}
    from core.audit import verify_audit_chain

    async with runtime.db.reading() as session:
        assert (await verify_audit_chain(session)).intact


async def test_the_last_admin_and_oneself_cannot_be_disabled(county: EscrowedCounty) -> None:
    runtime = county.runtime
    xcb = await user_named(runtime, "xcb")
    with pytest.raises(Conflict):
        async with runtime.db.transaction() as session:
            await disable_user(session, "xcb", actor_id=None)
    with pytest.raises(Conflict):
        async with runtime.db.transaction() as session:
            await disable_user(session, "xcb", actor_id=xcb.id)


async def test_recovery_code_sets_a_new_password_and_keeps_the_key(
    county: EscrowedCounty,
) -> None:
    runtime = county.runtime
    case_id = await submit(runtime)
    async with runtime.db.transaction() as session:
        invitation, _ = await invite_user(
            session,
            "sunli",
            Role.MEMBER,
            email="s@xuncha.local",
            body_name="第一巡察组",
            escrow=county.escrow,
            actor_id=None,
        )
    recovery = await _accept(county, invitation.token)
    async with runtime.db.transaction() as session:
        with pytest.raises(Forbidden):
            await recover_with_code(
                session,
                "sunli",
                "0000-0000-0000-0000-00000",
                "另一个足够长的新密码123",
                params=runtime.settings.password_kdf,
                pepper=runtime.secrets.pepper,
            )
    async with runtime.db.transaction() as session:
        enrolment = await recover_with_code(
            session,
            "sunli",
            recovery.lower(),
            "另一个足够长的新密码123",
            params=runtime.settings.password_kdf,
            pepper=runtime.secrets.pepper,
        )
    assert enrolment.recovery_code != recovery
    with pytest.raises(DecryptionFailed):
        await user_key(runtime, "sunli", NEW_PASSWORD, pepper=True)
    keys = await user_key(runtime, "sunli", "另一个足够长的新密码123", pepper=True)
    assert await read_case_text(runtime, "sunli", keys, case_id)
    # The used code no longer works.
    async with runtime.db.transaction() as session:
        with pytest.raises(Forbidden):
            await recover_with_code(
                session,
                "sunli",
                recovery,
                "第三个足够长的新密码456",
                params=runtime.settings.password_kdf,
                pepper=runtime.secrets.pepper,
            )


async def test_escrow_recovery_for_a_user_who_lost_everything(county: EscrowedCounty) -> None:
    runtime = county.runtime
    case_id = await submit(runtime)
    async with runtime.db.transaction() as session:
        invitation, granted = await reissue_invitation(
            session, "group1", escrow=county.escrow, actor_id=None
        )
    assert granted
    lost = await user_named(runtime, "group1")
    assert lost.password_hash is None  # the old password logs in nowhere
    assert lost.private_key_by_password is None
    await _accept(county, invitation.token)
    keys = await user_key(runtime, "group1", NEW_PASSWORD, pepper=True)
    assert await read_case_text(runtime, "group1", keys, case_id)
    (event,) = await events(runtime, "user.invitation_reissued")
    assert event.detail["bodies"] == ["第一巡察组"]
    (used,) = await events(runtime, "keys.escrow_used")
    assert used.detail == {"key_id": county.escrow.key_id, "purpose": "recovery", "user": "group1"}


async def test_second_factor_reset_clears_the_secret(county: EscrowedCounty) -> None:
    runtime = county.runtime
    async with runtime.db.transaction() as session:
        await session.execute(
            update(User).where(User.username == "jw").values(totp_secret=b"x" * 40)
        )
    async with runtime.db.transaction() as session:
        await reset_second_factor(session, "jw", actor_id=None)
    assert (await user_named(runtime, "jw")).totp_secret is None
    assert len(await events(runtime, "user.totp_reset")) == 1
