"""Appeals (民情诉求): categories, cases, their append-only timeline and idempotency keys.

Fields and constraints only; every write goes through ``services.py``. ``Case`` carries ``region_code`` (its
community's code as an integer) and ``grid`` like the registry's rows, so the scoping layer filters it with one
indexed range or equality, and ``handler_department`` so a department sees what was routed to it.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from linli.cases.choices import (
    ACCEPT_CLOCK,
    ALERT_NONE,
    ALERT_RED,
    HANDLING,
    OPEN_INDEX_STATUSES,
    Action,
    Activity,
    AttributeType,
    Channel,
    EmergencyRule,
    HandlingLevel,
    Satisfaction,
    Status,
    Step,
    SupervisionLevel,
    SystemAction,
    TimeUnit,
    Urgency,
)
from linli.org.models import Department
from linli.registry.models import Building, Grid, Household, Region, Resident, Unit

DESCRIPTION_MAX = 5000


class Category(models.Model):
    """A kind of problem (分类), with its routing defaults and time limits; a tree (parent → children)."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    code = models.SlugField(_("代码"), max_length=48, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    description = models.CharField(_("说明"), max_length=300, blank=True)
    default_level = models.CharField(
        _("默认处置层级"), max_length=16, choices=HandlingLevel.choices, default=HandlingLevel.COMMUNITY
    )
    default_department_code = models.SlugField(_("默认职能部门代码"), max_length=32, blank=True)
    # 物业服务类: reported in a compound with a property manager (物业经理), the appeal goes to that manager
    # (``linli.cases.property_service``); elsewhere it follows the default level like any other.
    property_service = models.BooleanField(_("物业服务类（派给小区物业经理）"), default=False)
    accept_within = models.PositiveIntegerField(_("受理时限"), default=1)
    accept_unit = models.CharField(
        _("受理时限单位"), max_length=16, choices=TimeUnit.choices, default=TimeUnit.WORKING_DAYS
    )
    resolve_within = models.PositiveIntegerField(_("办结时限"), default=5)
    resolve_unit = models.CharField(
        _("办结时限单位"), max_length=16, choices=TimeUnit.choices, default=TimeUnit.WORKING_DAYS
    )
    service_code = models.CharField(_("Open311 服务代码"), max_length=32, unique=True)
    keywords = models.CharField(_("关键词"), max_length=200, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    sort = models.PositiveSmallIntegerField(_("排序"), default=0)
    # Emergencies (紧急警情, ADR 0026): when a report is one, the minutes its natural-time clock allows, and how long
    # the on-duty people have to acknowledge it before the push climbs to the street, then the county.
    emergency_rule = models.CharField(
        _("紧急警情规则"), max_length=16, choices=EmergencyRule.choices, default=EmergencyRule.OFF
    )
    emergency_attribute = models.SlugField(_("触发字段代码"), max_length=48, blank=True)
    emergency_values = models.CharField(_("触发取值"), max_length=200, blank=True)
    emergency_keywords = models.CharField(_("触发关键词"), max_length=200, blank=True)
    emergency_accept_minutes = models.PositiveIntegerField(_("紧急受理时限（分钟）"), default=10)
    emergency_resolve_minutes = models.PositiveIntegerField(_("紧急办结时限（分钟）"), default=120)
    emergency_ack_minutes = models.PositiveIntegerField(_("接警确认时限（分钟）"), default=5)

    class Meta:
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.name


class CategoryAttribute(models.Model):
    """An extra field of a category (an Open311 service definition attribute)."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="attributes")
    code = models.SlugField(_("代码"), max_length=48)
    datatype = models.CharField(
        _("数据类型"), max_length=16, choices=AttributeType.choices, default=AttributeType.STRING
    )
    required = models.BooleanField(_("必填"), default=False)
    variable = models.BooleanField(default=True)  # Open311: false = informational only
    description = models.CharField(_("说明"), max_length=200)
    values = models.JSONField(_("可选值"), default=list, blank=True)  # [{"key": "...", "name": "..."}]
    order = models.PositiveSmallIntegerField(_("顺序"), default=0)

    class Meta:
        ordering = ["category", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["category", "code"], name="category_attribute_unique_code")
        ]

    def __str__(self) -> str:
        return f"{self.category_id}:{self.code}"


class CaseSequence(models.Model):
    """The last case number handed out on one (local) day; incremented by a conditional UPDATE."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


_ACCEPT_CLOCK = [str(s) for s in ACCEPT_CLOCK]
_HANDLING = [str(s) for s in HANDLING]


def _open(**kwargs: Any) -> Q:
    return Q(status__in=OPEN_INDEX_STATUSES, **kwargs)


def new_public_id() -> str:
    """16 lower-case base32 characters (80 random bits), e.g. ``k3v9q2m7xa4hd6ze``."""
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()


class Case(models.Model):
    """One appeal (诉求/工单), whatever channel it came through."""

    SCOPE_FIELDS = {
        "region_code": "region_code",
        "grid": "grid_id",
        "building": "building_id",
        "unit": "unit_id",
        "department": "handler_department_id",
        "handler_user": "handler_user_id",  # a property manager's scope: the cases handed to them (Scope.handled)
    }

    number = models.CharField(_("编号"), max_length=24, unique=True)
    title = models.CharField(_("标题"), max_length=100)
    description = models.TextField(_("描述"), max_length=DESCRIPTION_MAX)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="cases", db_index=False)
    channel = models.CharField(_("来源渠道"), max_length=16, choices=Channel.choices)
    attributes = models.JSONField(_("附加信息"), default=dict, blank=True)

    # Place
    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="cases", db_index=False)
    region_code = models.BigIntegerField()
    building = models.ForeignKey(
        Building, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    address = models.CharField(_("地点"), max_length=200, blank=True)

    # Reporter: nothing at all when anonymous; personal values encrypted, shown masked.
    anonymous = models.BooleanField(_("匿名"), default=False)
    resident = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    reporter_name_cipher = models.TextField(blank=True)
    reporter_name_masked = models.CharField(_("反映人"), max_length=64, blank=True)
    reporter_phone_cipher = models.TextField(blank=True)
    reporter_phone_digest = models.CharField(max_length=64, blank=True)
    reporter_phone_masked = models.CharField(_("联系电话"), max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )

    # Routing and handling
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    urgency = models.CharField(_("紧急程度"), max_length=16, choices=Urgency.choices, default=Urgency.NORMAL)
    handling_level = models.CharField(
        _("处置层级"), max_length=16, choices=HandlingLevel.choices, default=HandlingLevel.COMMUNITY
    )
    handler_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    handler_department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="cases", db_index=False
    )
    version = models.PositiveIntegerField(default=1)

    # Clock (aware datetimes); the "overdue at this step" flags are set once when the step completes.
    accept_due_at = models.DateTimeField(_("受理时限"), null=True, blank=True)
    resolve_due_at = models.DateTimeField(_("办结时限"), null=True, blank=True)
    callback_due_at = models.DateTimeField(_("回访时限"), null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)
    # The due-time sweeps: the yellow marks (80 % of each window) and what was issued per step (choices.ALERT_*).
    accept_soon_at = models.DateTimeField(null=True, blank=True)
    resolve_soon_at = models.DateTimeField(null=True, blank=True)
    accept_alert = models.PositiveSmallIntegerField(default=ALERT_NONE)
    resolve_alert = models.PositiveSmallIntegerField(default=ALERT_NONE)
    accept_overdue = models.BooleanField(_("受理超时"), null=True, blank=True)
    resolve_overdue = models.BooleanField(_("办结超时"), null=True, blank=True)
    reopened_count = models.PositiveSmallIntegerField(_("返工次数"), default=0)
    satisfaction = models.CharField(_("满意度"), max_length=16, choices=Satisfaction.choices, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_cases", db_index=False
    )
    patrol = models.ForeignKey(
        "cases.PatrolLog",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,
    )
    extended_seconds = models.PositiveIntegerField(default=0)  # working (or elapsed) time added by extensions
    # An emergency (紧急警情): its clocks run on natural time (``linli.cases.urgency``); never cleared once set.
    emergency = models.BooleanField(_("紧急警情"), default=False)

    tracking_token = models.CharField(max_length=43, unique=True)
    # The case's public identifier (Open311 service_request_id): random, so the public feed cannot be walked by
    # number; the sequential ``number`` stays for staff and phone calls.
    public_id = models.CharField(max_length=16, unique=True, default=new_public_id, editable=False)
    created_at = models.DateTimeField(_("提交时间"))
    updated_at = models.DateTimeField()

    class Meta:
        indexes = [
            # Keyset lists inside a scope (newest first).
            models.Index(fields=["region_code", "id"], name="case_region_id"),
            models.Index(fields=["grid", "id"], name="case_grid_id"),
            models.Index(fields=["handler_department", "id"], name="case_dept_id"),
            models.Index(fields=["category", "id"], name="case_category_id"),
            models.Index(
                fields=["merged_into"], name="case_merged_into", condition=Q(merged_into__isnull=False)
            ),
            models.Index(fields=["patrol"], name="case_patrol", condition=Q(patrol__isnull=False)),
            # A resident's appeals on the resident page (issue #12); most cases name no ledger resident.
            models.Index(
                fields=["resident", "id"], name="case_resident_id", condition=Q(resident__isnull=False)
            ),
            # Rollups of the 三率 are refreshed for the report days of cases changed since the last refresh.
            models.Index(fields=["updated_at"], name="case_updated_at"),
            models.Index(fields=["created_at"], name="case_created_at"),
            # "My open cases" and "open and overdue / due soon" queues: partial indexes over open cases only.
            # Scoped queues of open cases, newest first (e.g. a street's "open and overdue"): walked backwards, it
            # skips every closed case, which is most of the table.
            models.Index(fields=["id"], name="case_open_id", condition=_open()),
            # Possible duplicates: open cases of one grid reported around a moment (linli.triage.duplicates).
            models.Index(fields=["grid", "created_at"], name="case_open_grid_created", condition=_open()),
            # … and open cases with a point in one community, by latitude: the radius search's bounding box.
            models.Index(
                fields=["region_code", "lat"],
                name="case_open_region_lat",
                condition=_open() & Q(lat__isnull=False),
            ),
            models.Index(
                fields=["handler_user", "resolve_due_at"], name="case_open_handler", condition=_open()
            ),
            models.Index(
                fields=["handler_department", "resolve_due_at"], name="case_open_dept", condition=_open()
            ),
            models.Index(
                fields=["region_code", "resolve_due_at"], name="case_open_region", condition=_open()
            ),
            # The sweeps claim due rows per step.
            models.Index(fields=["accept_due_at"], name="case_accept_due", condition=Q(status="assigned")),
            models.Index(
                fields=["resolve_due_at"],
                name="case_resolve_due",
                condition=Q(status__in=["accepted", "in_progress"]),
            ),
            models.Index(
                fields=["callback_due_at"],
                name="case_callback_due",
                condition=Q(status__in=["resolved", "awaiting_callback"]),
            ),
            # Rows the due-time sweeps still have to act on; a row leaves its index once its notice is issued.
            models.Index(
                fields=["accept_soon_at"],
                name="case_accept_soon_todo",
                condition=Q(status__in=_ACCEPT_CLOCK, accept_alert=ALERT_NONE),
            ),
            models.Index(
                fields=["accept_due_at"],
                name="case_accept_late_todo",
                condition=Q(status__in=_ACCEPT_CLOCK, accept_alert__lt=ALERT_RED),
            ),
            models.Index(
                fields=["resolve_soon_at"],
                name="case_resolve_soon_todo",
                condition=Q(status__in=_HANDLING, resolve_alert=ALERT_NONE),
            ),
            models.Index(
                fields=["resolve_due_at"],
                name="case_resolve_late_todo",
                condition=Q(status__in=_HANDLING, resolve_alert__lt=ALERT_RED),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(anonymous=False)
                | Q(
                    resident__isnull=True,
                    reporter_name_cipher="",
                    reporter_phone_cipher="",
                    created_by__isnull=True,
                ),
                name="case_anonymous_has_no_identity",
            ),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_INDEX_STATUSES


class CaseEventQuerySet(models.QuerySet["CaseEvent"]):
    """The timeline is append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise TypeError("CaseEvent rows are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("CaseEvent rows are append-only")


class CaseEvent(models.Model):
    """One entry of a case's timeline: a transition, a note, a merge into it. Never updated or deleted."""

    NOTE = "note"
    CREATE = "create"
    MERGED_IN = "merged_in"

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events", db_index=False)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(max_length=24)  # an Action value, "create", "note" or "merged_in"
    from_status = models.CharField(max_length=20, blank=True)
    to_status = models.CharField(max_length=20, blank=True)
    note = models.TextField(blank=True, max_length=2000)
    data = models.JSONField(default=dict, blank=True)

    objects = CaseEventQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["case", "id"], name="caseevent_case_id")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} @ {self.at:%Y-%m-%d %H:%M}"

    @property
    def kind_label(self) -> str:
        labels = {
            **dict(Action.choices),
            **dict(SystemAction.choices),
            **dict(Activity.choices),
            self.NOTE: _("备注"),
            self.CREATE: _("提交"),
            self.MERGED_IN: _("并入重复诉求"),
        }
        return str(labels.get(self.kind, self.kind))


class Supervision(models.Model):
    """A supervision notice (督办): yellow when 80 % of a step's window is used up, red when it is overdue.

    Issued at most once per case, step, level and round (the case's rework count when issued), which the unique
    constraint guarantees whatever number of monitors run."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="supervisions", db_index=False)
    step = models.CharField(_("环节"), max_length=16, choices=Step.choices)
    level = models.CharField(_("督办等级"), max_length=8, choices=SupervisionLevel.choices)
    round = models.PositiveSmallIntegerField(default=0)
    due_at = models.DateTimeField(_("时限"))
    issued_at = models.DateTimeField(_("督办时间"))
    read_at = models.DateTimeField(_("阅知时间"), null=True, blank=True)
    notified_user_ids = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["case", "step", "level", "round"], name="supervision_once_per_step_level"
            )
        ]
        indexes = [models.Index(fields=["issued_at"], name="supervision_issued")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.step} {self.level}"


class SweepFailure(models.Model):
    """A row a due-time sweep failed on (``linli.cases.sweeps``, ADR 0025): the row's work was rolled back to its
    savepoint and the sweep went on. ``attempts`` counts the runs that failed on it; at ``sweeps.MAX_ATTEMPTS`` the
    sweep leaves it alone until an operator deletes this row. ``error`` is the exception class and SQLSTATE only,
    never the message (a database error's detail can quote the row, personal data included)."""

    sweep = models.CharField(max_length=48)
    row_id = models.BigIntegerField()
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=100, blank=True)
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["sweep", "row_id"], name="sweepfailure_once_per_row")]

    def __str__(self) -> str:
        return f"{self.sweep} #{self.row_id} × {self.attempts}"


class IdempotencyKey(models.Model):
    """A client's retry key: the same key returns the first case; a reused key with another payload conflicts."""

    client = models.CharField(
        max_length=64, blank=True
    )  # "" for the console and mobile pages, else the API client
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    case = models.ForeignKey(Case, null=True, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotency_unique_key")]

    def __str__(self) -> str:
        return f"{self.client}:{self.key}"


# ------------------------------------------------------------------------------------------------ attachments


class AttachmentPurpose(models.TextChoices):
    REPORT = "report", _("反映照片")
    RESULT = "result", _("办理结果照片")
    PROGRESS = "progress", _("过程照片")


class Attachment(models.Model):
    """A photo on a case (the reporter's, or the handler's proof of a result), written with its case or timeline
    entry in one transaction. The file lives under ``MEDIA_ROOT`` and is served only by views that check the
    case's scope or its tracking token; ``sha256`` lets a retried upload be recognised."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments", db_index=False)
    event = models.ForeignKey(
        CaseEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments", db_index=False
    )
    purpose = models.CharField(max_length=16, choices=AttachmentPurpose.choices)
    file = models.FileField(upload_to="cases/%Y/%m/", max_length=200)
    content_type = models.CharField(max_length=40)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["case", "id"], name="attachment_case_id")]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.file.name}"


# ------------------------------------------------------------------------------------ whistle (吹哨 / 报到)


class WhistleStatus(models.TextChoices):
    CALLED = "called", _("待报到")
    REPORTED = "reported", _("已报到")
    FINISHED = "finished", _("已完成")
    WITHDRAWN = "withdrawn", _("已撤回")


WHISTLE_OPEN = ["called", "reported"]


class Whistle(models.Model):
    """One department called to one case by a community (社区吹哨). The department must report (报到, accept its
    part) before ``report_due_at`` and then finish its part with a result; each department's part has its own
    status, clock and frozen "was it late" flag. A department has at most one open part per case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="whistles", db_index=False)
    department = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="whistles", db_index=False
    )
    status = models.CharField(max_length=16, choices=WhistleStatus.choices, default=WhistleStatus.CALLED)
    reason = models.TextField(_("吹哨事由"), max_length=1000)
    called_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    called_at = models.DateTimeField()
    report_due_at = models.DateTimeField(_("报到时限"))
    finish_due_at = models.DateTimeField(_("完成时限"))
    reported_at = models.DateTimeField(null=True, blank=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    report_overdue = models.BooleanField(null=True, blank=True)  # frozen when reported (or when found late)
    finished_at = models.DateTimeField(null=True, blank=True)
    finish_overdue = models.BooleanField(null=True, blank=True)
    result = models.TextField(_("办理结果"), blank=True, max_length=2000)
    alert = models.PositiveSmallIntegerField(default=ALERT_NONE)  # the sweep's red notice for a late report
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["case", "id"], name="whistle_case_id"),
            models.Index(fields=["department", "case"], name="whistle_department_case"),
            models.Index(
                fields=["department", "report_due_at"],
                name="whistle_open_dept",
                condition=Q(status__in=WHISTLE_OPEN),
            ),
            models.Index(
                fields=["report_due_at"],
                name="whistle_report_late_todo",
                condition=Q(status="called", alert__lt=ALERT_RED),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "department"],
                condition=Q(status__in=WHISTLE_OPEN),
                name="whistle_one_open_per_department",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id}→{self.department_id} {self.status}"


# ----------------------------------------------------------------------------------------- extensions (延期)


class ExtensionStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("未批准")
    WITHDRAWN = "withdrawn", _("已撤回")


class Extension(models.Model):
    """A handler's request for more time on the resolve step (延期申请), decided by the level above. Approval moves
    ``Case.resolve_due_at`` by ``amount`` of ``unit``; the request keeps the due time before and after."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="extensions", db_index=False)
    status = models.CharField(max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.PENDING)
    amount = models.PositiveIntegerField(_("延期时长"))
    unit = models.CharField(_("单位"), max_length=16, choices=TimeUnit.choices, default=TimeUnit.WORKING_DAYS)
    reason = models.TextField(_("延期理由"), max_length=1000)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True, max_length=1000)
    due_before = models.DateTimeField(null=True, blank=True)
    due_after = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["case", "id"], name="extension_case_id"),
            models.Index(fields=["requested_at"], name="extension_pending", condition=Q(status="pending")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=Q(status="pending"), name="extension_one_pending_per_case"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} +{self.amount} {self.unit} {self.status}"


# ------------------------------------------------------------------------------------------- me too (+1)


class Supporter(models.Model):
    """A public "me too" (+1) on a visible case instead of a duplicate report. ``digest`` is a keyed hash of who
    supported (a signed-in user, a phone, or a browser's token), never the value itself; one per person."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="supporters", db_index=False)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "digest"], name="supporter_once_per_case")]

    def __str__(self) -> str:
        return f"{self.case_id}+1"


# --------------------------------------------------------------------------------------------- callbacks


class Feedback(models.Model):
    """One reporter's answer to the callback (回访). The case's own reporter answers through ``transition``
    (confirm); the reporters of cases merged into it answer here, each on their own, against the target case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="feedback", db_index=False)
    source_case = models.ForeignKey(
        Case, on_delete=models.PROTECT, related_name="+", db_index=False
    )  # the merged case whose reporter answered
    satisfaction = models.CharField(max_length=16, choices=Satisfaction.choices)
    note = models.TextField(blank=True, max_length=1000)
    via = models.CharField(max_length=16)  # "mobile" (tracking link) or "phone" (staff recorded)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["case", "id"], name="feedback_case_id")]
        constraints = [
            models.UniqueConstraint(fields=["source_case", "case"], name="feedback_once_per_merged_case")
        ]

    def __str__(self) -> str:
        return f"{self.source_case_id}→{self.case_id} {self.satisfaction}"


# ---------------------------------------------------------------------------------------- patrols (一日双巡)


class PatrolShift(models.TextChoices):
    MORNING = "morning", _("上午巡查")
    AFTERNOON = "afternoon", _("下午巡查")


class PatrolLog(models.Model):
    """One patrol of a grid worker (一日双巡: morning and afternoon): when, where, and what was found — also when
    nothing was. Problems found are cases with ``channel=patrol`` pointing back here."""

    SCOPE_FIELDS = {"region_code": "region_code", "grid": "grid_id"}

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="patrols", db_index=False)
    region_code = models.BigIntegerField()
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    shift = models.CharField(_("班次"), max_length=16, choices=PatrolShift.choices)
    day = models.DateField(_("日期"))
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)
    buildings = models.ManyToManyField(Building, blank=True, related_name="+")
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)
    found_nothing = models.BooleanField(_("未发现问题"), default=False)
    note = models.TextField(_("巡查情况"), blank=True, max_length=2000)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["grid", "day"], name="patrol_grid_day"),
            models.Index(fields=["worker", "day"], name="patrol_worker_day"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["worker", "grid", "day", "shift"], name="patrol_once_per_shift")
        ]

    def __str__(self) -> str:
        return f"{self.grid_id} {self.day} {self.shift}"


# ------------------------------------------------------------------------------------ emergencies (紧急警情)


class Alarm(models.Model):
    """The push of one emergency case to the on-duty people, and its acknowledgement (接警确认).

    Until someone acknowledges, the monitor climbs ``level`` once ``ack_due_at`` passes (street duty, then county
    duty: ``choices.AlarmLevel``) by a conditional UPDATE; at the top ``ack_due_at`` is cleared."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="alarm")
    reason = models.CharField(_("触发原因"), max_length=200)
    raised_at = models.DateTimeField(_("推送时间"))
    level = models.PositiveSmallIntegerField(_("推送层级"), default=0)
    ack_due_at = models.DateTimeField(_("接警确认时限"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("接警确认时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    notified = models.JSONField(
        default=list, blank=True
    )  # [{"level": 0, "users": [ids], "phones": [masked]}]

    class Meta:
        indexes = [
            models.Index(
                fields=["ack_due_at"],
                name="alarm_unacknowledged",
                condition=Q(acknowledged_at__isnull=True, ack_due_at__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} L{self.level}"


class DutyPhone(models.Model):
    """The duty phone (值班电话) of a community, street or county: told of every emergency in it by SMS."""

    region = models.OneToOneField(Region, on_delete=models.CASCADE, related_name="duty_phone")
    phone = models.CharField(_("值班电话"), max_length=20)
    note = models.CharField(_("说明"), max_length=64, blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.region_id}: {self.phone}"


# ------------------------------------------------------------------------------ the dashboards' counts (看板)


class QueueCount(models.Model):
    """The open cases of one community routed to one department (0: none), by what waits for whom — counted by
    the monitor (``linli.cases.dashboard.refresh_queue_counts``) so that a street's or a county's home page reads
    a few hundred rows instead of counting millions of cases. Smaller areas are counted live."""

    SCOPE_FIELDS = {"region_code": "region_code", "department": "department_id"}

    region_code = models.BigIntegerField()  # the community's 12-digit code, as on cases
    department_id = models.BigIntegerField(default=0)  # Case.handler_department, 0 when none
    untaken = models.BooleanField(default=True)  # no handler (person) yet: a department's queue counts these
    open = models.PositiveIntegerField(default=0)
    submitted = models.PositiveIntegerField(default=0)
    triaged = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)
    handling = models.PositiveIntegerField(default=0)
    callback = models.PositiveIntegerField(default=0)
    overdue = models.PositiveIntegerField(default=0)
    due_soon = models.PositiveIntegerField(default=0)
    emergency = models.PositiveIntegerField(default=0)
    counted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["region_code", "department_id", "untaken"], name="queuecount_unique_place"
            )
        ]
        indexes = [models.Index(fields=["department_id"], name="queuecount_department")]

    def __str__(self) -> str:
        return f"{self.region_code}/{self.department_id}: {self.open}"


class QueueCountRun(models.Model):
    """When the queue counts were last taken and how long it took (one row)."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    counted_at = models.DateTimeField()
    seconds = models.FloatField(default=0)
    groups = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"queue counts at {self.counted_at}"
