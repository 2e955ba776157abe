"""The handlers behind `admin.cli_admin`: one transaction each, printing what changed."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from admin import cli_keys
from admin.cli_admin import (
    Command,
    print_invitation,
    prompt_new_password,
    prompt_secret,
    read_escrow,
)
from admin.throttle import LoginThrottle, recover_with_code_throttled
from core import body_keys, invitations, recusals, rounds_admin, staff_admin
from core.county import BodyKind, body_by_name, today
from core.errors import InvalidInput
from core.ledger import LedgerFormat, export_ledger
from core.runtime import Runtime
from core.unit_import import import_units, read_sheet

MAX_SHEET_BYTES = 20 * 1024 * 1024


async def unit_import(runtime: Runtime, args: argparse.Namespace) -> int:
    path: Path = args.file
    try:
        if path.stat().st_size > MAX_SHEET_BYTES:
            raise InvalidInput("文件过大（上限 20 MB）。")
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"无法读取 {path}：{exc.strerror}") from None
    rows = read_sheet(path.name, data)
    async with runtime.db.transaction() as session:
        result = await import_units(
            session, rows, escrow=runtime.secrets.escrow_public_key, actor_id=None
        )
    for label, names in (("新增", result.created), ("更新", result.updated)):
        for name in names:
            print(f"{label}单位：{name}")
    print(
        f"共 {len(result.created)} 个新增，{len(result.updated)} 个更新，"
        f"{len(result.unchanged)} 个未变。"
    )
    return 0


async def body_add(runtime: Runtime, args: argparse.Namespace) -> int:
    async with runtime.db.transaction() as session:
        body = await staff_admin.create_body(
            session,
            args.name,
            BodyKind(args.kind),
            escrow=runtime.secrets.escrow_public_key,
            unit_name=args.unit,
            actor_id=None,
        )
    print(f"已创建机构：{body.name}（密钥已生成并托管）")
    return 0


async def user_add(runtime: Runtime, args: argparse.Namespace) -> int:
    escrow = read_escrow(runtime, args.escrow_key)
    async with runtime.db.transaction() as session:
        invitation, granted = await staff_admin.invite_user(
            session,
            args.username,
            staff_admin.parse_role(args.role),
            email=args.email,
            body_name=args.body,
            escrow=escrow,
            actor_id=None,
        )
    print(f"已创建用户：{args.username}（{args.role}，{args.body or '不属于任何机构'}）")
    if args.body and not granted:
        print(f"机构密钥待授权：由“{args.body}”的成员登录后授权，或运行 `xuncha user grant`。")
    print_invitation(runtime.settings, invitation)
    return 0


async def user_disable(runtime: Runtime, args: argparse.Namespace) -> int:
    async with runtime.db.transaction() as session:
        await staff_admin.disable_user(session, args.username, actor_id=None)
    print(f"已停用用户：{args.username}（所有会话已注销；审计记录保留）")
    return 0


async def user_reset_2fa(runtime: Runtime, args: argparse.Namespace) -> int:
    async with runtime.db.transaction() as session:
        await staff_admin.reset_second_factor(session, args.username, actor_id=None)
    print(f"已重置 {args.username} 的双因素认证：下次登录时重新绑定。")
    return 0


async def user_email(runtime: Runtime, args: argparse.Namespace) -> int:
    async with runtime.db.transaction() as session:
        await staff_admin.set_email(session, args.username, args.email, actor_id=None)
    print(f"已更新 {args.username} 的通知邮箱。")
    return 0


async def user_join(runtime: Runtime, args: argparse.Namespace) -> int:
    escrow = read_escrow(runtime, args.escrow_key)
    async with runtime.db.transaction() as session:
        granted = await staff_admin.add_member(
            session, args.username, args.body, escrow=escrow, actor_id=None
        )
    state = "密钥已授权" if granted else "密钥待授权"
    print(f"已将 {args.username} 加入“{args.body}”（{state}）。")
    return 0


async def user_list(runtime: Runtime, _args: argparse.Namespace) -> int:
    async with runtime.db.reading() as session:
        rows = await staff_admin.user_overview(session)
    for row in rows:
        print("\t".join((row.username, row.role, "、".join(row.bodies) or "-", row.state.label)))
    print(f"共 {len(rows)} 个用户。")
    return 0


async def user_pending(runtime: Runtime, _args: argparse.Namespace) -> int:
    async with runtime.db.reading() as session:
        pending = await body_keys.pending_grants(session)
    for item in pending:
        print(f"{item.body_name}\t{item.username}")
    print(f"共 {len(pending)} 项待授权。")
    return 0


async def user_grant(runtime: Runtime, args: argparse.Namespace) -> int:
    escrow = read_escrow(runtime, args.escrow_key)
    assert escrow is not None  # noqa: S101 — the argument is required
    total = 0
    async with runtime.db.transaction() as session:
        names = sorted({p.body_name for p in await body_keys.pending_grants(session)})
        for name in names:
            body = await body_by_name(session, name)
            keys = await body_keys.body_keys_via_escrow(session, body, escrow)
            for username in await body_keys.complete_pending_grants(
                session, body, keys, actor_id=None
            ):
                print(f"已授权：{name} -> {username}")
                total += 1
    print(f"共完成 {total} 项授权。")
    return 0


async def user_accept(runtime: Runtime, _args: argparse.Namespace) -> int:
    token = prompt_secret("邀请码")
    password = prompt_new_password()
    async with runtime.db.transaction() as session:
        enrolment = await invitations.accept_invitation(
            session,
            token,
            password,
            params=runtime.settings.password_kdf,
            pepper=runtime.secrets.pepper,
            pool=runtime.kdf_pool,
        )
    _print_recovery(enrolment)
    return 0


def _print_recovery(enrolment: invitations.Enrolment) -> None:
    print(f"{enrolment.username} 的密码已设置。恢复码（只显示一次，请抄写后妥善保管）：")
    print(f"  {enrolment.recovery_code}")


async def user_recover(runtime: Runtime, args: argparse.Namespace) -> int:
    if args.recovery_code:
        code = prompt_secret("恢复码")
        password = prompt_new_password()
        # The console's throttle and audit: a wrong code here counts as one at /recover does.
        enrolment = await recover_with_code_throttled(
            LoginThrottle(runtime), args.username, code, password
        )
        _print_recovery(enrolment)
        return 0
    escrow = read_escrow(runtime, args.escrow_key)
    async with runtime.db.transaction() as session:
        invitation, granted = await staff_admin.reissue_invitation(
            session, args.username, escrow=escrow, actor_id=None
        )
    state = "机构密钥已重新授权" if granted else "机构密钥待授权"
    print(f"已为 {args.username} 生成新密钥（{state}）。")
    print_invitation(runtime.settings, invitation)
    return 0


async def user_purge_invitations(runtime: Runtime, _args: argparse.Namespace) -> int:
    async with runtime.db.transaction() as session:
        purged = await invitations.purge_expired_invitations(session)
    for username in purged:
        print(f"已清除过期邀请：{username}")
    print(f"共清除 {len(purged)} 个过期邀请。", end="")
    print("重新邀请：`xuncha user recover USERNAME --reinvite`。" if purged else "")
    return 0


def _assignments(texts: list[str]) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for text in texts:
        group, units = rounds_admin.parse_assignment(text)
        table.setdefault(group, []).extend(units)
    return table


async def round_create(runtime: Runtime, args: argparse.Namespace) -> int:
    table = _assignments(args.assign)
    async with runtime.db.transaction() as session:
        round_ = await rounds_admin.create_round(
            session,
            args.name,
            rounds_admin.parse_round_kind(args.kind),
            args.start,
            args.end,
            table,
            actor_id=None,
        )
    print(f"已创建巡察轮次：{round_.name}（{round_.start_on} 至 {round_.end_on}）")
    for group, units in table.items():
        print(f"  {group}：{'、'.join(units)}")
    return 0


async def round_assign(runtime: Runtime, args: argparse.Namespace) -> int:
    table = _assignments(args.assign)
    async with runtime.db.transaction() as session:
        round_ = await rounds_admin.reassign_round(session, args.name, table, actor_id=None)
    started = "（轮次已开始，变更已记入审计）" if today() >= round_.start_on else ""
    print(f"已更新 {round_.name} 的分组{started}：")
    for group, units in table.items():
        print(f"  {group}：{'、'.join(units)}")
    return 0


async def recusal_add(runtime: Runtime, args: argparse.Namespace) -> int:
    async with runtime.db.transaction() as session:
        if args.unit:
            await recusals.add_unit_recusal(session, args.username, args.unit, actor_id=None)
            print(f"已添加回避：{args.username} 不再看到“{args.unit}”的案件。")
            return 0
        count = await recusals.add_person_recusal(
            session,
            args.username,
            args.person,
            unit_name=args.person_unit,
            index_key=runtime.secrets.index_key,
            actor_id=None,
        )
    print(f"已添加回避：{args.username} 不再看到反映该人员的案件（{count} 条索引）。")
    return 0


async def export_ledger_file(runtime: Runtime, args: argparse.Namespace) -> int:
    fmt = LedgerFormat(args.fmt)
    path: Path = args.output or Path(f"ledger-{today():%Y%m%d}.{fmt.value}")
    async with runtime.db.transaction() as session:
        data, cases = await export_ledger(session, fmt, actor_id=None)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise InvalidInput(f"无法写入 {path}：{exc.strerror}") from None
    print(f"台账已导出：{path}（{cases} 件）")
    return 0


HANDLERS: dict[tuple[str, str], Command] = {
    ("unit", "import"): unit_import,
    ("body", "add"): body_add,
    ("user", "add"): user_add,
    ("user", "disable"): user_disable,
    ("user", "reset-2fa"): user_reset_2fa,
    ("user", "email"): user_email,
    ("user", "join"): user_join,
    ("user", "list"): user_list,
    ("user", "pending"): user_pending,
    ("user", "grant"): user_grant,
    ("user", "accept"): user_accept,
    ("user", "recover"): user_recover,
    ("user", "purge-invitations"): user_purge_invitations,
    ("round", "create"): round_create,
    ("round", "assign"): round_assign,
    ("recusal", "add"): recusal_add,
    ("export", "ledger"): export_ledger_file,
    **cli_keys.HANDLERS,
}
