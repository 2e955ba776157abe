"""The keys of SPEC §4 and their Chinese labels, defined once.

Every layer (API, CLI, database, templates) uses these keys; the labels are
what people read.
"""

from __future__ import annotations

from enum import StrEnum


class Discipline(StrEnum):
    """六项纪律 (2023《中国共产党纪律处分条例》第六至十一章)."""

    POLITICAL = "political"  # 政治纪律
    ORGANIZATIONAL = "organizational"  # 组织纪律
    INTEGRITY = "integrity"  # 廉洁纪律
    MASS = "mass"  # 群众纪律
    WORK = "work"  # 工作纪律
    LIFE = "life"  # 生活纪律

    @property
    def label(self) -> str:
        return DISCIPLINE_LABELS[self]


class ProblemType(StrEnum):
    """Problem types that decide the destination under 第十九条."""

    VIOLATION_LEAD = "violation_lead"  # 违纪违法问题线索
    ORG_PERSONNEL = "org_personnel"  # 组织建设、选人用人问题
    WORK_ISSUE = "work_issue"  # 工作方面问题
    OTHER = "other"  # 其他问题
    INSPECTOR_MISCONDUCT = "inspector_misconduct"  # 反映巡察人员问题（第二十五条）

    @property
    def label(self) -> str:
        return PROBLEM_TYPE_LABELS[self]


class Destination(StrEnum):
    """Where 第十九条 sends a lead."""

    COUNTY_DISCIPLINE_COMMISSION = "county_discipline_commission"  # 县纪委
    ORGANIZATION_DEPARTMENT = "organization_department"  # 县委组织部
    UNIT_PARTY_ORG = "unit_party_org"  # 被巡察单位党组织
    RELEVANT_DEPARTMENT = "relevant_department"  # 相关部门
    INSPECTION_OFFICE = "inspection_office"  # 县委巡察办

    @property
    def label(self) -> str:
        return DESTINATION_LABELS[self]


DISCIPLINE_LABELS: dict[Discipline, str] = {
    Discipline.POLITICAL: "政治纪律",
    Discipline.ORGANIZATIONAL: "组织纪律",
    Discipline.INTEGRITY: "廉洁纪律",
    Discipline.MASS: "群众纪律",
    Discipline.WORK: "工作纪律",
    Discipline.LIFE: "生活纪律",
}

PROBLEM_TYPE_LABELS: dict[ProblemType, str] = {
    ProblemType.VIOLATION_LEAD: "违纪违法问题线索",
    ProblemType.ORG_PERSONNEL: "组织建设、选人用人问题",
    ProblemType.WORK_ISSUE: "工作方面问题",
    ProblemType.OTHER: "其他问题",
    ProblemType.INSPECTOR_MISCONDUCT: "反映巡察人员问题",
}

DESTINATION_LABELS: dict[Destination, str] = {
    Destination.COUNTY_DISCIPLINE_COMMISSION: "县纪委",
    Destination.ORGANIZATION_DEPARTMENT: "县委组织部",
    Destination.UNIT_PARTY_ORG: "被巡察单位党组织",
    Destination.RELEVANT_DEPARTMENT: "相关部门",
    Destination.INSPECTION_OFFICE: "县委巡察办",
}

# 第十九条: the destination follows from the problem type alone.
DESTINATION_BY_PROBLEM_TYPE: dict[ProblemType, Destination] = {
    ProblemType.VIOLATION_LEAD: Destination.COUNTY_DISCIPLINE_COMMISSION,
    ProblemType.ORG_PERSONNEL: Destination.ORGANIZATION_DEPARTMENT,
    ProblemType.WORK_ISSUE: Destination.UNIT_PARTY_ORG,
    ProblemType.OTHER: Destination.RELEVANT_DEPARTMENT,
    ProblemType.INSPECTOR_MISCONDUCT: Destination.INSPECTION_OFFICE,
}
