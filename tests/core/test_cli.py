"""`xuncha` start-up failures are one clear line; `serve` serves and stops on SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import XUNCHA, free_port, xuncha_env


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return xuncha_env(tmp_path / "data", **extra)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 — our own CLI, fixed arguments
        [*XUNCHA, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_bad_database_url_names_the_variable(tmp_path: Path) -> None:
    result = _run(["init"], _env(tmp_path, XUNCHA_DATABASE_URL="mysql://root@localhost/x"))
    _one_line_error(result, "XUNCHA_DATABASE_URL", "mysql")


def test_unparseable_bind_names_the_variable(tmp_path: Path) -> None:
    result = _run(["serve"], _env(tmp_path, XUNCHA_PUBLIC_BIND="localhost"))
    _one_line_error(result, "XUNCHA_PUBLIC_BIND")


def test_data_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    # Works as root too: no one can create a directory below a regular file.
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    result = _run(["init"], _env(tmp_path, XUNCHA_DATA_DIR=str(blocker / "data")))
    _one_line_error(result, "XUNCHA_")


def test_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = _run(["serve"], _env(tmp_path, XUNCHA_STAFF_BIND=f"127.0.0.1:{port}"))
    _one_line_error(result, "XUNCHA_STAFF_BIND", "already in use")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    public, staff = free_port(), free_port()
    env = _env(
        tmp_path,
        XUNCHA_PUBLIC_BIND=f"127.0.0.1:{public}",
        XUNCHA_STAFF_BIND=f"127.0.0.1:{staff}",
        XUNCHA_MAILBOX_BIND=f"127.0.0.1:{free_port()}",
    )
    process = subprocess.Popen(  # noqa: S603 — our own CLI
        [*XUNCHA, "serve", "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{staff}/healthz", timeout=1)
                break
            except OSError:
                if process.poll() is not None:
                    pytest.fail(process.stderr.read() if process.stderr else "serve exited")
                time.sleep(0.2)
        yield process, public, staff
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_serve_runs_both_apps_and_stops_on_sigterm(
    served: tuple[subprocess.Popen[str], int, int],
) -> None:
    process, public, staff = served
    for port in (public, staff):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            assert reply.status == 200
            assert json.loads(reply.read()) == {"status": "ok"}
            assert reply.headers["Server"] == "xuncha"
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - started < 10
    out = process.stdout.read() if process.stdout else ""
    assert f"127.0.0.1:{public}" in out
    assert f"127.0.0.1:{staff}" in out
