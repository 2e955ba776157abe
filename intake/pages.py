"""HTML pages in zh-CN: plain forms that work with JavaScript off (Tor Browser's safest mode).

The receipt travels only in POST bodies: the receipt page shows it once, the
status page re-posts it in a hidden field of its own forms. Every response is
``no-store`` (core/web.py), so neither the browser's cache nor its history
keeps a page with a receipt on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from core.cases import REPORTER_LABELS, MessageKind
from core.errors import XunchaError
from core.models import Unit
from core.runtime import Runtime
from core.web import http_error_handler
from crypto import ReceiptFormatError, format_receipt
from intake.channel import WebChannel
from intake.csrf import CsrfTokens
from intake.forms import DISCIPLINE_CHOICES
from intake.pipeline import MAX_TEXT, ReporterView
from intake.requests import (
    client_address,
    media_type,
    read_urlencoded,
    reads_body,
    refuse_cross_site,
)

TEMPLATES = Path(__file__).parent / "templates"
CSRF_FIELD = "csrf_token"

environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    settings = request.app.state.settings
    page = environment.get_template(name).render(
        onion_address=settings.onion_address,
        max_attachments=settings.max_attachments,
        max_attachment_mb=settings.max_attachment_bytes // (1024 * 1024),
        mailbox_addresses=settings.mailbox_addresses,
        max_text=MAX_TEXT,
        **context,
    )
    return HTMLResponse(page, status_code=status)


def _parts(request: Request) -> tuple[WebChannel, CsrfTokens]:
    return request.app.state.channel, request.app.state.csrf


def _csrf_check(tokens: CsrfTokens, purpose: str) -> Callable[[Mapping[str, str]], None]:
    def check_form(fields: Mapping[str, str]) -> None:
        tokens.check(purpose, fields.get(CSRF_FIELD))

    return check_form


def _formatted_or_none(receipt: str | None) -> str | None:
    try:
        return format_receipt(receipt) if receipt else None
    except ReceiptFormatError:
        return None


async def _unit_names(runtime: Runtime) -> list[str]:
    async with runtime.db.reading() as session:
        return list(await session.scalars(select(Unit.name).order_by(Unit.name)))


PAGE_ERRORS = {404: "页面不存在。", 405: "不支持该请求方式。"}


async def page_error(request: Request, exc: Exception) -> Response:
    """Browsers asking for a page that is not there get a page; API clients get JSON."""
    status = getattr(exc, "status_code", 500)
    wants_html = "text/html" in request.headers.get("accept", "")
    if request.url.path.startswith("/api/") or not wants_html or status not in PAGE_ERRORS:
        return await http_error_handler(request, exc)
    return render(request, "error.html", status=status, message=PAGE_ERRORS[status])


async def index(request: Request) -> Response:
    return render(request, "index.html")


async def report_page(
    request: Request, *, values: Mapping[str, str] | None = None, error: XunchaError | None = None
) -> Response:
    _, tokens = _parts(request)
    return render(
        request,
        "report.html",
        status=error.status if error else 200,
        csrf_token=tokens.issue("report"),
        units=await _unit_names(request.app.state.runtime),
        disciplines=DISCIPLINE_CHOICES,
        values=values or {},
        error=error.message if error else None,
    )


async def report_form(request: Request) -> Response:
    return await report_page(request)


@reads_body
async def report_submit(request: Request) -> Response:
    channel, tokens = _parts(request)
    seen: dict[str, str] = {}  # to give the reporter their text back if something fails
    try:
        refuse_cross_site(request)
        if media_type(request) != "multipart/form-data":
            raise XunchaError("表单格式不正确。", code="unsupported_media_type", status=415)
        receipt = await channel.submit_multipart(
            client_address(request),
            request.headers["content-type"],
            request.stream(),
            extra_fields=frozenset({CSRF_FIELD}),
            on_field=seen.__setitem__,
            check_form=_csrf_check(tokens, "report"),
        )
    except XunchaError as error:
        seen.pop(CSRF_FIELD, None)
        return await report_page(request, values=seen, error=error)
    return render(request, "receipt.html", receipt=format_receipt(receipt))


async def status_form(request: Request, error: XunchaError | None = None) -> Response:
    _, tokens = _parts(request)
    return render(
        request,
        "status_form.html",
        status=error.status if error else 200,
        csrf_token=tokens.issue("status"),
        error=error.message if error else None,
    )


async def status_form_page(request: Request) -> Response:
    return await status_form(request)


def _status_page(request: Request, receipt: str, view: ReporterView) -> Response:
    _, tokens = _parts(request)
    timeline = [(view.received_on, "举报已提交")]
    if view.updated_on != view.received_on or view.status.value != "received":
        timeline.append((view.updated_on, f"状态更新为：{REPORTER_LABELS[view.status]}"))
    for message in view.messages:
        who = "您补充了材料" if message.kind is MessageKind.FROM_REPORTER else "收到答复"
        timeline.append((message.on.isoformat(), who))
    timeline.sort(key=lambda item: item[0])
    return render(
        request,
        "status.html",
        receipt=format_receipt(receipt),
        status_label=REPORTER_LABELS[view.status],
        updated_on=view.updated_on,
        timeline=timeline,
        messages=view.messages,
        handler_kind=MessageKind.FROM_HANDLER,
        csrf_token=tokens.issue("message"),
    )


@reads_body
async def status_submit(request: Request) -> Response:
    channel, tokens = _parts(request)
    try:
        refuse_cross_site(request)
        fields = await read_urlencoded(request, frozenset({CSRF_FIELD, "receipt"}))
        tokens.check("status", fields.get(CSRF_FIELD))
        receipt = fields.get("receipt", "")
        view = await channel.status(client_address(request), receipt)
    except XunchaError as error:
        return await status_form(request, error)
    return _status_page(request, receipt, view)


@reads_body
async def message_submit(request: Request) -> Response:
    channel, tokens = _parts(request)
    seen: dict[str, str] = {}
    try:
        refuse_cross_site(request)
        if media_type(request) != "multipart/form-data":
            raise XunchaError("表单格式不正确。", code="unsupported_media_type", status=415)
        await channel.add_message_multipart(
            client_address(request),
            request.headers["content-type"],
            request.stream(),
            extra_fields=frozenset({CSRF_FIELD}),
            on_field=seen.__setitem__,
            check_form=_csrf_check(tokens, "message"),
        )
    except XunchaError as error:
        # A correctable refusal (receipt pasted in the text, a file too large…) offers the form
        # again with the text as typed; files have to be chosen again.
        correctable = error.status in (413, 415, 422)
        return render(
            request,
            "error.html",
            status=error.status,
            message=error.message,
            receipt=_formatted_or_none(seen.get("receipt")),
            csrf_token=tokens.issue("status"),
            message_token=tokens.issue("message") if correctable else None,
            text=seen.get("text"),
        )
    return render(
        request,
        "message_added.html",
        csrf_token=tokens.issue("status"),
        receipt=format_receipt(seen["receipt"]),
    )
