"""Open311 clients and what the GeoReport v2 adapter keeps beside a case.

Fields and constraints only; writes go through ``apikeys.py`` and ``services.py``. The case itself (with its
timeline and audit rows) is created by ``linli.cases.services.case_create``; ``Open311Request`` only records what
GeoReport v2 carries that a case has no column for (the client, its token, ``media_url``, the submitter's e-mail
encrypted, ``account_id``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.cases.models import Case, CaseEvent
from linli.registry.models import Grid, Region


class ApiClient(models.Model):
    """A client application allowed to POST to Open311. The key itself is never stored: only a keyed hash
    (``linli.core.crypto.cipher().digest``) to find it and a short prefix to recognise it in lists."""

    name = models.CharField(_("名称"), max_length=48, unique=True)
    key_prefix = models.CharField(_("密钥前缀"), max_length=12)
    key_digest = models.CharField(max_length=64, unique=True)
    active = models.BooleanField(_("启用"), default=True)
    default_grid = models.ForeignKey(
        Grid,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("默认受理网格"),
        help_text=_("无法按楼栋或坐标定位时，诉求落到该网格"),
    )
    created_at = models.DateTimeField(_("创建时间"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The creator's area (ADR 0019): managers see and revoke only the keys of areas inside their own; no area is
    # an installation-wide key (made on the command line or by a superuser), for configuration holders only.
    area = models.ForeignKey(
        Region,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("所属区域"),
    )
    revoked_at = models.DateTimeField(_("停用时间"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)

    class Meta:
        ordering = ["-active", "name"]

    def __str__(self) -> str:
        return self.name


class Open311Request(models.Model):
    """A case that came in through ``POST requests``: who sent it and the GeoReport fields beyond the case."""

    case = models.OneToOneField(Case, on_delete=models.PROTECT, related_name="open311")
    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="requests", db_index=False)
    token = models.CharField(max_length=32, unique=True)
    media_url = models.URLField(max_length=500, blank=True)
    account_id = models.CharField(max_length=64, blank=True)
    device_digest = models.CharField(max_length=64, blank=True)  # keyed hash of device_id, never the value
    email_cipher = models.TextField(blank=True)  # the submitter's e-mail, encrypted
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["client", "id"], name="open311_request_client_id")]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.case_id}"


class Open311Update(models.Model):
    """An update a client posted (mySociety ``POST servicerequestupdates``): its own id, kept so a retried post
    is recognised, and the timeline entry it became."""

    client = models.ForeignKey(ApiClient, on_delete=models.PROTECT, related_name="updates", db_index=False)
    client_update_id = models.CharField(max_length=64)
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+", db_index=False)
    event = models.ForeignKey(CaseEvent, on_delete=models.PROTECT, related_name="+", db_index=False)
    status = models.CharField(max_length=32, blank=True)  # what the client said; our status is not changed
    media_url = models.URLField(max_length=500, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "client_update_id"], name="open311_update_once")
        ]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.client_update_id}"
