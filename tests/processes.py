"""Helpers for tests that run `xuncha` in a child process against loopback ports."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

XUNCHA = [sys.executable, "-m", "admin.cli"]


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def xuncha_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any XUNCHA_* of its own, a fresh data dir, the demo
    password the tests use and a cheap receipt KDF (production parameters are not under test)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}
    env.update(
        XUNCHA_DATA_DIR=str(data_dir),
        XUNCHA_DEMO_PASSWORD="demo-password-42",
        XUNCHA_RECEIPT_KDF_MEMORY_KIB="8192",
        XUNCHA_RECEIPT_KDF_ITERATIONS="1",
    )
    env.update(extra)
    return env
