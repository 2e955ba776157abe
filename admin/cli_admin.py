"""`xuncha` administration subcommands (SPEC §6): units, bodies, users, rounds, 回避, ledger, keys.

Each command runs one transaction against the configured database and prints what it changed.
Commands act as the operator of the server: their audit events carry no user id.
Secrets never pass through arguments (they would sit in the shell history and in ``ps``):
passwords and recovery codes are prompted for, the escrow key is read from a file.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import InvalidInput

# The parser is built for every `xuncha` call, `classify` included: the storage stack is
# imported only when an administration command actually runs.
if TYPE_CHECKING:
    from core.bootstrap import InitReport
    from core.first_run import FirstAdmin
    from core.invitations import Invitation
    from core.runtime import Runtime
    from core.settings import Settings
    from crypto import KeyPair

Command = Callable[["Runtime", argparse.Namespace], Awaitable[int]]
SECTIONS = ("unit", "body", "user", "round", "recusal", "export", "keys")
# core.county.BodyKind values (kept literal here so building the parser stays light).
BODY_KINDS = (
    "inspection_group",
    "office",
    "discipline_commission",
    "organization_department",
    "unit_party_org",
    "relevant_department",
    "leading_group",
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the administration subcommands to the ``xuncha`` parser."""
    unit = commands.add_parser("unit", help="被巡察单位").add_subparsers(
        dest="action", required=True
    )
    imp = unit.add_parser("import", help="import units from CSV or XLSX (名称, 类型, 别名)")
    imp.add_argument("file", type=Path)

    body = commands.add_parser("body", help="机构").add_subparsers(dest="action", required=True)
    add_body = body.add_parser("add", help="create a body with its keypair")
    add_body.add_argument("name")
    add_body.add_argument("--kind", required=True, choices=BODY_KINDS)
    add_body.add_argument("--unit", help="the unit of a 党组织 body")

    _register_users(commands)

    round_ = commands.add_parser("round", help="巡察轮次").add_subparsers(
        dest="action", required=True
    )
    create = round_.add_parser("create", help="create a round")
    create.add_argument("--name", required=True)
    create.add_argument("--type", dest="kind", required=True, help="常规 or 专项")
    create.add_argument("--start", required=True, type=date.fromisoformat)
    create.add_argument("--end", required=True, type=date.fromisoformat)
    create.add_argument("--assign", action="append", required=True, metavar="GROUP=UNIT[,UNIT…]")
    assign = round_.add_parser("assign", help="replace a round's group -> units table")
    assign.add_argument("name")
    assign.add_argument("--assign", action="append", required=True, metavar="GROUP=UNIT[,UNIT…]")

    recusal = commands.add_parser("recusal", help="回避").add_subparsers(
        dest="action", required=True
    )
    add_recusal = recusal.add_parser(
        "add", help="keep a user away from a unit's or a person's cases"
    )
    add_recusal.add_argument("username")
    target = add_recusal.add_mutually_exclusive_group(required=True)
    target.add_argument("--unit")
    target.add_argument("--person", help="the person's name (stored only as a blind index)")
    add_recusal.add_argument("--person-unit", help="the person's unit, for --person")

    export = commands.add_parser("export", help="台账").add_subparsers(dest="action", required=True)
    ledger = export.add_parser("ledger", help="the ledger of leads (metadata only)")
    ledger.add_argument("--format", dest="fmt", choices=["xlsx", "csv"], default="xlsx")
    ledger.add_argument("--output", type=Path, help="file to write (default ledger-DATE.FORMAT)")

    keys = commands.add_parser("keys", help="密钥").add_subparsers(dest="action", required=True)
    keys.add_parser("fingerprint", help="show the key file fingerprint and the escrow key id")
    rotate = keys.add_parser("rotate", help="new keypair for a body (old cases stay readable)")
    rotate.add_argument("body")
    keys.add_parser(
        "escrow-export", help="print the escrow private key once, with the custody checklist"
    )


def _register_users(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = commands.add_parser("user", help="工作人员").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", help="create a user and print a one-time invitation")
    add.add_argument("username")
    add.add_argument("--role", required=True, help="admin, member, leader or operator")
    add.add_argument("--body", help="the body the user belongs to (not for operators)")
    add.add_argument("--email", required=True)
    add.add_argument("--escrow-key", type=Path, help="escrow armour file: grant the body key now")
    for name, help_text in (
        ("disable", "refuse every login and end every session (the user stays in the audit)"),
        ("reset-2fa", "clear the TOTP secret; the user enrols again at the next login"),
    ):
        user.add_parser(name, help=help_text).add_argument("username")
    email = user.add_parser("email", help="set a user's notification address")
    email.add_argument("username")
    email.add_argument("email")
    join = user.add_parser("join", help="add a user to another body")
    join.add_argument("username")
    join.add_argument("--body", required=True)
    join.add_argument("--escrow-key", type=Path)
    user.add_parser("list", help="every user with role, bodies and state")
    user.add_parser("pending", help="members still waiting for their body's key")
    grant = user.add_parser("grant", help="complete pending key grants with the escrow key")
    grant.add_argument("--escrow-key", type=Path, required=True)
    user.add_parser("accept", help="accept an invitation here (prompts for code and password)")
    recover = user.add_parser("recover", help="a user who lost the password")
    recover.add_argument("username")
    how = recover.add_mutually_exclusive_group(required=True)
    how.add_argument("--recovery-code", action="store_true", help="prompt for the recovery code")
    how.add_argument("--escrow-key", type=Path, help="new keys and invitation via escrow")
    how.add_argument("--reinvite", action="store_true", help="new keys; grants become pending")
    user.add_parser(
        "purge-invitations",
        help="clear invitations that expired unused (the worker does it hourly)",
    )


async def dispatch(settings: Settings, args: argparse.Namespace) -> int:
    """Run one administration command; XunchaError propagates to the CLI's one-line report."""
    from admin import cli_admin_commands as commands
    from core.runtime import Runtime

    handler: Command = commands.HANDLERS[(args.command, args.action)]
    runtime = Runtime.open(settings)
    try:
        return await handler(runtime, args)
    finally:
        await runtime.close()


# --- shared helpers for the command modules --------------------------------------------------


def read_escrow(runtime: Runtime, path: Path | None) -> KeyPair | None:
    from core.body_keys import read_escrow_key

    if path is None:
        return None
    try:
        armour = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"无法读取托管私钥文件 {path}：{exc.strerror}") from None
    return read_escrow_key(armour, runtime.secrets)


def prompt_secret(label: str) -> str:
    if sys.stdin.isatty():
        return getpass.getpass(f"{label}: ")
    # Scripts pipe secrets on stdin, one per line, never as arguments.
    return sys.stdin.readline().rstrip("\n")


def prompt_new_password() -> str:
    first = prompt_secret("新密码（至少 12 个字符）")
    if sys.stdin.isatty() and prompt_secret("再输入一次") != first:
        raise InvalidInput("两次输入的密码不一致。")
    return first


def print_invitation(settings: Settings, invitation: Invitation) -> None:
    expires = invitation.expires_at.astimezone().strftime("%Y-%m-%d %H:%M")
    print(f"邀请码（只显示一次，请当面或经安全渠道交给 {invitation.username}）：")
    print(f"  {invitation.token}")
    print(f"有效期至 {expires}。")
    print(f"请用户打开 {settings.staff_console_url}invitation 输入邀请码并设置密码，")
    print("或在服务器上运行 `xuncha user accept`。")


# --- first run without --demo ----------------------------------------------------------------


def add_init_arguments(init: argparse.ArgumentParser) -> None:
    init.add_argument("--admin-username", help="first 巡察办 administrator (without --demo)")
    init.add_argument("--admin-email", help="their email address (prints a one-time invitation)")


def first_admin_from(args: argparse.Namespace | None) -> FirstAdmin | None:
    from core.first_run import FirstAdmin

    username = getattr(args, "admin_username", None)
    email = getattr(args, "admin_email", None)
    if bool(username) != bool(email):
        raise InvalidInput("--admin-username 与 --admin-email 需同时给出。")
    return FirstAdmin(username, email) if username and email else None


async def after_init(
    settings: Settings, report: InitReport, *, interactive: bool, custody: str | None
) -> None:
    """Report the structure and the first administrator; ask for one on a terminal."""
    from core.first_run import STRUCTURAL_BODIES

    if report.structure_created:
        print(
            f"已创建机构：{'、'.join(name for name, _ in STRUCTURAL_BODIES)}（各自生成密钥并托管）"
        )
    if report.admin_invitation is not None:
        print_invitation(settings, report.admin_invitation)
    elif report.admin_missing and interactive and sys.stdin.isatty():
        await _ask_for_first_admin(settings, custody)
    elif report.admin_missing:
        print("尚无管理员：运行 `xuncha init --admin-username NAME --admin-email EMAIL`。")
    print("密钥仪式与托管私钥的保管步骤：docs/key-ceremony.md")


async def _ask_for_first_admin(settings: Settings, custody: str | None) -> None:
    from core.bootstrap import initialise
    from core.first_run import FirstAdmin
    from core.invitations import accept_invitation, check_new_password
    from core.runtime import Runtime

    print("创建第一个县委巡察办管理员。")
    admin = FirstAdmin(input("用户名: ").strip(), input("邮箱: ").strip())
    password = prompt_new_password()
    check_new_password(password)  # before the account exists, so a typo costs nothing
    report = await initialise(
        settings, demo=False, first_admin=admin, escrow_armour_on_disk=custody
    )
    if report.admin_invitation is None:  # pragma: no cover - another process was faster
        print("管理员已由另一进程创建。")
        return
    runtime = Runtime.open(settings)
    try:
        async with runtime.db.transaction() as session:
            enrolment = await accept_invitation(
                session,
                report.admin_invitation.token,
                password,
                params=settings.password_kdf,
                pepper=runtime.secrets.pepper,
                pool=runtime.kdf_pool,
            )
    finally:
        await runtime.close()
    print(f"已创建管理员 {enrolment.username}。恢复码（只显示一次，请抄写后妥善保管）：")
    print(f"  {enrolment.recovery_code}")
