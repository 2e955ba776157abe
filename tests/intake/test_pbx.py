"""PBX voicemail and IVR status on the staff app: signatures, clock window, replays, no caller."""

from __future__ import annotations

import io
import json
import logging
import time
import wave
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette

from admin.app import create_app
from core.cases import (
    Channel,
    MessageKind,
    NewReport,
    Status,
    add_message,
    case_by_receipt,
    reporter_data_key,
)
from core.county import today
from core.models import Case
from core.runtime import Runtime
from core.settings import Secret, Settings
from crypto import format_receipt
from intake.pbx_auth import PBX_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from intake.pipeline import IntakePipeline
from tests.conftest import BACKENDS, make_settings
from tests.intake.sealed_case_reader import open_all_cases
from tests.intake.test_mailbox import REPORT_TEXT

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("fresh_database_url", BACKENDS, indirect=True),
]

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(1, 33))
CALLER = "13912345678"


@pytest.fixture
def settings(tmp_path: Path, fresh_database_url: str) -> Settings:
    return make_settings(
        tmp_path,
        fresh_database_url,
        pbx_secrets=(
            ("asterisk1", Secret(SECRET.hex())),
            ("asterisk2", Secret(OTHER_SECRET.hex())),
        ),
    )


@pytest.fixture
async def client(demo_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app: Starlette = create_app(demo_runtime.settings, demo_runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def recording(seconds: float = 1.5, *, with_metadata: bool = False) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(8000)
        target.writeframes(bytes(int(8000 * seconds) * 2))
    data = out.getvalue()
    if with_metadata:
        # A LIST/INFO chunk naming the caller, as some recorders write; RIFF size fixed up.
        info = b"INFOICMT" + len(CALLER).to_bytes(4, "little") + CALLER.encode() + b"\x00"
        chunk = b"LIST" + len(info).to_bytes(4, "little") + info
        data = data[:4] + (len(data) - 8 + len(chunk)).to_bytes(4, "little") + data[8:] + chunk
    return data


def multipart(fields: dict[str, str], audio: bytes | None) -> tuple[bytes, str]:
    boundary = "xuncha-test-boundary"
    lines: list[bytes] = []
    for name, value in fields.items():
        lines += [
            f"--{boundary}".encode(),
            f'Content-Disposition: form-data; name="{name}"'.encode(),
            b"",
            value.encode(),
        ]
    if audio is not None:
        lines += [
            f"--{boundary}".encode(),
            b'Content-Disposition: form-data; name="audio"; filename="msg0001.wav"',
            b"Content-Type: audio/wav",
            b"",
            audio,
        ]
    lines += [f"--{boundary}--".encode(), b""]
    return b"\r\n".join(lines), f"multipart/form-data; boundary={boundary}"


def signed(
    body: bytes,
    *,
    pbx: str = "asterisk1",
    secret: bytes = SECRET,
    at: float | None = None,
    content_type: str = "application/json",
) -> dict[str, str]:
    timestamp = int(time.time() if at is None else at)
    return {
        "content-type": content_type,
        PBX_HEADER: pbx,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


async def post_voicemail(
    client: httpx.AsyncClient, fields: dict[str, str], audio: bytes | None, **sign_args: object
) -> httpx.Response:
    body, content_type = multipart(fields, audio)
    headers = signed(body, content_type=content_type, **sign_args)  # type: ignore[arg-type]
    return await client.post("/api/v1/pbx/voicemail", content=body, headers=headers)


async def post_status(client: httpx.AsyncClient, receipt: str) -> httpx.Response:
    body = json.dumps({"receipt": receipt}).encode()
    return await client.post("/api/v1/pbx/status", content=body, headers=signed(body))


async def case_count(runtime: Runtime) -> int:
    async with runtime.db.reading() as session:
        return await session.scalar(select(func.count()).select_from(Case)) or 0


async def test_voicemail_creates_a_phone_case_with_a_clean_recording(
    client: httpx.AsyncClient, demo_runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await post_voicemail(client, {"category": "3"}, recording(with_metadata=True))
    assert response.status_code == 201, response.text
    answer = response.json()
    receipt = answer["receipt"]
    assert len(receipt) == 20
    assert receipt.isdigit()
    assert answer["receipt_spoken"].replace(" ", "").replace("，", "") == receipt
    assert answer["receipt_spoken"] in answer["speech"]
    [opened] = await open_all_cases(demo_runtime)
    assert opened.case.channel == "phone"
    assert "廉洁纪律" in opened.text
    [audio] = opened.attachments
    assert audio.meta["content_type"] == "audio/wav"
    assert CALLER.encode() not in audio.data  # the metadata chunk did not survive
    with wave.open(io.BytesIO(audio.data), "rb") as kept:
        assert kept.getnframes() == 12000
    assert CALLER not in caplog.text
    # The caller can then ask for the status by phone with the digits they were told.
    status = await post_status(client, format_receipt(receipt))
    assert status.status_code == 200
    assert status.json()["status"] == Status.RECEIVED.value
    assert "已提交" in status.json()["speech"]


async def test_a_caller_number_field_is_refused(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    response = await post_voicemail(client, {"callerid": CALLER}, recording())
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unknown_field"
    assert await case_count(demo_runtime) == 0


async def test_bad_signature_unknown_pbx_and_wrong_secret_are_refused(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    body, content_type = multipart({}, recording())
    headers = signed(body, content_type=content_type)
    tampered = await client.post(
        "/api/v1/pbx/voicemail", content=body.replace(b"\x00\x00", b"\x01\x00", 1), headers=headers
    )
    assert tampered.status_code == 401
    assert tampered.json()["error"]["code"] == "pbx_signature_invalid"
    wrong_secret = await post_voicemail(client, {}, recording(), secret=OTHER_SECRET)
    unknown_pbx = await post_voicemail(client, {}, recording(), pbx="rogue")
    for response in (wrong_secret, unknown_pbx):
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "pbx_signature_invalid"
    unsigned = await client.post("/api/v1/pbx/status", json={"receipt": "1" * 20})
    assert unsigned.status_code == 401
    assert await case_count(demo_runtime) == 0


async def test_stale_and_future_timestamps_are_refused(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    for skew in (-301, +301):
        response = await post_voicemail(client, {}, recording(), at=time.time() + skew)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "pbx_timestamp_stale"
    inside = await post_voicemail(client, {}, recording(), at=time.time() - 240)
    assert inside.status_code == 201
    assert await case_count(demo_runtime) == 1


async def test_a_replayed_request_is_refused_and_makes_no_second_case(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    body, content_type = multipart({"category": "integrity"}, recording())
    headers = signed(body, content_type=content_type)
    first = await client.post("/api/v1/pbx/voicemail", content=body, headers=headers)
    again = await client.post("/api/v1/pbx/voicemail", content=body, headers=headers)
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "pbx_replay"
    assert await case_count(demo_runtime) == 1


async def test_status_speaks_unknown_and_malformed_receipts(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    unknown = await post_status(client, "1234 5678 9012 3456 7890")
    assert unknown.status_code == 404
    assert unknown.json()["speech"].startswith("未找到")
    short = await post_status(client, "12345")
    assert short.status_code == 422
    assert "二十位" in short.json()["speech"]


async def test_status_counts_replies_to_the_reporter(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    pipeline = IntakePipeline(demo_runtime)
    receipt = await pipeline.submit(NewReport(Channel.PHONE, REPORT_TEXT))
    keys = await pipeline.derive(receipt)
    async with demo_runtime.db.transaction() as session:
        case = await case_by_receipt(session, keys)
        assert case is not None
        data_key = await reporter_data_key(session, case, keys)
        await add_message(
            session, case, data_key, MessageKind.FROM_HANDLER, "已收到，正在核实。", today=today()
        )
    answer = (await post_status(client, receipt)).json()
    assert answer["replies"] == 1
    assert "1 条答复" in answer["speech"]


async def test_wrong_audio_format_is_refused(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    response = await post_voicemail(client, {}, b"OggS\x00\x02not a wav")
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_audio"
    assert await case_count(demo_runtime) == 0


async def test_without_configured_secrets_the_endpoints_are_off(
    demo_runtime: Runtime,
) -> None:
    demo_runtime.settings = replace(demo_runtime.settings, pbx_secrets=())
    app = create_app(demo_runtime.settings, demo_runtime)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await post_status(http, "1" * 20)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "pbx_not_configured"


async def test_an_unknown_pbx_is_refused_before_its_body_is_read(
    client: httpx.AsyncClient, demo_runtime: Runtime
) -> None:
    sent: list[int] = []

    async def large_body() -> AsyncIterator[bytes]:
        for i in range(1600):  # 100 MiB, if anyone read it
            sent.append(i)
            yield bytes(64 * 1024)

    headers = {
        "content-type": "multipart/form-data; boundary=x",
        PBX_HEADER: "rogue",
        TIMESTAMP_HEADER: str(int(time.time())),
        SIGNATURE_HEADER: "0" * 64,
    }
    response = await client.post("/api/v1/pbx/voicemail", content=large_body(), headers=headers)
    assert response.status_code == 401
    assert len(sent) <= 1
