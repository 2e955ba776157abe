"""The 台账 file itself: cells a spreadsheet would execute are defused."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from openpyxl import load_workbook  # type: ignore[import-untyped]

from core.ledger import HEADER, LedgerFormat, LedgerRow, render_ledger


def _row(unit: str) -> LedgerRow:
    return LedgerRow(
        case_id="abc",
        received_on="2026-11-28",
        channel="网络",
        unit=unit,
        categories="廉洁纪律",
        problem_type="违纪违法问题线索",
        destination="县纪委",
        assignee="第一巡察组",
        status="待研判",
        status_changed_on="2026-11-28",
        due_on="",
        feedback_due_on="",
    )


def test_formula_cells_are_prefixed_so_spreadsheets_show_them_as_text() -> None:
    data = render_ledger(
        [_row('=HYPERLINK("http://x","点我")'), _row("县教育局")], LedgerFormat.CSV
    )
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == list(HEADER)
    assert rows[1][3].startswith("'=")
    assert rows[2][3] == "县教育局"
    assert data.startswith("\ufeff".encode())  # Excel in a Chinese locale reads UTF-8


def test_xlsx_cells_are_typed_text_so_formulas_and_ids_stay_as_written() -> None:
    formula = '=HYPERLINK("http://x","点我")'
    rows = [_row(formula), _row("县教育局")]
    rows[1] = replace(rows[1], case_id="-idW3YtvH54F")
    book = load_workbook(io.BytesIO(render_ledger(rows, LedgerFormat.XLSX)))
    sheet = book["台账"]
    assert [c.value for c in sheet[1]] == list(HEADER)
    assert (sheet["D2"].value, sheet["D2"].data_type) == (formula, "s")
    # No quote prefix in XLSX: a case id that begins with "-" reads back exactly.
    assert (sheet["A3"].value, sheet["A3"].data_type) == ("-idW3YtvH54F", "s")
