"""HTTP pieces both apps share: security headers, error responses, JSON bodies.

Neither app logs requests; errors are reported by type only, because an
exception's text can carry what a reporter typed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import InvalidInput, XunchaError

log = logging.getLogger("xuncha.web")

# No third-party origin anywhere, no inline script or style, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "connect-src 'self'"
)

BASE_HEADERS: Mapping[str, str] = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "pragma": "no-cache",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "permissions-policy": (
        "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
    ),
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "server": "xuncha",
}

HSTS = "max-age=63072000; includeSubDomains"


class SecurityHeaders:
    """Sets the headers above on every response; HSTS only when the request came over TLS."""

    def __init__(self, app: ASGIApp, *, onion_address: str | None = None) -> None:
        self.app = app
        self.onion_address = onion_address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"server", b"date")
                ]
                present = {k.lower() for k, _ in headers}
                for name, value in BASE_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                if secure:
                    headers.append((b"strict-transport-security", HSTS.encode()))
                if self.onion_address:
                    path = scope.get("path", "/")
                    location = f"http://{self.onion_address}{path}"
                    headers.append((b"onion-location", location.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def error_response(code: str, message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


async def xuncha_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, XunchaError)  # noqa: S101 — registered for this type only
    return error_response(exc.code, exc.message, exc.status)


HTTP_CODES = {
    400: ("bad_request", "请求格式不正确。"),
    403: ("forbidden", "没有权限。"),
    404: ("not_found", "未找到。"),
    405: ("method_not_allowed", "不支持该请求方法。"),
    413: ("too_large", "内容过大。"),
    415: ("unsupported_media_type", "不支持的内容类型。"),
}


async def http_error_handler(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 — registered for this type only
    code, message = HTTP_CODES.get(exc.status_code, ("error", "请求未能完成。"))
    return error_response(code, message, exc.status_code)


async def server_error_handler(_request: Request, exc: Exception) -> Response:
    # The type is enough to debug; the text might contain what a reporter typed.
    log.error("unhandled %s", type(exc).__name__)
    return error_response("internal", "服务器暂时无法处理，请稍后再试。", 500)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    XunchaError: xuncha_error_handler,
    HTTPException: http_error_handler,
    Exception: server_error_handler,
}


async def read_json(request: Request, *, max_bytes: int = 256 * 1024) -> dict[str, Any]:
    """Read a JSON object body, refusing non-JSON, oversized, invalid UTF-8 or non-objects."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise InvalidInput(
            "请以 application/json 提交。", code="unsupported_media_type", status=415
        )
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > max_bytes:
            raise InvalidInput("内容过大。", code="too_large", status=413)
    try:
        value = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidInput("JSON 格式不正确。", code="malformed_json") from None
    if not isinstance(value, dict):
        raise InvalidInput("请求体必须是 JSON 对象。", code="malformed_json")
    return value
