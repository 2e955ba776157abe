"""The PBX endpoints (电话 channel, automated), mounted on the staff app (SPEC §6).

``POST /api/v1/pbx/voicemail`` — multipart/form-data with the recording (field ``audio``,
PCM WAV) and optionally the category the caller chose by DTMF (field ``category``: ``1``–``6``
in the order of the 六项纪律, or a discipline key). Creates a phone case with the sealed
recording and answers ``201 {"receipt", "receipt_spoken", "speech"}`` for the IVR to read out.

``POST /api/v1/pbx/status`` — JSON ``{"receipt"}`` with the digits the caller keyed in →
``{"status", "status_label", "updated_on", "replies", "speech"}``; unknown receipt → 404 and a
malformed one → 422, both with a ``speech`` sentence for text-to-speech.

Both need the HMAC headers of :mod:`intake.pbx_auth`. The caller's number is never accepted:
a request carrying any field other than the ones above is refused, so a dialplan cannot
send the number by mistake, and nothing here logs anything about the call.
"""

from __future__ import annotations

import asyncio
import email
import json
import logging
from dataclasses import dataclass
from email.message import Message

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from core.cases import REPORTER_LABELS, Channel, MessageKind, NewReport
from core.errors import InvalidInput, NotFound, XunchaError
from core.runtime import Runtime
from crypto import ReceiptFormatError
from intake.pbx_auth import PbxGate
from intake.pipeline import Draft, IntakePipeline
from intake.sealed_files import DraftFiles
from intake.voicemail_audio import clean_recording
from routing import Discipline

log = logging.getLogger("xuncha.pbx")

FORM_OVERHEAD = 64 * 1024
STATUS_BODY_LIMIT = 4 * 1024
VOICEMAIL_FIELDS = frozenset({"audio", "category"})
DTMF_CATEGORIES = dict(zip("123456", list(Discipline), strict=True))

SPEECH_NOT_FOUND = "未找到该查询码对应的举报，请核对后重新输入。"
SPEECH_BAD_RECEIPT = "查询码应为二十位数字，请重新输入。"


class PbxNotConfigured(XunchaError):
    code = "pbx_not_configured"
    status = 503


@dataclass(frozen=True)
class FormPart:
    filename: str | None
    data: bytes


def pbx_gate(request: Request) -> PbxGate:
    """The app's gate (secrets and replay memory), made on first use."""
    state = request.app.state
    gate: PbxGate | None = getattr(state, "pbx_gate", None)
    if gate is None:
        gate = state.pbx_gate = PbxGate.from_settings(runtime_of(request).settings)
    if not gate.configured:
        raise PbxNotConfigured("未配置 XUNCHA_PBX_SECRETS，电话系统接口未启用。")
    return gate


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def read_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise InvalidInput("内容过大。", code="too_large", status=413)
    return bytes(body)


def form_parts(content_type: str, body: bytes) -> dict[str, FormPart]:
    """Parse multipart/form-data in memory (Starlette would spool large files to disk in clear)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise InvalidInput(
            "请以 multipart/form-data 提交。", code="unsupported_media_type", status=415
        )
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.message_from_bytes(header + body)
    if not message.is_multipart() or message.defects:
        raise InvalidInput("表单格式不正确。", code="malformed_form")
    parts: dict[str, FormPart] = {}
    for part in message.get_payload():
        assert isinstance(part, Message)  # noqa: S101 — a multipart payload is a list of parts
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in parts:
            raise InvalidInput("表单格式不正确。", code="malformed_form")
        payload = part.get_payload(decode=True)
        parts[name] = FormPart(part.get_filename(), payload if isinstance(payload, bytes) else b"")
    unknown = sorted(set(parts) - VOICEMAIL_FIELDS)
    if unknown:
        # Notably a caller number: we do not take it, even by mistake.
        raise InvalidInput(f"不支持的字段：{', '.join(unknown)[:200]}", code="unknown_field")
    return parts


def chosen_category(part: FormPart | None) -> Discipline | None:
    value = part.data.decode("ascii", errors="replace").strip() if part else ""
    if not value or value == "0":
        return None
    if value in DTMF_CATEGORIES:
        return DTMF_CATEGORIES[value]
    try:
        return Discipline(value)
    except ValueError:
        raise InvalidInput("问题类别不正确。", code="invalid_category") from None


def voicemail_text(seconds: float, category: Discipline | None) -> str:
    duration = max(1, round(seconds))
    text = f"【电话留言】来电者通过举报电话语音信箱留言，录音见附件（时长约 {duration} 秒）。"
    if category is not None:
        text += f"来电者按键选择的问题类别：{category.label}。"
    return text


def spoken_digits(receipt: str) -> str:
    """Digits one by one, groups of four separated by a pause (comma) for text-to-speech."""
    return "，".join(" ".join(receipt[i : i + 4]) for i in range(0, len(receipt), 4))


async def voicemail(request: Request) -> JSONResponse:
    gate = pbx_gate(request)
    gate.precheck(request.headers)
    runtime = runtime_of(request)
    body = await read_body(request, runtime.settings.max_attachment_bytes + FORM_OVERHEAD)
    gate.verify(request.headers, body)
    parts = form_parts(request.headers.get("content-type", ""), body)
    del body
    audio = parts.get("audio")
    if audio is None or not audio.data:
        raise InvalidInput("缺少录音（字段 audio）。", code="missing_audio")
    category = chosen_category(parts.get("category"))
    recording = await asyncio.to_thread(clean_recording, audio.data)
    report = NewReport(
        Channel.PHONE, voicemail_text(recording.seconds, category), category_hint=category
    )
    draft = Draft()
    limit = runtime.settings.max_attachment_bytes
    async with DraftFiles(draft, max_file_bytes=limit) as files:
        await files.add("电话留言.wav", "audio/wav", recording.wav)
        receipt = await IntakePipeline(runtime).submit(report, draft)
    spoken = spoken_digits(receipt)
    speech = f"您的留言已受理。您的查询码是：{spoken}。请记下查询码，凭它可以查询办理进度。"
    return JSONResponse(
        {"receipt": receipt, "receipt_spoken": spoken, "speech": speech}, status_code=201
    )


async def status(request: Request) -> JSONResponse:
    gate = pbx_gate(request)
    gate.precheck(request.headers)
    body = await read_body(request, STATUS_BODY_LIMIT)
    gate.verify(request.headers, body)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("JSON 格式不正确。", code="malformed_json") from None
    receipt = data.get("receipt") if isinstance(data, dict) else None
    if not isinstance(receipt, str):
        return _speech_error("invalid_receipt", SPEECH_BAD_RECEIPT, 422)
    try:
        view = await IntakePipeline(runtime_of(request)).reporter_view(receipt)
    except ReceiptFormatError:
        return _speech_error("invalid_receipt", SPEECH_BAD_RECEIPT, 422)
    except NotFound:
        return _speech_error("not_found", SPEECH_NOT_FOUND, 404)
    label = REPORTER_LABELS[view.status]
    replies = sum(1 for m in view.messages if m.kind is MessageKind.FROM_HANDLER)
    year, month, day = view.updated_on.split("-")
    speech = f"您的举报当前状态：{label}。最近更新日期：{int(year)}年{int(month)}月{int(day)}日。"
    if replies:
        speech += f"您有 {replies} 条答复，请凭查询码在举报网站的查询页面阅读。"
    return JSONResponse(
        {
            "status": view.status.value,
            "status_label": label,
            "updated_on": view.updated_on,
            "replies": replies,
            "speech": speech,
        }
    )


def _speech_error(code: str, message: str, status_code: int) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message}, "speech": message}, status_code=status_code
    )


routes: list[BaseRoute] = [
    Route("/api/v1/pbx/voicemail", voicemail, methods=["POST"]),
    Route("/api/v1/pbx/status", status, methods=["POST"]),
]
