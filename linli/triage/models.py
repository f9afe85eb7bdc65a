"""Trained classifier versions (one row per training run, with its evaluation; at most one is active), the lease
of the retrain, and the emerging issues (未诉先办) the hotspot sweep raises, with their linked appeals and
append-only timeline."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TriageModel(models.Model):
    """A trained text classifier (``blob``: pickled ``linli.triage.model.TextClassifier``).

    Security: the blob is unpickled when the version is used, so only blobs written by the platform itself (the
    ``train`` service) may ever be stored here; there is deliberately no upload of blobs.
    """

    version = models.PositiveIntegerField(_("版本"), unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    labels = models.JSONField(_("类别"), default=list)
    label_map = models.JSONField(_("类别 → 分类代码"), default=dict, blank=True)
    metrics = models.JSONField(_("评估"), default=dict, blank=True)
    source = models.CharField(_("训练数据"), max_length=200, blank=True)
    blob = models.BinaryField(_("模型"))
    active = models.BooleanField(_("启用"), default=False)
    activated_at = models.DateTimeField(_("启用时间"), null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="triage_model_one_active"
            )
        ]

    def __str__(self) -> str:
        return f"v{self.version}"


class Lease(models.Model):
    """A named lease with an expiry: which process may do one piece of exclusive work (the scheduled retrain) now
    (``linli.triage.lease``). Taken, renewed and released by short conditional UPDATEs, never held by an open
    transaction or a database session, so it works alike on SQLite and on PostgreSQL behind PgBouncer."""

    name = models.CharField(max_length=64, primary_key=True)
    holder = models.CharField(max_length=100, blank=True)  # host:pid:random of the holder; "" when free
    expires_at = models.DateTimeField()
    acquired_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} → {self.holder or '-'} until {self.expires_at:%Y-%m-%d %H:%M:%S}"


# ------------------------------------------------------------------------------------ emerging issues (未诉先办)


class IssueStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    ACKNOWLEDGED = "acknowledged", _("已认领")
    HANDLED = "handled", _("已处理")
    DISMISSED = "dismissed", _("已忽略")


# An issue in one of these may still grow (new similar appeals are linked to it); the others are settled.
ACTIVE_ISSUE_STATUSES = [IssueStatus.OPEN.value, IssueStatus.ACKNOWLEDGED.value]


class EmergingIssue(models.Model):
    """Similar appeals from several households of one place (a building, else a grid) within a short window
    (``linli.triage.hotspots``): raised for the community to act on before residents complain again.

    ``households`` and ``cases_count`` cover every linked case; ``version`` guards the staff transitions (the
    detection sweep never bumps it: a growing issue keeps the version staff read)."""

    SCOPE_FIELDS = {"region_code": "region_code", "grid": "grid_id", "building": "building_id"}

    community = models.ForeignKey(
        "registry.Region", on_delete=models.PROTECT, related_name="+", verbose_name=_("社区")
    )
    region_code = models.BigIntegerField()  # the community's code as an integer, as on cases (scoping)
    grid = models.ForeignKey(
        "registry.Grid", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    building = models.ForeignKey(
        "registry.Building", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    category = models.ForeignKey(
        "cases.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    title = models.CharField(_("标题"), max_length=200)
    status = models.CharField(_("状态"), max_length=16, choices=IssueStatus.choices, default=IssueStatus.OPEN)
    first_at = models.DateTimeField(_("首次反映"))
    last_at = models.DateTimeField(_("最近反映"))
    households = models.PositiveIntegerField(_("涉及户数"), default=0)
    cases_count = models.PositiveIntegerField(_("诉求件数"), default=0)
    terms = models.JSONField(_("共同词"), default=list, blank=True)
    created_at = models.DateTimeField(_("发现时间"))
    updated_at = models.DateTimeField()
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["region_code", "id"], name="issue_region_id"),
            models.Index(fields=["grid", "id"], name="issue_grid_id"),
            # The sweep looks up the issues that may still grow, per place.
            models.Index(
                fields=["grid", "building"],
                name="issue_active_place",
                condition=models.Q(status__in=ACTIVE_ISSUE_STATUSES),
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_ISSUE_STATUSES


class EmergingIssueCase(models.Model):
    """One appeal linked to an emerging issue."""

    issue = models.ForeignKey(EmergingIssue, on_delete=models.CASCADE, related_name="links", db_index=False)
    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="+", db_index=False)
    added_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["case"], name="issuecase_case")]
        constraints = [models.UniqueConstraint(fields=["issue", "case"], name="issuecase_once_per_issue")]

    def __str__(self) -> str:
        return f"{self.issue_id}:{self.case_id}"


class IssueEventKind(models.TextChoices):
    RAISED = "raised", _("发现苗头问题")
    GREW = "grew", _("新增同类诉求")
    ACKNOWLEDGED = "acknowledged", _("认领")
    HANDLED = "handled", _("处理完毕")
    DISMISSED = "dismissed", _("忽略")


class EmergingIssueEventQuerySet(models.QuerySet["EmergingIssueEvent"]):
    """The timeline is append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise TypeError("EmergingIssueEvent rows are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise TypeError("EmergingIssueEvent rows are append-only")


class EmergingIssueEvent(models.Model):
    """One entry of an issue's timeline (raised, grew, a staff decision). Never updated or deleted."""

    issue = models.ForeignKey(EmergingIssue, on_delete=models.PROTECT, related_name="events", db_index=False)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=IssueEventKind.choices)
    note = models.TextField(blank=True, max_length=2000)
    data = models.JSONField(default=dict, blank=True)

    objects = EmergingIssueEventQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["issue", "id"], name="issueevent_issue_id")]

    def __str__(self) -> str:
        return f"{self.issue_id} {self.kind} @ {self.at:%Y-%m-%d %H:%M}"
