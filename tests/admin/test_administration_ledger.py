"""The 台账 file itself: cells a spreadsheet would execute are defused."""

from __future__ import annotations

import csv
import io

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
