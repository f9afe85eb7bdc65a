"""Departments, the party organisation tree and posts; posts decide what a user may see (see access.py)."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped
from linli.org import levels
from linli.org.choices import PartyOrgLevel, PostKind
from linli.registry.models import Building, Grid, Region, Resident, Unit


class Department(models.Model):
    """A functional department (职能部门) of a county or street: 住建, 城管, 卫健 …"""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="departments")
    code = models.SlugField(_("代码"), max_length=32)
    name = models.CharField(_("名称"), max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["region", "code"], name="department_unique_code")]
        ordering = ["region", "code"]

    def __str__(self) -> str:
        return self.name


class PartyOrg(models.Model):
    """Working committee → committee → branch → group, each hanging on a place."""

    name = models.CharField(_("名称"), max_length=100)
    level = models.CharField(_("层级"), max_length=24, choices=PartyOrgLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.PROTECT, related_name="party_orgs"
    )
    grid = models.ForeignKey(Grid, null=True, blank=True, on_delete=models.PROTECT, related_name="party_orgs")
    building = models.ForeignKey(
        Building, null=True, blank=True, on_delete=models.PROTECT, related_name="party_orgs"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(region__isnull=False)
                | models.Q(grid__isnull=False)
                | models.Q(building__isnull=False),
                name="partyorg_has_place",
            )
        ]

    def __str__(self) -> str:
        return self.name


class PartyMember(TimeStamped):
    resident = models.OneToOneField(Resident, on_delete=models.PROTECT, related_name="party_member")
    org = models.ForeignKey(PartyOrg, on_delete=models.PROTECT, related_name="members")
    joined_on = models.DateField(_("入党日期"), null=True, blank=True)
    central_household = models.BooleanField(_("党员中心户"), default=False)
    in_service_elsewhere = models.BooleanField(_("在职党员(双报到)"), default=False)

    def __str__(self) -> str:
        return str(self.resident)


class PostQuerySet(models.QuerySet["Post"]):
    def active(self, on: dt.date | None = None) -> PostQuerySet:
        """Posts in force on ``on`` (default: today): started on or before it, not ended by it. The one definition
        of an active post (issue #10 item 5): a post that starts tomorrow or ended yesterday grants nothing and is
        told nothing."""
        day = on or timezone.localdate()
        return self.not_ended(day).filter(started_on__lte=day)

    def not_ended(self, on: dt.date | None = None) -> PostQuerySet:
        """Posts not ended by ``on``, including those that start later: what post management lists (a post
        assigned ahead of time must stay visible and endable). Grants, routing and notices use ``active``."""
        day = on or timezone.localdate()
        return self.filter(models.Q(ended_on__isnull=True) | models.Q(ended_on__gt=day))


class Post(TimeStamped):
    """A post held on a place. One person may hold several (交叉任职); an ended post grants nothing."""

    kind = models.CharField(_("岗位"), max_length=24, choices=PostKind.choices)
    full_time = models.BooleanField(_("专职"), default=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="posts"
    )
    resident = models.ForeignKey(
        Resident, null=True, blank=True, on_delete=models.PROTECT, related_name="posts"
    )
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT, related_name="posts")
    grid = models.ForeignKey(Grid, null=True, blank=True, on_delete=models.PROTECT, related_name="posts")
    building = models.ForeignKey(
        Building, null=True, blank=True, on_delete=models.PROTECT, related_name="posts"
    )
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="posts")
    department = models.ForeignKey(
        Department, null=True, blank=True, on_delete=models.PROTECT, related_name="posts"
    )
    started_on = models.DateField(_("任职日期"))
    ended_on = models.DateField(_("离任日期"), null=True, blank=True)

    objects = PostQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["user", "ended_on"], name="post_user_active")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | models.Q(resident__isnull=False),
                name="post_has_holder",
            ),
            models.CheckConstraint(
                condition=models.Q(region__isnull=False)
                | models.Q(grid__isnull=False)
                | models.Q(building__isnull=False)
                | models.Q(unit__isnull=False)
                | models.Q(department__isnull=False),
                name="post_has_place",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} @ {self.region or self.grid or self.building or self.unit or self.department}"

    def clean(self) -> None:
        """Mirrors the level rule of ``services.post_assign`` (ADR 0019) for model forms and scripts."""
        place = levels.post_place(self)
        error = levels.misfit(self.kind, place) if place is not None else None
        if error:
            raise ValidationError({"kind": error})
