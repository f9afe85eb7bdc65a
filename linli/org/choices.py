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
