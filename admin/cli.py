"""The `xuncha` command line (SPEC §6).

Every failure the operator can fix ends in one line on stderr naming what
to fix, and exit status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from admin import cli_admin, notify_cli
from core.errors import XunchaError
from core.settings import Bind, Settings

DEMO_MAILBOX = Bind("127.0.0.1", 8025)
DEMO_MAILBOX_ADDRESS = "jubao@xuncha.local"
ESCROW_CUSTODY_FILE = "escrow-private-key.txt"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xuncha", description="巡察信访举报受理与分办")
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser("init", help="create or migrate the schema and keys")
    init.add_argument("--demo", action="store_true", help="load the demo county (示范县)")
    cli_admin.add_init_arguments(init)

    serve = commands.add_parser("serve", help="serve both apps, the mailbox and the worker")
    serve.add_argument("--demo", action="store_true", help="init with the demo county first")

    commands.add_parser("classify", help="route JSON lines from stdin to stdout (no database)")

    audit = commands.add_parser("audit", help="the audit log")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser(
        "verify", help="check the hash chain; exit 1 naming the first bad event"
    )
    cli_admin.register(commands)
    notify_cli.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Files we create (database, key file, custody file) are for this user only.
    os.umask(0o077)
    try:
        if args.command == "classify":
            from admin.classify_cli import classify_stream

            return classify_stream(sys.stdin, sys.stdout)
        settings = Settings.from_env()
        if args.command == "init":
            return asyncio.run(_init(settings, demo=args.demo, args=args))
        if args.command in cli_admin.SECTIONS:
            return asyncio.run(cli_admin.dispatch(settings, args))
        if args.command == "serve":
            return asyncio.run(_serve(settings, demo=args.demo))
        if args.command == "audit":
            return asyncio.run(_audit_verify(settings))
        if args.command == "notify":
            return asyncio.run(notify_cli.run(settings, args))
    except XunchaError as exc:
        print(f"xuncha: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0  # pragma: no cover - argparse rejects unknown commands


def _with_demo_mailbox(settings: Settings) -> Settings:
    return replace(
        settings,
        mailbox_bind=settings.mailbox_bind or DEMO_MAILBOX,
        mailbox_addresses=settings.mailbox_addresses or (DEMO_MAILBOX_ADDRESS,),
    )


async def _init(settings: Settings, *, demo: bool, args: argparse.Namespace | None = None) -> int:
    from core.bootstrap import initialise

    custody_text = _custody_text(settings)
    report = await initialise(
        settings,
        demo=demo,
        first_admin=cli_admin.first_admin_from(args),
        escrow_armour_on_disk=custody_text,
    )
    if report.key_file_created:
        print(f"created key file {settings.key_file} (mode 0600)")
    if report.escrow_armour is not None:
        custody = _write_custody_file(settings.data_dir / ESCROW_CUSTODY_FILE, report.escrow_armour)
        print(
            f"escrow private key written to {custody}: print it for offline custody with "
            "`xuncha keys escrow-export`, which then deletes the file (docs/key-ceremony.md)"
        )
    print("schema migrated" if report.migrated else "schema up to date")
    if demo:
        print("demo county loaded" if report.demo_loaded else "demo county already present")
        if report.demo_password is not None:
            print(f"demo password (shown once): {report.demo_password}")
    else:
        # Interactive only for `xuncha init` itself, never for `serve`.
        await cli_admin.after_init(
            settings,
            report,
            interactive=args is not None,
            custody=custody_text or report.escrow_armour,
        )
    return 0


def _custody_text(settings: Settings) -> str | None:
    try:
        return (settings.data_dir / ESCROW_CUSTODY_FILE).read_text(encoding="utf-8")
    except OSError:
        return None


def _write_custody_file(path: Path, armour: str) -> Path:
    # With PostgreSQL and the key file elsewhere, nothing else may have made the data dir yet.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(armour)
    return path


async def _audit_verify(settings: Settings) -> int:
    from core.audit import verify_audit_chain
    from core.db import Database

    db = Database.from_url(settings.database_url.reveal())
    try:
        async with db.reading() as session:
            verdict = await verify_audit_chain(session)
    finally:
        await db.dispose()
    print(verdict.describe(), file=sys.stdout if verdict.intact else sys.stderr)
    return 0 if verdict.intact else 1


async def _serve(settings: Settings, *, demo: bool) -> int:
    from admin.serve import check_free, run

    check_free("XUNCHA_PUBLIC_BIND", settings.public_bind)
    check_free("XUNCHA_STAFF_BIND", settings.staff_bind)
    if demo:
        settings = _with_demo_mailbox(settings)
    await _init(settings, demo=demo)
    await run(settings)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
