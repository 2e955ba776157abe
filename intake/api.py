"""Public JSON API (SPEC §6). Errors are always ``{"error": {"code", "message"}}``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from core.cases import REPORTER_LABELS
from core.web import read_json
from intake.channel import WebChannel
from intake.requests import client_address, media_type, reads_body, refuse_cross_site


def _channel(request: Request) -> WebChannel:
    channel: WebChannel = request.app.state.channel
    return channel


@reads_body
async def create_report(request: Request) -> Response:
    refuse_cross_site(request)
    channel = _channel(request)
    address = client_address(request)
    if media_type(request) == "multipart/form-data":
        receipt = await channel.submit_multipart(
            address, request.headers["content-type"], request.stream()
        )
    else:
        receipt = await channel.submit_json(address, await read_json(request))
    return JSONResponse({"receipt": receipt}, status_code=201)


@reads_body
async def receipt_status(request: Request) -> Response:
    refuse_cross_site(request)
    view = await _channel(request).status_json(client_address(request), await read_json(request))
    return JSONResponse(
        {
            "status": view.status.value,
            "status_label": REPORTER_LABELS[view.status],
            "updated_on": view.updated_on,
            "messages": [
                {"from": m.kind.value, "text": m.text, "on": m.on.isoformat()}
                for m in view.messages
            ],
        }
    )


@reads_body
async def receipt_message(request: Request) -> Response:
    refuse_cross_site(request)
    await _channel(request).add_message_json(client_address(request), await read_json(request))
    return JSONResponse({"status": "received"}, status_code=201)
