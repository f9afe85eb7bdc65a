"""Choices of the appeals loop and its state machine: the statuses, the named actions and which action moves a
case from which status to which. ``services.transition`` is the only code that changes ``Case.status``."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    SUBMITTED = "submitted", _("待分流")
    TRIAGED = "triaged", _("已分流")
    ASSIGNED = "assigned", _("待受理")
    ACCEPTED = "accepted", _("已受理")
    IN_PROGRESS = "in_progress", _("办理中")
    PAUSED = "paused", _("已暂停")
    RESOLVED = "resolved", _("已办结")
    AWAITING_CALLBACK = "awaiting_callback", _("待回访")
    CLOSED = "closed", _("已关闭")
    REJECTED = "rejected", _("不予受理")
    MERGED = "merged", _("已合并")


class Action(models.TextChoices):
    TRIAGE = "triage", _("分流")
    ASSIGN = "assign", _("派单")
    ACCEPT = "accept", _("受理")
    START = "start", _("开始办理")
    PAUSE = "pause", _("暂停")
    RESUME = "resume", _("恢复办理")
    RESOLVE = "resolve", _("办结")
    REQUEST_CALLBACK = "request_callback", _("发起回访")
    CONFIRM = "confirm", _("回访确认")
    REOPEN = "reopen", _("重新办理")
    CLOSE_NO_RESPONSE = "close_no_response", _("回访无应答关闭")
    REJECT = "reject", _("不予受理")
    MERGE = "merge", _("合并")
    UNDO_AUTO_TRIAGE = "undo_auto_triage", _("撤销智能分拣")


class SystemAction(models.TextChoices):
    """What the due-time sweeps do to a case (actor = the system). They never change its status, so they live
    outside the state machine's ``ACTIONS``; each still bumps the version and writes a timeline entry."""

    SUPERVISE = "supervise", _("督办")
    ESCALATE = "escalate", _("逾期升级")


class Activity(models.TextChoices):
    """Timeline entries that record something besides a status change (no version bump unless a case column
    changes, as an approved extension moves the resolve deadline)."""

    WHISTLE = "whistle", _("吹哨")
    WHISTLE_REPORT = "whistle_report", _("部门报到")
    WHISTLE_FINISH = "whistle_finish", _("部门办结")
    WHISTLE_WITHDRAW = "whistle_withdraw", _("撤回吹哨")
    WHISTLE_OVERDUE = "whistle_overdue", _("逾期未报到督办")
    EXTENSION_REQUEST = "extension_request", _("申请延期")
    EXTENSION_APPROVE = "extension_approve", _("批准延期")
    EXTENSION_REJECT = "extension_reject", _("驳回延期")
    SUPPORT = "support", _("我也遇到了(+1)")
    FEEDBACK = "feedback", _("合并诉求回访")
    OUTCOME = "outcome", _("办理结果告知")
    PHOTO = "photo", _("上传照片")
    ALARM = "alarm", _("紧急警情推送")
    ALARM_ESCALATE = "alarm_escalate", _("接警超时升级推送")
    ALARM_ACK = "alarm_ack", _("接警确认")


class Step(models.TextChoices):
    """A timed step of a case: the clock each deadline belongs to."""

    ACCEPT = "accept", _("受理")
    RESOLVE = "resolve", _("办结")
    CALLBACK = "callback", _("回访")


class SupervisionLevel(models.TextChoices):
    YELLOW = "yellow", _("黄牌督办")
    RED = "red", _("红牌督办")


class Channel(models.TextChoices):
    QR_RESIDENT = "qr_resident", _("居民扫码")
    GRID_WORKER = "grid_worker", _("网格员上报")
    PATROL = "patrol", _("巡查发现")
    STAFF_HOTLINE = "staff_hotline", _("热线来电")
    DOOR_KNOCK = "door_knock", _("敲门问需")
    WISH_BOX = "wish_box", _("心语心愿箱")
    API = "api", _("接口")
    OPEN311 = "open311", _("Open311")


class HandlingLevel(models.TextChoices):
    BUILDING = "building", _("楼栋")
    GRID = "grid", _("网格(小区)")
    COMMUNITY = "community", _("社区")
    STREET = "street", _("街道")
    DEPARTMENT = "department", _("职能部门")


class Urgency(models.TextChoices):
    NORMAL = "normal", _("一般")
    URGENT = "urgent", _("紧急")
    CRITICAL = "critical", _("特急")


class Satisfaction(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASICALLY = "basically", _("基本满意")
    UNSATISFIED = "unsatisfied", _("不满意")
    NO_RESPONSE = "no_response", _("未应答")


class TimeUnit(models.TextChoices):
    HOURS = "hours", _("工作小时")
    WORKING_DAYS = "working_days", _("工作日")
    CALENDAR_HOURS = "calendar_hours", _("自然小时")


class EmergencyRule(models.TextChoices):
    """When a category's reports are emergencies (紧急警情: 特急, natural-time clock, on-duty people pushed)."""

    OFF = "off", _("不启用")
    ALWAYS = "always", _("一律按紧急警情处置")
    MATCH = "match", _("附加字段或描述命中时")


class AlarmLevel(models.IntegerChoices):
    """How far an emergency's push has climbed: the on-duty people, then the street, then the county."""

    ON_DUTY = 0, _("值班人员")
    STREET = 1, _("街道值班")
    COUNTY = 2, _("县区值班")


class AttributeType(models.TextChoices):
    """Open311 GeoReport v2 attribute datatypes."""

    STRING = "string", _("文本")
    NUMBER = "number", _("数字")
    DATETIME = "datetime", _("日期时间")
    TEXT = "text", _("长文本")
    SINGLE = "singlevaluelist", _("单选")
    MULTI = "multivaluelist", _("多选")


@dataclass(frozen=True)
class Move:
    sources: frozenset[str]
    target: str


S = Status
# action → which statuses it may start from and where it leads. ``confirm`` with "unsatisfied" is carried out
# as ``reopen`` (see services.transition).
ACTIONS: dict[str, Move] = {
    Action.TRIAGE: Move(frozenset({S.SUBMITTED}), S.TRIAGED),
    Action.ASSIGN: Move(frozenset({S.SUBMITTED, S.TRIAGED, S.ASSIGNED}), S.ASSIGNED),
    Action.ACCEPT: Move(frozenset({S.ASSIGNED}), S.ACCEPTED),
    Action.START: Move(frozenset({S.ACCEPTED}), S.IN_PROGRESS),
    Action.PAUSE: Move(frozenset({S.ACCEPTED, S.IN_PROGRESS}), S.PAUSED),
    Action.RESUME: Move(frozenset({S.PAUSED}), S.IN_PROGRESS),
    Action.RESOLVE: Move(frozenset({S.ACCEPTED, S.IN_PROGRESS}), S.RESOLVED),
    Action.REQUEST_CALLBACK: Move(frozenset({S.RESOLVED}), S.AWAITING_CALLBACK),
    Action.CONFIRM: Move(frozenset({S.RESOLVED, S.AWAITING_CALLBACK}), S.CLOSED),
    Action.REOPEN: Move(frozenset({S.RESOLVED, S.AWAITING_CALLBACK}), S.ASSIGNED),
    Action.CLOSE_NO_RESPONSE: Move(frozenset({S.RESOLVED, S.AWAITING_CALLBACK}), S.CLOSED),
    Action.REJECT: Move(frozenset({S.SUBMITTED, S.TRIAGED, S.ASSIGNED}), S.REJECTED),
    Action.MERGE: Move(
        frozenset({S.SUBMITTED, S.TRIAGED, S.ASSIGNED, S.ACCEPTED, S.IN_PROGRESS, S.PAUSED}), S.MERGED
    ),
    # Only while the case's last triage was the classifier's (``services._step_undo_auto_triage`` checks it).
    Action.UNDO_AUTO_TRIAGE: Move(frozenset({S.TRIAGED}), S.SUBMITTED),
}

# The allowed-transitions table, status → statuses it may move to (derived, so the two can never disagree).
ALLOWED: dict[str, frozenset[str]] = {
    status: frozenset(m.target for m in ACTIONS.values() if status in m.sources) for status in Status.values
}

TERMINAL = frozenset({S.CLOSED, S.REJECTED, S.MERGED})
OPEN = tuple(s for s in Status.values if s not in TERMINAL)
# Statuses where a handler owns the case and a clock runs.
WAITING_ACCEPT = (S.ASSIGNED,)
HANDLING = (S.ACCEPTED, S.IN_PROGRESS)
CALLBACK = (S.RESOLVED, S.AWAITING_CALLBACK)
# Statuses in which the accept clock runs (reported, not yet accepted).
ACCEPT_CLOCK = (S.SUBMITTED, S.TRIAGED, S.ASSIGNED)
# The sweep's marks per step on ``Case.accept_alert`` / ``resolve_alert``: 0 none, 1 yellow issued, 2 red issued.
ALERT_NONE, ALERT_YELLOW, ALERT_RED = 0, 1, 2
# Escalation climbs one handling level; street and department are the top levels (the county supervises them).
LEVEL_UP: dict[str, str] = {
    HandlingLevel.BUILDING: HandlingLevel.GRID,
    HandlingLevel.GRID: HandlingLevel.COMMUNITY,
    HandlingLevel.COMMUNITY: HandlingLevel.STREET,
}
# Sortable "open" set used in partial index conditions (kept literal so migrations stay stable).
OPEN_INDEX_STATUSES = [str(s) for s in OPEN]

CALLBACK_SATISFACTION = frozenset({Satisfaction.SATISFIED, Satisfaction.BASICALLY, Satisfaction.UNSATISFIED})
