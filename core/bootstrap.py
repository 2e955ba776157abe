"""`xuncha init`: key file, schema, and (with --demo) the demo county. Idempotent."""

from __future__ import annotations

import secrets as token_source
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from core.db import Database
from core.demo import DEMO_MARK, load_demo_county
from core.errors import Conflict
from core.first_run import STRUCTURE_MARK, FirstAdmin, FirstRun, set_up_county
from core.invitations import Invitation
from core.keyfile import create_key_file, load_server_secrets
from core.models import Meta
from core.schema import init_lock, migrate
from core.settings import Settings
from crypto.argon import Argon2Params
from crypto.errors import KeyFormatError
from crypto.escrow import generate_escrow_key, read_escrow_armour
from crypto.keys import PublicKey
from crypto.server_secrets import ServerSecrets


@dataclass(frozen=True)
class InitReport:
    key_file_created: bool
    escrow_armour: str | None
    migrated: bool
    demo_loaded: bool
    demo_password: str | None
    # Without --demo (core.first_run): the structural bodies, and the first administrator.
    structure_created: bool = False
    admin_invitation: Invitation | None = None
    admin_missing: bool = False


async def initialise(
    settings: Settings,
    *,
    demo: bool,
    today: date | None = None,
    password_params: Argon2Params | None = None,
    first_admin: FirstAdmin | None = None,
    escrow_armour_on_disk: str | None = None,
) -> InitReport:
    escrow_armour = None
    if not settings.key_file.exists():
        ceremony = generate_escrow_key()
        created = create_key_file(settings.key_file, ServerSecrets.generate(ceremony.public))
        if created:
            escrow_armour = ceremony.armoured_private
    else:
        created = False
    secrets = load_server_secrets(settings.key_file)

    db = Database.from_url(settings.database_url.reveal())
    demo_loaded = False
    password = None
    first_run = None
    try:
        async with init_lock(db, settings.data_dir) as connection:
            migrated = await migrate(connection)
            if demo:
                password = (
                    settings.demo_password.reveal()
                    if settings.demo_password
                    else token_source.token_urlsafe(12)
                )
                async with db.transaction() as session:
                    if await session.get(Meta, STRUCTURE_MARK) is not None:
                        raise Conflict("该数据库已按正式县初始化，不能再加载示范县。")
                    result = await load_demo_county(
                        session,
                        escrow=secrets.escrow_public_key,
                        password=password,
                        password_params=password_params or settings.password_kdf,
                        today=today or date.today(),
                    )
                demo_loaded = result.loaded
            else:
                async with db.transaction() as session:
                    first_run = await _set_up_real_county(
                        session,
                        secrets.escrow_public_key,
                        first_admin,
                        escrow_armour or escrow_armour_on_disk,
                    )
    finally:
        await db.dispose()
    return InitReport(
        key_file_created=created,
        escrow_armour=escrow_armour,
        migrated=migrated,
        demo_loaded=demo_loaded,
        demo_password=password if demo_loaded and settings.demo_password is None else None,
        structure_created=bool(first_run and first_run.structure_created),
        admin_invitation=first_run.admin_invitation if first_run else None,
        admin_missing=bool(first_run and not first_run.admin_exists),
    )


async def _set_up_real_county(
    session: AsyncSession,
    escrow: PublicKey,
    first_admin: FirstAdmin | None,
    escrow_armour: str | None,
) -> FirstRun | None:
    """Without --demo: the structural bodies and the first admin (none on a demo database)."""
    if await session.get(Meta, DEMO_MARK) is not None:
        return None
    try:
        private = read_escrow_armour(escrow_armour) if escrow_armour else None
    except KeyFormatError:
        private = None  # a damaged custody file: the admin's office grant stays pending
    return await set_up_county(session, escrow=escrow, admin=first_admin, escrow_private=private)
