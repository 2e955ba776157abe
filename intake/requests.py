"""Small request helpers for the public app.

The client address is read only to key the in-memory rate limits (as an HMAC,
see ratelimit.py); it is never stored, logged or rendered.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from core.errors import Forbidden, InvalidInput, XunchaError

Endpoint = Callable[[Request], Awaitable[Response]]
MAX_URLENCODED = 64 * 1024


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def refuse_cross_site(request: Request) -> None:
    """Browsers that send Fetch Metadata say when another site made them post here.

    API clients (scripts, apps) send no such header and are unaffected; a page elsewhere
    cannot use its visitors' browsers to post reports or guess receipts.
    """
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("不接受来自其他网站的提交。", code="cross_site")


async def discard_rest(request: Request) -> None:
    """Read and drop what is left of a refused body, so the client hears why it was refused.

    A client still sending when the server answers and closes sees a reset, not the 413
    or 422 it should read. Draining is bounded: past one attachment's worth the connection
    is closed anyway.
    """
    limit = request.app.state.settings.max_attachment_bytes + 1024 * 1024
    drained = 0
    try:
        async for chunk in request.stream():
            drained += len(chunk)
            if drained > limit:
                return
    except ClientDisconnect:
        return
    except RuntimeError:  # Starlette: the body was already read to its end
        return


def reads_body(endpoint: Endpoint) -> Endpoint:
    """For endpoints that read a body: drain it after a refusal; survive a client gone away.

    A client gone mid-upload: nothing was stored and nobody is listening; no error, no log.
    """

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            response = await endpoint(request)
        except ClientDisconnect:
            return Response(status_code=400)
        except XunchaError:
            await discard_rest(request)
            raise
        if response.status_code >= 400:
            await discard_rest(request)
        return response

    return wrapped


async def read_urlencoded(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body, in memory, strictly decoded."""
    if media_type(request) != "application/x-www-form-urlencoded":
        raise InvalidInput("表单格式不正确。", code="unsupported_media_type", status=415)
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_URLENCODED:
            raise InvalidInput("填写的内容过长。", code="too_large", status=413)
    try:
        pairs = parse_qsl(
            body.decode("ascii"), keep_blank_values=True, errors="strict", max_num_fields=16
        )
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("表单格式不正确。", code="malformed_form") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name not in allowed:
            raise InvalidInput(f"不支持的字段：{name[:50]}", code="unknown_field")
        fields[name] = value
    return fields
