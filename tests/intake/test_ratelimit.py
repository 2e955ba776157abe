"""Abuse limits held in memory: per-client budgets under a rotating HMAC key, a global throttle,
equal timing for right and wrong receipts, and CSRF tokens that expire."""

from __future__ import annotations

import time
from dataclasses import replace

import httpx
import pytest
from starlette.applications import Starlette

from core.runtime import Runtime
from intake.csrf import CsrfFailed, CsrfTokens
from intake.ratelimit import Limits, RateLimited, RateLimiter
from tests.conftest import BACKENDS

LIMITS = Limits(submissions_per_hour=2, failed_checks_per_hour=3, failed_checks_per_minute=5)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_submissions_are_limited_per_client_and_reset_with_the_window() -> None:
    clock = Clock()
    limiter = RateLimiter(LIMITS, clock)
    limiter.take_submission("198.51.100.1")
    limiter.take_submission("198.51.100.1")
    with pytest.raises(RateLimited) as caught:
        limiter.take_submission("198.51.100.1")
    assert caught.value.status == 429
    limiter.take_submission("198.51.100.2")  # another client has its own budget
    clock.now += 3601
    limiter.take_submission("198.51.100.1")


def test_addresses_are_never_held_only_rotating_tags() -> None:
    clock = Clock()
    limiter = RateLimiter(LIMITS, clock)
    limiter.take_submission("198.51.100.77")
    first_key = limiter.submissions.key
    [tag] = limiter.submissions.counts
    assert b"198.51.100.77" not in tag
    assert "198.51.100.77" not in repr(vars(limiter.submissions))
    clock.now += 3601
    limiter.take_submission("198.51.100.77")
    assert limiter.submissions.key != first_key
    assert tag not in limiter.submissions.counts  # yesterday's pseudonym is gone


def test_failed_checks_are_reserved_before_the_kdf_and_refunded_when_right() -> None:
    limiter = RateLimiter(replace(LIMITS, submissions_per_hour=100), Clock())
    for _ in range(10):
        limiter.reserve_failed_check("198.51.100.1").refund()  # right receipts never fail
    held = [limiter.reserve_failed_check("198.51.100.1") for _ in range(3)]
    with pytest.raises(RateLimited):
        limiter.reserve_failed_check("198.51.100.1")
    for reservation in held:
        reservation.keep()
        reservation.refund()  # settled once: a later refund changes nothing
    with pytest.raises(RateLimited):
        limiter.reserve_failed_check("198.51.100.1")


def test_every_check_spends_the_shared_kdf_budget() -> None:
    limiter = RateLimiter(LIMITS, Clock())
    limiter.take_submission("198.51.100.1")
    limiter.reserve_failed_check("198.51.100.1").refund()  # a right receipt: no failure, one KDF
    with pytest.raises(RateLimited):
        limiter.reserve_failed_check("198.51.100.1")
    with pytest.raises(RateLimited):
        limiter.take_submission("198.51.100.1")


def test_global_throttle_stops_a_distributed_guesser() -> None:
    clock = Clock()
    limiter = RateLimiter(LIMITS, clock)
    for i in range(5):
        limiter.reserve_failed_check(f"198.51.100.{i}").keep()
    with pytest.raises(RateLimited) as caught:
        limiter.reserve_failed_check("198.51.100.200")
    assert "一分钟" in caught.value.message
    clock.now += 61
    limiter.reserve_failed_check("198.51.100.200")


def test_csrf_tokens_expire_and_survive_key_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = b"o" * 32, b"n" * 32
    issued_before_rotation = CsrfTokens([old]).issue("report")
    rotated = CsrfTokens([new, old])
    rotated.check("report", issued_before_rotation)
    with pytest.raises(CsrfFailed):
        rotated.check("status", issued_before_rotation)
    with pytest.raises(CsrfFailed):
        CsrfTokens([new]).check("report", issued_before_rotation)
    fresh = rotated.issue("report")
    real = time.time()
    monkeypatch.setattr(time, "time", lambda: real + 7 * 3600)
    rotated.check("report", fresh)  # a slow upload over Tor still gets through
    monkeypatch.setattr(time, "time", lambda: real + 9 * 3600)
    with pytest.raises(CsrfFailed):
        rotated.check("report", fresh)


@pytest.mark.anyio
@pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True)
async def test_app_answers_429_when_a_client_keeps_guessing(
    app: Starlette, demo_runtime: Runtime
) -> None:
    channel = app.state.channel
    channel.limiter.limits = replace(LIMITS, submissions_per_hour=4, failed_checks_per_hour=2)
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for _ in range(2):
            miss = await http.post("/api/v1/receipts/status", json={"receipt": "9" * 20})
            assert miss.status_code == 404
        blocked = await http.post("/api/v1/receipts/status", json={"receipt": "9" * 20})
        assert blocked.status_code == 429
        assert blocked.json()["error"]["code"] == "rate_limited"
        for _ in range(2):  # the two misses spent two of the four KDF uses of this hour
            assert (
                await http.post("/api/v1/reports", json={"text": "反映问题"})
            ).status_code == 201
        assert (await http.post("/api/v1/reports", json={"text": "反映问题"})).status_code == 429
    other = httpx.ASGITransport(app=app, client=("198.51.100.10", 1234))
    async with httpx.AsyncClient(transport=other, base_url="http://testserver") as http:
        assert (await http.post("/api/v1/reports", json={"text": "反映问题"})).status_code == 201


@pytest.mark.anyio
@pytest.mark.parametrize("fresh_database_url", ["sqlite"], indirect=True)
async def test_a_wrong_receipt_takes_as_long_as_a_right_one(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    app.state.channel.gate.floor_seconds = 0.3
    receipt = (await client.post("/api/v1/reports", json={"text": "反映问题"})).json()["receipt"]

    async def timed(value: str) -> tuple[int, float]:
        started = time.perf_counter()
        response = await client.post("/api/v1/receipts/status", json={"receipt": value})
        return response.status_code, time.perf_counter() - started

    results = [await timed(v) for v in [receipt, "8" * 20, receipt, "7" * 20]]
    assert [status for status, _ in results] == [200, 404, 200, 404]
    durations = [duration for _, duration in results]
    assert min(durations) >= 0.3
    assert max(durations) - min(durations) < 0.1
