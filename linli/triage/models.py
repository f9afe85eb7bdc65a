"""Trained classifier versions: one row per training run, with its evaluation; at most one is active."""

from __future__ import annotations

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
