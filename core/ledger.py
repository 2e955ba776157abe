"""台账 (第二十二条): the register of leads, as CSV or XLSX, from plaintext metadata only.

The ledger is built from the columns SPEC §3 allows in clear — case id, received date,
channel, accused unit (as registered, not as typed), tags, destination, assignee, status and
deadlines. It never opens a sealed field, so it cannot leak report text, names or contacts,
and an administrator can export it without holding any body key.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]  # no stubs shipped
from openpyxl.cell import WriteOnlyCell  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import append_event
from core.cases import Channel, Status
from core.models import Body, Case, Transfer, Unit
from routing import Destination, Discipline, ProblemType

HEADER = (
    "案件编号",
    "受理日期",
    "渠道",
    "被反映单位",
    "问题类别",
    "问题性质",
    "处置去向",
    "承办机构",
    "状态",
    "状态变更日期",
    "办理期限",
    "移交反馈期限",
)

CHANNEL_LABELS = {Channel.WEB: "网络", Channel.PHONE: "电话", Channel.MAIL: "信箱"}

# Staff-facing status words (reporters see the coarser REPORTER_LABELS).
STATUS_LABELS = {
    Status.RECEIVED: "待研判",
    Status.TRIAGED: "已研判",
    Status.TRANSFER_PROPOSED: "拟移交",
    Status.TRANSFERRED: "已移交",
    Status.FEEDBACK_RECEIVED: "已反馈",
    Status.CLOSED: "已办结",
    Status.NOT_ACCEPTED: "不予受理",
    Status.DUPLICATE: "重复件",
}


class LedgerFormat(StrEnum):
    XLSX = "xlsx"
    CSV = "csv"


@dataclass(frozen=True)
class LedgerRow:
    case_id: str
    received_on: str
    channel: str
    unit: str
    categories: str
    problem_type: str
    destination: str
    assignee: str
    status: str
    status_changed_on: str
    due_on: str
    feedback_due_on: str


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def _label(enum: type[StrEnum], key: str | None) -> str:
    if key is None:
        return ""
    try:
        member = enum(key)
    except ValueError:
        return key
    label = getattr(member, "label", None)
    return label if isinstance(label, str) else member.value


async def ledger_rows(session: AsyncSession) -> list[LedgerRow]:
    """Every case, oldest first, with the feedback deadline of its latest approved 移交."""
    feedback_due = (
        select(Transfer.case_id, func.max(Transfer.due_on).label("due"))
        .where(Transfer.due_on.is_not(None))
        .group_by(Transfer.case_id)
        .subquery()
    )
    query = (
        select(Case, Unit.name, Body.name, feedback_due.c.due)
        .outerjoin(Unit, Unit.id == Case.unit_id)
        .join(Body, Body.id == Case.assignee_body_id)
        .outerjoin(feedback_due, feedback_due.c.case_id == Case.id)
        .order_by(Case.received_on, Case.id)
    )
    rows = []
    for case, unit, assignee, due in (await session.execute(query)).all():
        rows.append(
            LedgerRow(
                case_id=case.id,
                received_on=_day(case.received_on),
                channel=CHANNEL_LABELS.get(Channel(case.channel), case.channel),
                unit=unit or "",
                categories="、".join(_label(Discipline, c) for c in case.categories),
                problem_type=_label(ProblemType, case.problem_type),
                destination=_label(Destination, case.destination),
                assignee=assignee,
                status=STATUS_LABELS.get(Status(case.status), case.status),
                status_changed_on=_day(case.status_changed_on),
                due_on=_day(case.due_on),
                feedback_due_on=_day(due),
            )
        )
    return rows


def _csv_cell(value: str) -> str:
    # A spreadsheet runs a CSV field that starts with = + - @ as a formula (CSV injection).
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _xlsx_cell(sheet: Any, value: str) -> WriteOnlyCell:
    # XLSX cells carry their type, so a value is stored exactly as it is, as text: openpyxl
    # would otherwise store one that starts with "=" as a formula.
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell


def render_ledger(rows: Sequence[LedgerRow], fmt: LedgerFormat) -> bytes:
    lines = [HEADER, *(astuple(row) for row in rows)]
    if fmt is LedgerFormat.CSV:
        buffer = io.StringIO(newline="")
        csv.writer(buffer).writerows([_csv_cell(v) for v in line] for line in lines)
        # UTF-8 with BOM: Excel in a Chinese locale opens it without garbling.
        return buffer.getvalue().encode("utf-8-sig")
    book = Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    for line in lines:
        sheet.append([_xlsx_cell(sheet, v) for v in line])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def export_ledger(
    session: AsyncSession, fmt: LedgerFormat, *, actor_id: str | None
) -> tuple[bytes, int]:
    """The ledger file and its number of cases; the export itself is audited."""
    rows = await ledger_rows(session)
    await append_event(
        session,
        "ledger.exported",
        actor_id=actor_id,
        detail={"format": fmt.value, "cases": len(rows)},
    )
    return render_ledger(rows, fmt), len(rows)
