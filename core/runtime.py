"""What a running process holds: settings, the database, the server secrets, the KDF pool.

Created once per process by the CLI (or by an app's lifespan when the app
runs alone) and handed to both apps, the mailbox and the worker.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from core.db import Database
from core.keyfile import load_server_secrets
from core.registry_store import RegistryCache
from core.settings import Settings
from crypto.server_secrets import ServerSecrets


@dataclass
class Runtime:
    settings: Settings
    db: Database
    secrets: ServerSecrets
    # Argon2id runs here, off the event loop: bounded to the cores, because a
    # larger pool only adds memory and contention (SPEC §3).
    kdf_pool: ThreadPoolExecutor = field(init=False)
    registry_cache: RegistryCache = field(init=False)

    def __post_init__(self) -> None:
        self.registry_cache = RegistryCache(self.settings.registry_cache_seconds)
        self.kdf_pool = ThreadPoolExecutor(
            max_workers=self.settings.kdf_workers, thread_name_prefix="kdf"
        )

    @classmethod
    def open(cls, settings: Settings) -> Runtime:
        return cls(
            settings,
            Database.from_url(settings.database_url.reveal()),
            load_server_secrets(settings.key_file),
        )

    async def close(self) -> None:
        self.kdf_pool.shutdown(wait=False, cancel_futures=True)
        await self.db.dispose()
