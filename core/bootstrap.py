"""`xuncha init`: key file, schema, and (with --demo) the demo county. Idempotent."""

from __future__ import annotations

import secrets as token_source
from dataclasses import dataclass
from datetime import date

from core.db import Database
from core.demo import load_demo_county
from core.keyfile import create_key_file, load_server_secrets
from core.schema import init_lock, migrate
from core.settings import Settings
from crypto.argon import Argon2Params
from crypto.escrow import generate_escrow_key
from crypto.server_secrets import ServerSecrets


@dataclass(frozen=True)
class InitReport:
    key_file_created: bool
    escrow_armour: str | None
    migrated: bool
    demo_loaded: bool
    demo_password: str | None


async def initialise(
    settings: Settings,
    *,
    demo: bool,
    today: date | None = None,
    password_params: Argon2Params | None = None,
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
                    result = await load_demo_county(
                        session,
                        escrow=secrets.escrow_public_key,
                        password=password,
                        password_params=password_params or settings.password_kdf,
                        today=today or date.today(),
                    )
                demo_loaded = result.loaded
    finally:
        await db.dispose()
    return InitReport(
        key_file_created=created,
        escrow_armour=escrow_armour,
        migrated=migrated,
        demo_loaded=demo_loaded,
        demo_password=password if demo_loaded and settings.demo_password is None else None,
    )
