"""The key file: server secrets that must never sit in the database (SPEC §3, §6).

Created once, atomically and with mode 0600, by whichever instance gets
there first; later instances (and later runs) only read it, so two
processes starting together never replace each other's keys.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from core.errors import ConfigError
from crypto.errors import CryptoError
from crypto.server_secrets import ServerSecrets

VARIABLE = "XUNCHA_KEY_FILE"


def load_server_secrets(path: Path) -> ServerSecrets:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(VARIABLE, f"{path} does not exist; run `xuncha init` first") from None
    except OSError as exc:
        raise ConfigError(VARIABLE, f"cannot read {path}: {exc.strerror}") from None
    try:
        return ServerSecrets.from_json(text)
    except (CryptoError, ValueError):
        raise ConfigError(VARIABLE, f"{path} is not a valid key file") from None


def create_key_file(path: Path, secrets: ServerSecrets) -> bool:
    """Write ``secrets`` to ``path`` unless it exists; return True when this call created it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(VARIABLE, f"cannot create {path.parent}: {exc.strerror}") from None
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.to_json())
            handle.flush()
            os.fsync(handle.fileno())
        # link() fails if the file appeared meanwhile: the first writer wins.
        os.link(temporary, path)
    except FileExistsError:
        return False
    except OSError as exc:
        raise ConfigError(VARIABLE, f"cannot write {path}: {exc.strerror}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return True
