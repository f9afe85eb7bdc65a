"""The place tree and the people living in it.

Places: Region (province … community, official 12-digit codes) → Grid (one compound) → Building → Unit → Household.
Every row below the community carries ``region_code`` (its community's code as an integer) so scoping by any
region is one indexed range filter, and ``grid`` so a grid worker's list is one indexed equality.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from linli.core.models import TimeStamped
from linli.registry.choices import (
    GridKind,
    IdKind,
    PoliticalStatus,
    RegionLevel,
    Relation,
    ResidenceType,
    ResidentStatus,
    Sex,
)


class Region(models.Model):
    code = models.CharField(_("区划代码"), max_length=12, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    level = models.CharField(_("层级"), max_length=16, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    edition = models.CharField(_("区划版本"), max_length=8, default="2023")

    class Meta:
        ordering = ["code"]
        indexes = [models.Index(fields=["parent", "code"], name="region_parent_code")]

    def __str__(self) -> str:
        return self.name

    @property
    def code_int(self) -> int:
        return int(self.code.ljust(12, "0"))


class Grid(TimeStamped):
    """A grid is one residential compound ("网格与小区合一")."""

    SCOPE_FIELDS = {"region_code": "region_code", "grid": "id"}

    community = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="grids")
    region_code = models.BigIntegerField(db_index=True)
    code = models.CharField(_("网格编码"), max_length=20, unique=True)
    name = models.CharField(_("网格/小区名称"), max_length=64)
    kind = models.CharField(
        _("小区类型"), max_length=16, choices=GridKind.choices, default=GridKind.COMMERCIAL
    )
    boundary = models.JSONField(_("边界 (GeoJSON)"), null=True, blank=True)
    centroid_lat = models.FloatField(null=True, blank=True)
    centroid_lng = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Building(models.Model):
    SCOPE_FIELDS = {"region_code": "grid__region_code", "grid": "grid_id", "building": "id"}

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="buildings")
    name = models.CharField(_("楼栋"), max_length=32)
    floors = models.PositiveSmallIntegerField(_("层数"), null=True, blank=True)
    lat = models.FloatField(null=True, blank=True)
    lng = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["grid", "name"], name="building_unique_name")]

    def __str__(self) -> str:
        return self.name


class Unit(models.Model):
    SCOPE_FIELDS = {"region_code": "building__grid__region_code", "grid": "building__grid_id", "unit": "id"}

    building = models.ForeignKey(Building, on_delete=models.PROTECT, related_name="units")
    name = models.CharField(_("单元"), max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["building", "name"], name="unit_unique_name")]

    def __str__(self) -> str:
        return self.name


class Household(TimeStamped):
    SCOPE_FIELDS = {
        "region_code": "region_code",
        "grid": "grid_id",
        "building": "building_id",
        "unit": "unit_id",
    }

    grid = models.ForeignKey(Grid, on_delete=models.PROTECT, related_name="households", db_index=False)
    region_code = models.BigIntegerField()
    building = models.ForeignKey(
        Building, null=True, blank=True, on_delete=models.PROTECT, related_name="households"
    )
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="households")
    door_number = models.CharField(_("门牌号"), max_length=32)
    # The ledger's 户号: two families registered at one door are two households with the same address.
    household_no = models.CharField(_("户号"), max_length=32, blank=True, default="", db_default="")
    address = models.CharField(_("地址"), max_length=200)
    last_verified_at = models.DateTimeField(_("最近核实时间"), null=True, blank=True)
    last_verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["grid", "address", "household_no"], name="household_unique_address_no"
            ),
        ]
        indexes = [
            models.Index(fields=["region_code", "id"], name="household_region_id"),
            models.Index(fields=["grid", "id"], name="household_grid_id"),
            models.Index(fields=["grid", "last_verified_at"], name="household_grid_verified"),
        ]

    def __str__(self) -> str:
        return self.address


class KeyGroup(models.Model):
    """An editable list of key groups (重点人群); ``min_age`` groups are derived from the birth date."""

    code = models.SlugField(_("代码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=32, unique=True)
    min_age = models.PositiveSmallIntegerField(_("按年龄自动归入（岁及以上）"), null=True, blank=True)
    sort = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort", "id"]

    def __str__(self) -> str:
        return self.name


class Resident(TimeStamped):
    SCOPE_FIELDS = {
        "region_code": "region_code",
        "grid": "grid_id",
        "building": "household__building_id",
        "unit": "household__unit_id",
    }

    # Foreign keys without their own single-column index: the composite indexes in Meta serve them.
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.PROTECT, related_name="residents", db_index=False
    )
    grid = models.ForeignKey(
        Grid, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    region_code = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(_("姓名"), max_length=64)
    id_kind = models.CharField(
        _("证件类型"), max_length=24, choices=IdKind.choices, default=IdKind.RESIDENT_ID
    )
    id_cipher = models.TextField()
    id_digest = models.CharField(max_length=64)
    id_masked = models.CharField(_("证件号码"), max_length=32)
    id_last4 = models.CharField(max_length=4)
    birth_date = models.DateField(_("出生日期"), null=True, blank=True, db_index=True)
    sex = models.CharField(_("性别"), max_length=1, choices=Sex.choices, blank=True)
    phone_cipher = models.TextField(blank=True)
    phone_digest = models.CharField(max_length=64, blank=True)
    phone_masked = models.CharField(_("联系电话"), max_length=20, blank=True)
    ethnicity = models.CharField(_("民族"), max_length=16, blank=True)
    political_status = models.CharField(
        _("政治面貌"), max_length=20, choices=PoliticalStatus.choices, default=PoliticalStatus.MASSES
    )
    occupation = models.CharField(_("职业"), max_length=64, blank=True)
    residence_type = models.CharField(
        _("人口类型"), max_length=16, choices=ResidenceType.choices, default=ResidenceType.REGISTERED
    )
    relation = models.CharField(
        _("与户主关系"), max_length=16, choices=Relation.choices, default=Relation.OTHER
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=ResidentStatus.choices, default=ResidentStatus.ACTIVE
    )
    key_groups: models.ManyToManyField = models.ManyToManyField(
        KeyGroup, blank=True, related_name="residents", through="ResidentKeyGroup"
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["region_code", "id"], name="resident_region_id"),
            models.Index(fields=["grid", "id"], name="resident_grid_id"),
            models.Index(fields=["household"], name="resident_household"),
            models.Index(fields=["name"], name="resident_name", opclasses=["varchar_pattern_ops"]),
            # Plain indexes (not unique=/db_index= on the field), so PostgreSQL gets no extra LIKE index for them.
            models.Index(fields=["id_last4"], name="resident_id_last4"),
            models.Index(fields=["phone_digest"], name="resident_phone_digest"),
        ]
        constraints = [models.UniqueConstraint(fields=["id_digest"], name="resident_unique_id_digest")]

    def __str__(self) -> str:
        return self.name


class ResidentKeyGroup(models.Model):
    # The unique (resident, key_group) and the (key_group, resident) index serve both foreign keys.
    resident = models.ForeignKey(Resident, on_delete=models.CASCADE, db_index=False)
    key_group = models.ForeignKey(KeyGroup, on_delete=models.PROTECT, db_index=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resident", "key_group"], name="resident_keygroup_unique")
        ]
        indexes = [models.Index(fields=["key_group", "resident"], name="keygroup_resident")]

    def __str__(self) -> str:
        return f"{self.resident_id}:{self.key_group_id}"


class Residence(models.Model):
    """Move-in and move-out history; rows are closed, never deleted."""

    resident = models.ForeignKey(Resident, on_delete=models.PROTECT, related_name="residences")
    household = models.ForeignKey(Household, on_delete=models.PROTECT, related_name="residences")
    moved_in_on = models.DateField(_("迁入日期"))
    moved_out_on = models.DateField(_("迁出日期"), null=True, blank=True)
    reason = models.CharField(_("原因"), max_length=100, blank=True)

    class Meta:
        ordering = ["-moved_in_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["resident"], condition=models.Q(moved_out_on__isnull=True), name="residence_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resident_id} @ {self.household_id} from {self.moved_in_on}"


class ImportJob(TimeStamped):
    """A ledger import; resumable: batches are committed one by one and ``rows_done`` records the checkpoint."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("待确认")  # uploaded in the console: column mapping and preview come first
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    filename = models.CharField(max_length=200)
    path = models.CharField(max_length=500)
    sha256 = models.CharField(max_length=64, db_index=True)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)  # [{"row": 3, "column": "证件号码", "reason": "…"}]
    message = models.CharField(max_length=500, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Automatic re-queues after the worker stopped heart-beating; at LINLI_IMPORT_MAX_ATTEMPTS the job is failed.
    attempts = models.PositiveSmallIntegerField(default=0)
    # ``ledger_import.ImportOptions`` as a dict: sheet, column mapping, create_places, replace_empty, allow_renames.
    options = models.JSONField(default=dict, blank=True)
    last_row = models.PositiveIntegerField(default=0)  # spreadsheet row number of the last committed row
    warnings = models.JSONField(default=list, blank=True)  # like ``errors``: values left out, marks, guesses
    summary = models.JSONField(default=list, blank=True)  # problems and normalisations grouped, with counts
    preview = models.JSONField(
        default=dict, blank=True
    )  # the dry run's changes (``ImportResult.preview_dict``)
    previewed_at = models.DateTimeField(null=True, blank=True)
    owner = models.CharField(
        max_length=80, blank=True
    )  # "host:pid" of the process running it (a dead CLI frees it)

    def __str__(self) -> str:
        return f"{self.filename} ({self.status})"


class ColumnAlias(models.Model):
    """A ledger column heading and the field it fills: installation-wide (``region`` empty, edited by a county/city
    post) or remembered for one community when its worker corrects the mapping of an import. ``key`` empty means
    "ignore this column". Headings are stored normalised (``ledger_columns.normalise_header``)."""

    region = models.ForeignKey(
        Region, null=True, blank=True, on_delete=models.CASCADE, related_name="column_aliases"
    )
    header = models.CharField(_("表头"), max_length=64)
    key = models.CharField(_("对应字段"), max_length=48, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["region", "header"], name="column_alias_unique"),
            models.UniqueConstraint(
                fields=["header"], condition=models.Q(region__isnull=True), name="column_alias_unique_global"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.header} → {self.key or '-'}"


class PopulationCount(models.Model):
    """One community's residents, households, stale households and key-group members, counted by the monitor
    (``linli.registry.population``) for the home pages of streets, counties and cities; smaller areas count live."""

    SCOPE_FIELDS = {"region_code": "region_code"}

    region_code = models.BigIntegerField(unique=True)
    residents = models.PositiveIntegerField(default=0)
    households = models.PositiveIntegerField(default=0)
    stale = models.PositiveIntegerField(default=0)
    groups = models.JSONField(default=dict, blank=True)  # key group id (as text) → active residents in it
    counted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.region_code}: {self.residents}"
