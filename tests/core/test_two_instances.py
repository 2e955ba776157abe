"""Two `xuncha serve` processes on one PostgreSQL database and one key file serve the same data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import free_port

pytestmark = pytest.mark.anyio


def _post(url: str, payload: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310 — loopback test server
        url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_healthy(process: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("xuncha serve did not start")
            time.sleep(0.3)


@pytest.mark.parametrize("fresh_database_url", ["postgresql"], indirect=True)
async def test_two_instances_share_cases_and_keys(fresh_database_url: str, tmp_path: Path) -> None:
    shared_key_file = tmp_path / "shared.keys"
    processes: list[subprocess.Popen[bytes]] = []
    publics = []
    try:
        for n in range(2):
            public = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}
            env.update(
                XUNCHA_DATA_DIR=str(tmp_path / f"instance{n}"),
                XUNCHA_DATABASE_URL=fresh_database_url,
                XUNCHA_KEY_FILE=str(shared_key_file),
                XUNCHA_DEMO_PASSWORD="demo-password-42",
                XUNCHA_PUBLIC_BIND=f"127.0.0.1:{public}",
                XUNCHA_STAFF_BIND=f"127.0.0.1:{free_port()}",
                XUNCHA_MAILBOX_BIND=f"127.0.0.1:{free_port()}",
                XUNCHA_RECEIPT_KDF_MEMORY_KIB="8192",
                XUNCHA_RECEIPT_KDF_ITERATIONS="1",
            )
            # Both start together: init must neither duplicate the demo county nor the keys.
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "admin.cli", "serve", "--demo"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            publics.append(f"http://127.0.0.1:{public}")
        for process, base in zip(processes, publics, strict=True):
            _wait_healthy(process, f"{base}/healthz")

        status, created = _post(
            f"{publics[0]}/api/v1/reports", {"text": "青山镇镇长李某某违规接受宴请并收受购物卡。"}
        )
        assert status == 201
        receipt = str(created["receipt"])
        status, seen = _post(f"{publics[1]}/api/v1/receipts/status", {"receipt": receipt})
        assert status == 200
        assert seen["status"] == "received"
        status, _ = _post(
            f"{publics[1]}/api/v1/receipts/messages", {"receipt": receipt, "text": "补充材料"}
        )
        assert status == 201
        status, seen = _post(f"{publics[0]}/api/v1/receipts/status", {"receipt": receipt})
        assert [m["text"] for m in seen["messages"]] == ["补充材料"]  # type: ignore[index]
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
