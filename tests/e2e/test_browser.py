"""End to end in Debian's Chromium: a reporter with JavaScript off, then the inspection group.

The pages must work in Tor Browser's safest mode, so the reporter's browser runs with
JavaScript disabled. The whole service runs as `xuncha serve --demo` in a child process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processes import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "browser-demo-password"
TEXT = "县教育局基建股股长王某某收受工程老板红包两万元，帮其拿到学校食堂改造工程。"

pytestmark = pytest.mark.browser


@dataclass(frozen=True)
class Service:
    public: str
    staff: str


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("Debian chromium is required for the browser tests (.ci/run installs it)")
        pytest.skip("chromium is not installed")
    data = tmp_path_factory.mktemp("browser")
    public, staff = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XUNCHA_")}
    env.update(
        XUNCHA_DATA_DIR=str(data),
        XUNCHA_DEMO_PASSWORD=PASSWORD,
        XUNCHA_PUBLIC_BIND=f"127.0.0.1:{public}",
        XUNCHA_STAFF_BIND=f"127.0.0.1:{staff}",
        XUNCHA_MAILBOX_BIND=f"127.0.0.1:{free_port()}",
        XUNCHA_RECEIPT_KDF_MEMORY_KIB="8192",
        XUNCHA_RECEIPT_KDF_ITERATIONS="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "admin.cli", "serve", "--demo"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{public}/healthz", timeout=1)
                urllib.request.urlopen(f"http://127.0.0.1:{staff}/healthz", timeout=1)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("xuncha serve did not start")
                time.sleep(0.3)
        # The staff cookie is Secure and __Host-: Chromium accepts it over plain HTTP from
        # loopback, which it treats as a secure origin (so `make run` works as printed).
        yield Service(f"http://127.0.0.1:{public}", f"http://127.0.0.1:{staff}")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def test_reporter_without_javascript_then_group_reads_the_case(
    service: Service, browser: object, tmp_path: Path
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(browser, Browser)
    reporter = browser.new_context(java_script_enabled=False, locale="zh-CN")
    page = reporter.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(f"{service.public}/")
    expect(page.locator("body")).to_contain_text("网络")
    page.goto(f"{service.public}/report")
    page.fill("#accused_name", "王某某")
    page.fill("#accused_unit", "县教育局")
    page.fill("#accused_position", "基建股股长")
    page.fill("#text", TEXT)
    evidence = tmp_path / "证据.txt"
    evidence.write_text("转账记录", encoding="utf-8")
    page.set_input_files("#attachments", str(evidence))
    page.click("form.form button[type=submit]")
    receipt_text = page.locator(".receipt").inner_text()
    assert re.fullmatch(r"\d{4}( \d{4}){4}", receipt_text.strip())
    assert receipt_text.replace(" ", "") not in page.url

    page.goto(f"{service.public}/status")
    page.fill("#receipt", receipt_text)
    page.click("form.form button[type=submit]")
    expect(page.locator(".status strong")).to_have_text("已提交")

    # The style sheet is served by the app itself; nothing is fetched from anywhere else.
    assert all(url.startswith(service.public) for url in requests), requests
    reporter.close()

    staff = browser.new_context(locale="zh-CN")
    console = staff.new_page()
    console.goto(f"{service.staff}/login")
    console.fill("input[name=username]", "group1")
    console.fill("input[name=password]", PASSWORD)
    console.click("form button[type=submit]")
    console.goto(f"{service.staff}/")
    expect(console.locator("body")).to_contain_text("廉洁纪律")
    console.locator("a[href^='/cases/']").first.click()
    expect(console.locator("body")).to_contain_text(TEXT)
    staff.close()
