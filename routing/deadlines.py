"""Working days and the due dates of SPEC §5 (第十八条, 第十九条).

Counting rules, as read from the 实施办法 (which follows the general rule of
民法典第二百零一条 and 第二百零二条 for periods in days and months):

* "……后10个工作日内" (第十八条(七) 巡察报告, 第十八条(九) 整改方案和台账): the day of
  the event is not counted; day 1 is the first working day after it, and the
  10th working day after it is the last day that is still on time.
* "1个月内" (第十九条 移交事项反馈, 第十八条(九) 整改落实情况书面报告): the same day
  number one calendar month later; when that month is shorter, its last day
  (1月31日 → 2月28日或29日). The regulation says nothing about a month period
  ending on a rest day, so the date is not moved: the office sees the earlier,
  stricter date.

Working days follow the official calendar (statutory holidays and 调休 make-up
days) from ``chinese_calendar``; admin overrides win. For a year the package
does not cover yet, Monday–Friday are working days and the result says so.
"""

from __future__ import annotations

import calendar as _gregorian
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import MappingProxyType

import chinese_calendar


@functools.lru_cache(maxsize=256)
def _package_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Which days are working days; ``overrides`` (date → working?) come from admins."""

    overrides: Mapping[date, bool] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))

    def is_covered(self, year: int) -> bool:
        """True when the official arrangement of ``year`` is known: packaged or entered."""
        return _package_covers(year) or any(day.year == year for day in self.overrides)

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        if _package_covers(day.year):
            return bool(chinese_calendar.is_workday(day))
        return day.weekday() < 5

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself is not counted)."""
        if n < 0:
            raise ValueError("n must not be negative")
        day = start
        while n:
            day += timedelta(days=1)
            if self.is_workday(day):
                n -= 1
        return day

    def fallback_note(self, start: date, end: date) -> str | None:
        """Say which years between the two dates were counted as plain Mon–Fri weeks."""
        years = [y for y in range(start.year, end.year + 1) if not self.is_covered(y)]
        if not years:
            return None
        return f"{'、'.join(f'{y}年' for y in years)}节假日安排尚未收录，按周末计算"


DEFAULT_CALENDAR = WorkCalendar()


@dataclass(frozen=True, slots=True)
class Deadline:
    """A due date, the rule it comes from, and a note when the calendar had to guess."""

    due: date
    rule: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DeadlineStatus:
    due: date
    days_left: int
    overdue: bool
    label: str


def add_working_days(start: date, n: int, calendar: WorkCalendar = DEFAULT_CALENDAR) -> date:
    return calendar.add_working_days(start, n)


def add_calendar_month(day: date) -> date:
    """One calendar month later, clamped to the end of a shorter month."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    last = _gregorian.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def _working_days_deadline(start: date, n: int, rule: str, calendar: WorkCalendar) -> Deadline:
    due = calendar.add_working_days(start, n)
    return Deadline(due, rule, calendar.fallback_note(start, due))


def transfer_feedback_due(transferred_on: date) -> Deadline:
    """第十九条: the receiving body finishes and reports back within one month of 移交."""
    return Deadline(add_calendar_month(transferred_on), "第十九条：移交后1个月内办结并书面反馈")


def round_report_due(round_end: date, calendar: WorkCalendar = DEFAULT_CALENDAR) -> Deadline:
    """第十八条(七): the group's report within 10 working days after the round ends."""
    return _working_days_deadline(
        round_end, 10, "第十八条（七）：巡察结束后10个工作日内报送巡察报告", calendar
    )


def rectification_plan_due(
    feedback_on: date, calendar: WorkCalendar = DEFAULT_CALENDAR
) -> Deadline:
    """第十八条(九): plan and 整改台账 within 10 working days after the feedback."""
    return _working_days_deadline(
        feedback_on,
        10,
        "第十八条（九）：收到反馈意见后10个工作日内报送整改方案和整改台账",
        calendar,
    )


def rectification_report_due(feedback_on: date) -> Deadline:
    """第十八条(九): a written report on the rectification within one month of the feedback."""
    return Deadline(
        add_calendar_month(feedback_on), "第十八条（九）：收到反馈意见后1个月内书面报告整改落实情况"
    )


def days_left(due: date, today: date) -> int:
    """Calendar days until ``due``; 0 on the day itself, negative once overdue."""
    return (due - today).days


def deadline_status(due: date, today: date) -> DeadlineStatus:
    left = days_left(due, today)
    if left > 0:
        label = f"剩余{left}天"
    elif left == 0:
        label = "今日到期"
    else:
        label = f"已逾期{-left}天"
    return DeadlineStatus(due, left, left < 0, label)
