"""Working days (法定节假日 and 调休) and the due dates of 第十八条 and 第十九条."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing import (
    WorkCalendar,
    add_calendar_month,
    add_working_days,
    days_left,
    deadline_status,
    rectification_plan_due,
    rectification_report_due,
    round_report_due,
    transfer_feedback_due,
)

# A year chinese_calendar will not know for a long while.
FAR_YEAR = 2099


def test_national_day_2025_as_the_package_has_it() -> None:
    # 国庆+中秋 2025: 10月1日至8日放假; 9月28日(周日)、10月11日(周六)上班.
    holidays = [date(2025, 10, d) for d in range(1, 9)]
    assert not any(chinese_calendar.is_workday(d) for d in holidays)
    assert chinese_calendar.is_workday(date(2025, 9, 28))
    assert chinese_calendar.is_workday(date(2025, 10, 11))


def test_round_report_across_national_day_counts_make_up_days() -> None:
    # Round ends Fri 9月26日: 9/28(调休) 9/29 9/30 10/9 10/10 10/11(调休) 10/13 14 15 16.
    deadline = round_report_due(date(2025, 9, 26))
    assert deadline.due == date(2025, 10, 16)
    assert deadline.note is None
    assert "第十八条（七）" in deadline.rule


def test_rectification_plan_across_national_day() -> None:
    # Feedback Tue 9月30日: 10/9 10/10 10/11 10/13-17 10/20 10/21.
    deadline = rectification_plan_due(date(2025, 9, 30))
    assert deadline.due == date(2025, 10, 21)
    assert "第十八条（九）" in deadline.rule


def test_the_start_day_itself_is_not_counted() -> None:
    monday = date(2025, 3, 3)
    assert add_working_days(monday, 1) == date(2025, 3, 4)
    assert add_working_days(monday, 0) == monday
    assert add_working_days(date(2025, 9, 27), 1) == date(2025, 9, 28)  # Sunday, 调休


def test_negative_working_days_are_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_days(date(2025, 3, 3), -1)


def test_uncovered_year_falls_back_to_weekends_and_says_so() -> None:
    calendar = WorkCalendar()
    assert calendar.is_covered(2025)
    assert not calendar.is_covered(FAR_YEAR)
    friday = date(FAR_YEAR, 1, 2)
    assert friday.weekday() == 4
    assert calendar.add_working_days(friday, 1) == date(FAR_YEAR, 1, 5)
    assert calendar.is_workday(date(FAR_YEAR, 10, 1))  # 国庆 unknown: a plain Thursday
    deadline = round_report_due(friday)
    assert deadline.due == date(FAR_YEAR, 1, 16)
    assert deadline.note == f"{FAR_YEAR}年节假日安排尚未收录，按周末计算"


def test_note_names_only_the_uncovered_years() -> None:
    # A round ending late in the last covered year is reported on early next year.
    last = max(y for y in range(2004, 2100) if WorkCalendar().is_covered(y))
    deadline = round_report_due(date(last, 12, 24))
    assert deadline.due.year == last + 1
    assert deadline.note == f"{last + 1}年节假日安排尚未收录，按周末计算"


def test_overrides_beat_the_package() -> None:
    calendar = WorkCalendar({date(2025, 9, 28): False, date(2025, 10, 8): True})
    assert not calendar.is_workday(date(2025, 9, 28))
    assert calendar.is_workday(date(2025, 10, 8))
    assert calendar.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 29)
    end = date(2025, 9, 26)
    # One more working day inside the holiday: 10月16日 moves to 10月15日.
    assert round_report_due(end, WorkCalendar({date(2025, 10, 8): True})).due == date(2025, 10, 15)
    # One make-up day fewer: it moves to 10月17日.
    assert round_report_due(end, WorkCalendar({date(2025, 9, 28): False})).due == date(2025, 10, 17)


def test_overrides_fill_a_year_the_package_lacks() -> None:
    national_day = {date(FAR_YEAR, 10, d): False for d in range(1, 8)}
    calendar = WorkCalendar(national_day)
    assert calendar.is_covered(FAR_YEAR)
    deadline = round_report_due(date(FAR_YEAR, 9, 30), calendar)  # a Wednesday
    assert deadline.note is None
    # 10/8 10/9, 10/12-16, 10/19 10/20 10/21 (10/1-7 entered as holidays).
    assert deadline.due == date(FAR_YEAR, 10, 21)


def test_overrides_are_read_only() -> None:
    source = {date(2025, 1, 2): False}
    calendar = WorkCalendar(source)
    source[date(2025, 1, 3)] = False
    assert calendar.is_workday(date(2025, 1, 3))
    with pytest.raises(TypeError):
        calendar.overrides[date(2025, 1, 6)] = False  # type: ignore[index]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2025, 1, 31), date(2025, 2, 28)),
        (date(2024, 1, 31), date(2024, 2, 29)),
        (date(2025, 3, 31), date(2025, 4, 30)),
        (date(2025, 1, 15), date(2025, 2, 15)),
        (date(2025, 12, 31), date(2026, 1, 31)),
        (date(2025, 2, 28), date(2025, 3, 28)),
    ],
)
def test_one_calendar_month_clamps_to_month_end(day: date, expected: date) -> None:
    assert add_calendar_month(day) == expected


def test_month_deadlines_follow_the_calendar_not_working_days() -> None:
    transfer = transfer_feedback_due(date(2025, 8, 31))
    assert transfer.due == date(2025, 9, 30)
    assert "第十九条" in transfer.rule
    # 10月1日 is a holiday; the regulation does not move a month deadline.
    report = rectification_report_due(date(2025, 9, 1))
    assert report.due == date(2025, 10, 1)
    assert "第十八条（九）" in report.rule
    assert report.note is None


@pytest.mark.parametrize(
    ("today", "left", "overdue", "label"),
    [
        (date(2026, 11, 25), 5, False, "剩余5天"),
        (date(2026, 11, 30), 0, False, "今日到期"),
        (date(2026, 12, 3), -3, True, "已逾期3天"),
    ],
)
def test_deadline_status(today: date, left: int, overdue: bool, label: str) -> None:
    due = date(2026, 11, 30)
    assert days_left(due, today) == left
    status = deadline_status(due, today)
    assert (status.due, status.days_left, status.overdue, status.label) == (
        due,
        left,
        overdue,
        label,
    )


_days = st.dates(min_value=date(2004, 1, 1), max_value=date(2040, 12, 31))
_overrides = st.dictionaries(_days, st.booleans(), max_size=5)


@given(start=_days, n=st.integers(min_value=1, max_value=40), overrides=_overrides)
def test_working_days_land_on_a_working_day(
    start: date, n: int, overrides: dict[date, bool]
) -> None:
    calendar = WorkCalendar(overrides)
    due = calendar.add_working_days(start, n)
    assert calendar.is_workday(due)
    between = (start + timedelta(i) for i in range(1, (due - start).days + 1))
    assert sum(calendar.is_workday(d) for d in between) == n


@given(start=_days, n=st.integers(min_value=0, max_value=40))
def test_more_working_days_end_later(start: date, n: int) -> None:
    assert add_working_days(start, n) < add_working_days(start, n + 1)
    assert add_working_days(start, n) <= add_working_days(start + timedelta(1), n)


@given(day=st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 11, 30)))
def test_one_calendar_month_is_28_to_31_days_later(day: date) -> None:
    later = add_calendar_month(day)
    assert 28 <= (later - day).days <= 31
    assert (later.year * 12 + later.month) - (day.year * 12 + day.month) == 1
