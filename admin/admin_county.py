"""Console pages for administrators: units (import), rounds, keys and the 台账 download.

Every page needs Rule.ADMINISTER. The ledger is a POST (with the CSRF token) because each
export is audited; it is built from plaintext metadata only (core.ledger).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from admin.policy import Rule
from admin.web import Staff, endpoint, form_text, render, runtime_of
from core import rounds_admin
from core.body_keys import key_file_fingerprint, rotate_body_key
from core.county import UnitKind, today
from core.errors import InvalidInput, XunchaError
from core.ledger import LedgerFormat, export_ledger
from core.models import Body, BodyKey, Round, Unit, UnitAlias
from core.unit_import import UnitImportRejected, import_units, read_sheet

MAX_SHEET_BYTES = 5 * 1024 * 1024
LEDGER_TYPES = {
    LedgerFormat.CSV: "text/csv; charset=utf-8",
    LedgerFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


async def _units_page(
    request: Request, staff: Staff, *, status: int = 200, **extra: Any
) -> Response:
    async with runtime_of(request).db.reading() as session:
        units = list(await session.scalars(select(Unit).order_by(Unit.kind, Unit.name)))
        aliases: dict[str, list[str]] = defaultdict(list)
        for unit_id, alias in await session.execute(select(UnitAlias.unit_id, UnitAlias.alias)):
            aliases[unit_id].append(alias)
    return render(
        request,
        staff,
        "admin_units.html",
        status=status,
        units=units,
        aliases=aliases,
        kinds=[k.value for k in UnitKind],
        **extra,
    )


@endpoint(Rule.ADMINISTER)
async def units_page(request: Request, staff: Staff) -> Response:
    return await _units_page(request, staff)


async def _sheet(request: Request) -> tuple[str, bytes]:
    form = await request.form(max_files=1)
    try:
        upload = form.get("sheet")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("请选择 CSV 或 XLSX 文件。")
        data = await upload.read(MAX_SHEET_BYTES + 1)
    finally:
        await form.close()  # spooled uploads are temporary files
    if len(data) > MAX_SHEET_BYTES:
        raise InvalidInput("文件过大（上限 5 MB）。")
    return upload.filename, data


@endpoint(Rule.ADMINISTER)
async def units_submit(request: Request, staff: Staff) -> Response:
    runtime = runtime_of(request)
    try:
        filename, data = await _sheet(request)
        async with runtime.db.transaction() as session:
            result = await import_units(
                session,
                read_sheet(filename, data),
                escrow=runtime.secrets.escrow_public_key,
                actor_id=staff.user.id,
            )
    except UnitImportRejected as exc:
        error = "导入失败，未导入任何单位。请改正下列各行后重新上传："
        return await _units_page(
            request, staff, status=exc.status, error=error, problems=exc.problems
        )
    except XunchaError as exc:
        return await _units_page(request, staff, status=exc.status, error=exc.message)
    notice = (
        f"导入完成：新增 {len(result.created)} 个，更新 {len(result.updated)} 个，"
        f"未变 {len(result.unchanged)} 个。"
    )
    return await _units_page(request, staff, notice=notice)


async def _rounds_page(
    request: Request, staff: Staff, *, status: int = 200, **extra: Any
) -> Response:
    async with runtime_of(request).db.reading() as session:
        rounds = list(await session.scalars(select(Round).order_by(Round.start_on.desc())))
        tables = {r.id: await rounds_admin.current_assignments(session, r) for r in rounds}
    return render(
        request,
        staff,
        "admin_rounds.html",
        status=status,
        rounds=rounds,
        tables=tables,
        today=today(),
        **extra,
    )


@endpoint(Rule.ADMINISTER)
async def rounds_page(request: Request, staff: Staff) -> Response:
    return await _rounds_page(request, staff)


def _table(text: str) -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip():
            group, units = rounds_admin.parse_assignment(line)
            table.setdefault(group, []).extend(units)
    if not table:
        raise InvalidInput("请至少填写一行分组。")
    return table


def _day(text: str, label: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{label}格式应为 YYYY-MM-DD。") from None


@endpoint(Rule.ADMINISTER)
async def rounds_submit(request: Request, staff: Staff) -> Response:
    form = await request.form()
    try:
        table = _table(form_text(form, "assignments"))
        async with runtime_of(request).db.transaction() as session:
            if existing := form_text(form, "round"):
                await rounds_admin.reassign_round(session, existing, table, actor_id=staff.user.id)
                notice = f"已更新“{existing}”的分组。"
            else:
                round_ = await rounds_admin.create_round(
                    session,
                    form_text(form, "name"),
                    rounds_admin.parse_round_kind(form_text(form, "kind")),
                    _day(form_text(form, "start"), "开始日期"),
                    _day(form_text(form, "end"), "结束日期"),
                    table,
                    actor_id=staff.user.id,
                )
                notice = f"已创建巡察轮次“{round_.name}”。"
    except XunchaError as exc:
        return await _rounds_page(request, staff, status=exc.status, error=exc.message)
    return await _rounds_page(request, staff, notice=notice)


async def _keys_page(request: Request, staff: Staff, **extra: Any) -> Response:
    runtime = runtime_of(request)
    async with runtime.db.reading() as session:
        keys = (
            await session.execute(
                select(Body.name, BodyKey.id, BodyKey.created_at)
                .join(BodyKey, BodyKey.body_id == Body.id)
                .where(BodyKey.retired_at.is_(None))
                .order_by(Body.kind, Body.name)
            )
        ).all()
    return render(
        request,
        staff,
        "admin_keys.html",
        fingerprint=key_file_fingerprint(runtime.secrets),
        escrow_key_id=runtime.secrets.escrow_public_key.key_id,
        keys=keys,
        **extra,
    )


@endpoint(Rule.ADMINISTER)
async def keys_page(request: Request, staff: Staff) -> Response:
    return await _keys_page(request, staff)


@endpoint(Rule.ADMINISTER)
async def rotate_submit(request: Request, staff: Staff) -> Response:
    form = await request.form()
    runtime = runtime_of(request)
    try:
        async with runtime.db.transaction() as session:
            rotation = await rotate_body_key(
                session,
                form_text(form, "body"),
                escrow=runtime.secrets.escrow_public_key,
                actor_id=staff.user.id,
            )
    except XunchaError as exc:
        return await _keys_page(request, staff, error=exc.message)
    notice = f"已为“{rotation.body_name}”生成新密钥；新案件使用新密钥，旧案件仍可阅读。"
    return await _keys_page(request, staff, notice=notice)


@endpoint(Rule.ADMINISTER)
async def ledger_submit(request: Request, staff: Staff) -> Response:
    form = await request.form()
    try:
        fmt = LedgerFormat(form_text(form, "format"))
    except ValueError:
        raise InvalidInput("台账格式只能是 xlsx 或 csv。") from None
    async with runtime_of(request).db.transaction() as session:
        data, _ = await export_ledger(session, fmt, actor_id=staff.user.id)
    filename = f"ledger-{today():%Y%m%d}.{fmt.value}"
    return Response(
        data,
        media_type=LEDGER_TYPES[fmt],
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
        },
    )


routes: list[BaseRoute] = [
    Route("/admin/units", units_page, methods=["GET"]),
    Route("/admin/units", units_submit, methods=["POST"]),
    Route("/admin/rounds", rounds_page, methods=["GET"]),
    Route("/admin/rounds", rounds_submit, methods=["POST"]),
    Route("/admin/keys", keys_page, methods=["GET"]),
    Route("/admin/keys/rotate", rotate_submit, methods=["POST"]),
    Route("/admin/ledger", ledger_submit, methods=["POST"]),
]
