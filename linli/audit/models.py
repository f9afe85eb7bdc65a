"""Append-only records: every change to registry data, and every reveal of a full personal value."""

from django.conf import settings
from django.db import models


class ChangeRecord(models.Model):
    """Who changed what, when, before and after (personal values appear masked, never in clear)."""

    class Action(models.TextChoices):
        CREATE = "create", "新增"
        UPDATE = "update", "修改"
        MOVE_IN = "move_in", "迁入"
        MOVE_OUT = "move_out", "迁出"
        VERIFY = "verify", "核实"
        DELETE = "delete", "删除"

    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=32, default="console")  # console, import:<job>, api, demo, cli
    entity = models.CharField(max_length=64)  # "registry.resident"
    entity_id = models.BigIntegerField()
    action = models.CharField(max_length=16, choices=Action.choices)
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [models.Index(fields=["entity", "entity_id", "at"], name="audit_change_entity")]

    def __str__(self) -> str:
        return f"{self.entity}#{self.entity_id} {self.action} @ {self.at:%Y-%m-%d %H:%M}"


class AccessLog(models.Model):
    """A full personal value was shown (who, whose, which field, when, why)."""

    at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    entity = models.CharField(max_length=64)
    entity_id = models.BigIntegerField()
    field = models.CharField(max_length=32)
    reason = models.CharField(max_length=200)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["entity", "entity_id", "at"], name="audit_access_entity"),
            models.Index(fields=["actor", "at"], name="audit_access_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_id} saw {self.entity}#{self.entity_id}.{self.field}"
