"""Chinese labels for keys shown in the console (one table per key family)."""

from __future__ import annotations

from core.access import DeadlineFilter
from core.cases import Channel, MessageKind, Status
from routing import Destination, Discipline, ProblemType

STATUS_LABELS: dict[str, str] = {
    Status.RECEIVED: "待研判",
    Status.TRIAGED: "已研判",
    Status.TRANSFER_PROPOSED: "移交待审批",
    Status.TRANSFERRED: "已移交",
    Status.FEEDBACK_RECEIVED: "已书面反馈",
    Status.CLOSED: "已销号",
    Status.NOT_ACCEPTED: "不予受理",
    Status.DUPLICATE: "重复件",
}

CHANNEL_LABELS: dict[str, str] = {Channel.WEB: "网络", Channel.PHONE: "电话", Channel.MAIL: "信箱"}

MESSAGE_LABELS: dict[str, str] = {
    MessageKind.FROM_REPORTER: "举报人",
    MessageKind.FROM_HANDLER: "答复举报人",
    MessageKind.STAFF_NOTE: "内部备注",
}

DEADLINE_LABELS: dict[str, str] = {
    DeadlineFilter.OVERDUE: "已逾期",
    DeadlineFilter.DUE_SOON: "7日内到期",
    DeadlineFilter.HAS_DEADLINE: "有办理期限",
}

DISCIPLINE_LABELS: dict[str, str] = {d.value: d.label for d in Discipline}
PROBLEM_TYPE_LABELS: dict[str, str] = {p.value: p.label for p in ProblemType}
DESTINATION_LABELS: dict[str, str] = {d.value: d.label for d in Destination}

DECISION_LABELS: dict[str | None, str] = {
    None: "待审批",
    "approved": "已同意",
    "rejected": "未同意",
}

TEMPLATE_GLOBALS: dict[str, object] = {
    "STATUS_LABELS": STATUS_LABELS,
    "CHANNEL_LABELS": CHANNEL_LABELS,
    "MESSAGE_LABELS": MESSAGE_LABELS,
    "DEADLINE_LABELS": DEADLINE_LABELS,
    "DISCIPLINE_LABELS": DISCIPLINE_LABELS,
    "PROBLEM_TYPE_LABELS": PROBLEM_TYPE_LABELS,
    "DESTINATION_LABELS": DESTINATION_LABELS,
    "DECISION_LABELS": DECISION_LABELS,
}

EVENT_LABELS: dict[str, str] = {
    "case.received": "收到举报",
    "case.reporter_message": "举报人补充",
    "case.viewed": "查看（解密）",
    "attachment.downloaded": "下载附件（解密）",
    "case.triaged": "研判/修改标签",
    "case.reply": "答复举报人",
    "case.note": "内部备注",
    "transfer.proposed": "提出移交",
    "transfer.approved": "同意移交",
    "transfer.rejected": "不同意移交",
    "transfer.feedback": "书面反馈",
    "case.closed": "销号",
    "case.duplicate": "重复件",
    "case.not_accepted": "不予受理",
    "staff.login": "登录",
    "staff.login_failed": "登录失败",
    "staff.logout": "退出登录",
    "staff.totp_enrolled": "启用两步验证",
    "staff.password_changed": "修改密码",
    "staff.keys_generated": "生成个人密钥",
}
TEMPLATE_GLOBALS["EVENT_LABELS"] = EVENT_LABELS
