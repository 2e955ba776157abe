"""Importing 被巡察单位 from a CSV or XLSX sheet with the columns 名称, 类型, 别名.

All or nothing: every row is checked first and each problem is reported with its sheet row
number (the header is row 1); if any row is wrong, nothing is written. A unit that exists
already is updated (its type, and aliases added), so importing the same sheet twice is safe.
Each new unit also gets its 党组织 body (the destination of 第十九条 transfers to the unit),
with a keypair wrapped to the escrow key.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field

from openpyxl import load_workbook  # type: ignore[import-untyped]  # no stubs shipped
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.audit import append_event
from core.county import BodyKind, UnitKind, add_body, add_unit
from core.errors import InvalidInput
from core.models import Body, Unit, UnitAlias
from crypto import PublicKey

COLUMNS = ("名称", "类型", "别名")
MAX_ROWS = 5000
MAX_NAME = 200
_ALIAS_SEPARATORS = str.maketrans(dict.fromkeys(",，;；|/", "、"))


@dataclass(frozen=True)
class UnitRow:
    line: int
    name: str
    kind: UnitKind
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class RowProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"第 {self.line} 行：{self.message}"


class UnitImportRejected(InvalidInput):
    """The sheet has problems; nothing was imported."""

    code = "unit_import_rejected"

    def __init__(self, problems: list[RowProblem]) -> None:
        shown = "；".join(str(p) for p in problems[:20])
        more = f"；另有 {len(problems) - 20} 处问题" if len(problems) > 20 else ""
        super().__init__(f"导入失败，未导入任何单位。{shown}{more}")
        self.problems = tuple(problems)


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


_KINDS = {_fold(kind.value): kind for kind in UnitKind} | {
    "镇": UnitKind.TOWNSHIP,
    "街道": UnitKind.TOWNSHIP,
    "重点村": UnitKind.KEY_VILLAGE,
    "社区": UnitKind.KEY_VILLAGE,
}


def parse_kind(text: str) -> UnitKind | None:
    return _KINDS.get(_fold(text))


def read_sheet(filename: str, data: bytes) -> list[tuple[int, list[str]]]:
    """Rows of a CSV (UTF-8 or GB18030, as Excel saves it in China) or XLSX file, header first."""
    if filename.lower().endswith(".xlsx"):
        return _read_xlsx(data)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise InvalidInput("无法识别文件编码，请另存为 UTF-8 编码的 CSV。")
    reader = csv.reader(io.StringIO(text, newline=""))
    return [(number, row) for number, row in enumerate(reader, start=1)]


def _read_xlsx(data: bytes) -> list[tuple[int, list[str]]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise InvalidInput("无法读取该 XLSX 文件。") from None
    try:
        sheet = book.worksheets[0]
        return [
            (number, ["" if cell is None else str(cell) for cell in row])
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        book.close()


def check_rows(rows: list[tuple[int, list[str]]]) -> tuple[list[UnitRow], list[RowProblem]]:
    """Validate a sheet's rows without touching the database."""
    if not rows:
        return [], [RowProblem(1, "文件为空。")]
    header = [_fold(cell) for cell in rows[0][1]]
    if missing := [c for c in COLUMNS[:2] if c not in header]:
        return [], [RowProblem(1, f"缺少列：{'、'.join(missing)}（需要 名称、类型、别名）。")]
    if len(rows) - 1 > MAX_ROWS:
        return [], [RowProblem(1, f"一次最多导入 {MAX_ROWS} 个单位。")]
    where = {name: header.index(name) for name in COLUMNS if name in header}
    units: list[UnitRow] = []
    problems: list[RowProblem] = []
    for line, cells in rows[1:]:

        def cell(column: str, cells: list[str] = cells) -> str:
            index = where.get(column)
            return _fold(cells[index]) if index is not None and index < len(cells) else ""

        if not any(_fold(c) for c in cells):
            continue  # blank lines at the end of a sheet
        name, kind_text = cell("名称"), cell("类型")
        aliases = tuple(
            a
            for a in (_fold(x) for x in cell("别名").translate(_ALIAS_SEPARATORS).split("、"))
            if a
        )
        kind = parse_kind(kind_text)
        if not name:
            problems.append(RowProblem(line, "名称为空。"))
        elif len(name) > MAX_NAME or any(len(a) > MAX_NAME for a in aliases):
            problems.append(RowProblem(line, f"名称或别名超过 {MAX_NAME} 字。"))
        elif kind is None:
            allowed = "、".join(k.value for k in UnitKind)
            problems.append(RowProblem(line, f"类型“{kind_text}”无效（可选：{allowed}）。"))
        else:
            units.append(UnitRow(line, name, kind, tuple(dict.fromkeys(aliases))))
    problems.extend(_duplicates(units))
    return units, problems


def _duplicates(units: list[UnitRow]) -> list[RowProblem]:
    """A name or alias may stand for one unit only, within the sheet."""
    owner: dict[str, tuple[str, int]] = {}
    problems = []
    for row in units:
        for label in (row.name, *row.aliases):
            first = owner.setdefault(label, (row.name, row.line))
            if first[0] != row.name or (label == row.name and first[1] != row.line):
                problems.append(RowProblem(row.line, f"“{label}”与第 {first[1]} 行重复。"))
    return problems


async def _conflicts_with_stored(session: AsyncSession, units: list[UnitRow]) -> list[RowProblem]:
    """Names and aliases already used by a *different* stored unit."""
    names = dict((await session.execute(select(Unit.name, Unit.id))).all())
    aliases = dict((await session.execute(select(UnitAlias.alias, UnitAlias.unit_id))).all())
    problems = []
    for row in units:
        own_id = names.get(row.name)
        if own_id is None and row.name in aliases:
            problems.append(RowProblem(row.line, f"“{row.name}”已是另一单位的别名。"))
        for alias in row.aliases:
            taken_by = aliases.get(alias) or names.get(alias)
            if taken_by is not None and taken_by != own_id:
                problems.append(RowProblem(row.line, f"别名“{alias}”已属于另一单位。"))
    return problems


async def import_units(
    session: AsyncSession,
    rows: list[tuple[int, list[str]]],
    *,
    escrow: PublicKey,
    actor_id: str | None,
) -> ImportResult:
    """Check every row, then write all of them, or raise :class:`UnitImportRejected`."""
    units, problems = check_rows(rows)
    problems += await _conflicts_with_stored(session, units)
    if problems:
        raise UnitImportRejected(sorted(problems, key=lambda p: p.line))
    result = ImportResult()
    for row in units:
        unit = await session.scalar(select(Unit).where(Unit.name == row.name))
        if unit is None:
            unit = await add_unit(session, row.name, row.kind, row.aliases)
            await _add_party_org(session, unit, escrow)
            result.created.append(row.name)
            continue
        known = set(
            await session.scalars(select(UnitAlias.alias).where(UnitAlias.unit_id == unit.id))
        )
        new_aliases = [a for a in row.aliases if a not in known and a != unit.name]
        if unit.kind == row.kind.value and not new_aliases:
            result.unchanged.append(row.name)
            continue
        unit.kind = row.kind.value
        session.add_all(UnitAlias(unit_id=unit.id, alias=a) for a in new_aliases)
        result.updated.append(row.name)
    await session.flush()
    await append_event(
        session,
        "units.imported",
        actor_id=actor_id,
        detail={"created": result.created, "updated": result.updated},
    )
    return result


async def _add_party_org(session: AsyncSession, unit: Unit, escrow: PublicKey) -> None:
    name = f"{unit.name}党组织"
    if await session.scalar(select(Body.id).where(Body.name == name)) is None:
        await add_body(session, name, BodyKind.UNIT_PARTY_ORG, escrow, unit_id=unit.id)
