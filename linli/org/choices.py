from django.db import models
from django.utils.translation import gettext_lazy as _


class PostKind(models.TextChoices):
    GRID_WORKER = "grid_worker", _("网格员")
    BUILDING_CAPTAIN = "building_captain", _("楼长")
    UNIT_CAPTAIN = "unit_captain", _("单元长")
    COMMUNITY_WORKER = "community_worker", _("社区工作者")
    SECRETARY = "secretary", _("社区书记")
    STREET_STAFF = "street_staff", _("街道工作人员")
    COUNTY_ADMIN = "county_admin", _("县区管理员")
    CITY_ADMIN = "city_admin", _("市级管理员")
    OWNERS_COMMITTEE = "owners_committee", _("业委会成员")
    PROPERTY_MANAGER = "property_manager", _("物业经理")
    DEPARTMENT_HANDLER = "department_handler", _("部门办理人")


class PartyOrgLevel(models.TextChoices):
    WORKING_COMMITTEE = "working_committee", _("街道党工委")
    COMMITTEE = "committee", _("社区党委")
    BRANCH = "branch", _("小区(网格)党支部")
    GROUP = "group", _("楼栋党小组")


# The place each post kind sits on: the place field and, for a region, its level. A post's rights follow the
# level of its place, so each kind fits exactly one kind of place (ADR 0019).
POST_PLACE: dict[str, tuple[str, str | None]] = {
    PostKind.CITY_ADMIN: ("region", "city"),
    PostKind.COUNTY_ADMIN: ("region", "county"),
    PostKind.STREET_STAFF: ("region", "street"),
    PostKind.SECRETARY: ("region", "community"),
    PostKind.COMMUNITY_WORKER: ("region", "community"),
    PostKind.GRID_WORKER: ("grid", None),
    PostKind.OWNERS_COMMITTEE: ("grid", None),
    PostKind.PROPERTY_MANAGER: ("grid", None),
    PostKind.BUILDING_CAPTAIN: ("building", None),
    PostKind.UNIT_CAPTAIN: ("unit", None),
    PostKind.DEPARTMENT_HANDLER: ("department", None),
}

# The rank of each kind: nobody grants (or ends) a post ranked above the highest post they hold over the place.
POST_RANK: dict[str, int] = {
    PostKind.CITY_ADMIN: 90,
    PostKind.COUNTY_ADMIN: 80,
    PostKind.STREET_STAFF: 70,
    PostKind.SECRETARY: 60,
    PostKind.COMMUNITY_WORKER: 50,
    PostKind.DEPARTMENT_HANDLER: 40,
    PostKind.GRID_WORKER: 30,
    PostKind.PROPERTY_MANAGER: 20,
    PostKind.OWNERS_COMMITTEE: 20,
    PostKind.BUILDING_CAPTAIN: 20,
    PostKind.UNIT_CAPTAIN: 10,
}

# Kinds whose holders configure the installation (``Cap.CONFIGURE``) — only while the post sits on its own level.
CONFIG_KINDS = frozenset({PostKind.CITY_ADMIN, PostKind.COUNTY_ADMIN})
