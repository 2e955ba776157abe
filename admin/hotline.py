"""Hotline and paper-letter entry (热线登记): an operator types in a call or a letter.

``GET /hotline`` is the form, ``POST /hotline`` stores the report and shows the receipt once,
in large grouped digits to read out to the caller; ``POST /api/v1/hotline/reports`` is the
JSON (or multipart) form of the same, answering ``201 {"receipt"}`` (SPEC §6). Every report
goes through the one intake pipeline, with channel ``phone`` or ``mail``; scanned pages are
attachments, sanitised and sealed as on the web.

The operator cannot read what they entered: the operator role may enter reports and nothing
else (admin/policy.py), holds no body key, and the receipt is never stored, so it cannot be
shown again. Who entered a report is recorded in the audit log (the operator, not the caller).
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from admin.policy import Rule, allows
from admin.sessions import csrf_valid
from admin.web import CsrfRejected, Staff, check_origin, current_staff, endpoint, render
from core.audit import append_event
from core.cases import Channel, NewReport
from core.errors import Conflict, Forbidden, InvalidInput, XunchaError
from core.runtime import Runtime
from core.web import read_json
from crypto import format_receipt
from intake.forms import (
    DISCIPLINE_CHOICES,
    FORM_FIELDS,
    REPORT_FIELDS,
    refuse_unknown,
    report_from_form,
    report_from_json,
)
from intake.pipeline import Draft, IntakePipeline
from intake.uploads import MultipartReader, ReceivedForm, SealTarget, UploadLimits

CHANNELS = {"phone": Channel.PHONE, "mail": Channel.MAIL}
CHANNEL_LABELS = {"phone": "电话", "mail": "来信"}
FORM_ID = "form_id"
USED_FORM_SECONDS = 12 * 3600


def with_channel(report: NewReport, value: object) -> NewReport:
    if not isinstance(value, str) or value not in CHANNELS:
        raise InvalidInput("请选择来源：电话（phone）或来信（mail）。", code="invalid_channel")
    return replace(report, channel=CHANNELS[value])


class HotlineDesk:
    """One per app: the pipeline, upload limits and the form ids already used."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.pipeline = IntakePipeline(runtime)
        settings = runtime.settings
        self.limits = UploadLimits(
            max_files=settings.max_attachments, max_file_bytes=settings.max_attachment_bytes
        )
        # A refreshed result page would post the form again and create a second case; each
        # form carries a one-time id to stop that (in memory: a restart forgets, harmlessly).
        self._used_forms: dict[str, float] = {}

    def claim_form(self, form_id: str | None) -> None:
        horizon = time.monotonic() - USED_FORM_SECONDS
        self._used_forms = {k: t for k, t in self._used_forms.items() if t > horizon}
        if not form_id or form_id in self._used_forms:
            raise Conflict("此登记表已经提交过（刷新或重复提交）。查询码只显示一次，请勿重复登记。")
        self._used_forms[form_id] = time.monotonic()

    def release_form(self, form_id: str | None) -> None:
        if form_id:
            self._used_forms.pop(form_id, None)

    async def enter(self, staff: Staff, report: NewReport, draft: Draft | None = None) -> str:
        draft = draft or Draft()
        receipt = await self.pipeline.submit(report, draft)
        async with self.runtime.db.transaction() as session:
            await append_event(
                session,
                "hotline.report_entered",
                actor_id=staff.user.id,
                case_id=draft.case_id,
                detail={"channel": report.channel.value, "attachments": len(draft.attachments)},
            )
        return receipt

    async def read_form(
        self, request: Request, check: Callable[[Mapping[str, str]], None]
    ) -> tuple[ReceivedForm, Draft]:
        """Stream a multipart form; files are sanitised and sealed as they arrive."""
        draft = Draft()

        async def target(form: ReceivedForm) -> SealTarget:
            check(form.fields)  # before the first file byte is read
            return draft.case_id, draft.data_key

        reader = MultipartReader(
            request.headers.get("content-type", ""),
            self.limits,
            allowed_fields=FORM_FIELDS | {"channel", "csrf", FORM_ID},
            seal_target=target,
        )
        form = await reader.read(request.stream())
        check(form.fields)
        draft.attachments.extend(form.attachments)
        return form, draft


def desk_of(request: Request) -> HotlineDesk:
    state = request.app.state
    desk: HotlineDesk | None = getattr(state, "hotline_desk", None)
    if desk is None:
        desk = state.hotline_desk = HotlineDesk(state.runtime)
    return desk


# --- JSON API --------------------------------------------------------------------------------


@endpoint(Rule.ENTER_REPORT)
async def api_enter_report(request: Request, staff: Staff) -> Response:
    desk = desk_of(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form, draft = await desk.read_form(request, lambda _fields: None)
        try:
            report = with_channel(report_from_form(form.fields), form.fields.get("channel"))
            receipt = await desk.enter(staff, report, draft)
        finally:
            form.close()
    else:
        data = await read_json(request)
        refuse_unknown(data, REPORT_FIELDS | {"channel"})
        fields = {k: v for k, v in data.items() if k != "channel"}
        report = with_channel(report_from_json(fields), data.get("channel"))
        receipt = await desk.enter(staff, report)
    return JSONResponse({"receipt": receipt}, status_code=201)


# --- pages -----------------------------------------------------------------------------------


def streamed_form_post(
    handler: Callable[[Request, Staff], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """`admin.web.endpoint(Rule.ENTER_REPORT)` for a form with files.

    `endpoint` reads HTML forms with Starlette's parser, which spools uploads larger than
    1 MB to a temporary file in clear; scanned letters are larger than that. Here the CSRF
    token is checked from the streamed form instead (the form sends it first), and the files
    are sealed as they arrive, never written anywhere unencrypted.
    """

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        staff = await current_staff(request)
        if staff is None:
            return RedirectResponse("/login", status_code=303)
        if not allows(staff.actor, Rule.ENTER_REPORT):
            if not staff.actor.enrolled:
                return RedirectResponse("/account/totp", status_code=303)
            raise Forbidden("没有权限。")
        check_origin(request)
        return await handler(request, staff)

    run.rule = Rule.ENTER_REPORT  # type: ignore[attr-defined]
    return run


def form_page(
    request: Request, staff: Staff, *, values: Mapping[str, Any], error: str | None, status: int
) -> Response:
    return render(
        request,
        staff,
        "hotline.html",
        status=status,
        values=values,
        error=error,
        form_id=secrets.token_urlsafe(16),
        channels=CHANNEL_LABELS,
        disciplines=DISCIPLINE_CHOICES,
    )


@endpoint(Rule.ENTER_REPORT)
async def hotline_page(request: Request, staff: Staff) -> Response:
    return form_page(request, staff, values={"channel": "phone"}, error=None, status=200)


@streamed_form_post
async def hotline_submit(request: Request, staff: Staff) -> Response:
    desk = desk_of(request)

    def check_csrf(fields: Mapping[str, str]) -> None:
        if not csrf_valid(staff.token, fields.get("csrf")):
            raise CsrfRejected

    form, draft = await desk.read_form(request, check_csrf)
    form_id = form.fields.get(FORM_ID)
    try:
        desk.claim_form(form_id)
        report = with_channel(report_from_form(form.fields), form.fields.get("channel"))
        receipt = await desk.enter(staff, report, draft)
    except Conflict:
        raise
    except XunchaError as exc:
        desk.release_form(form_id)
        values = {k: v for k, v in form.fields.items() if k not in ("csrf", FORM_ID)}
        return form_page(request, staff, values=values, error=exc.message, status=exc.status)
    except BaseException:
        desk.release_form(form_id)
        raise
    finally:
        form.close()
    return render(
        request,
        staff,
        "hotline_receipt.html",
        receipt_groups=format_receipt(receipt).split(" "),
        channel=report.channel.value,
        attachments=len(draft.attachments),
    )


routes: list[BaseRoute] = [
    Route("/hotline", hotline_page, methods=["GET"]),
    Route("/hotline", hotline_submit, methods=["POST"]),
    Route("/api/v1/hotline/reports", api_enter_report, methods=["POST"]),
]
