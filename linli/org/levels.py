"""Whether a post kind fits a place: the level rule of ADR 0019, shared by the service, the model and access.

Pure: a place is recognised by its model name (region, grid, building, unit, department) and, for a region, its
``level``, so this module imports no model and ``Post.clean()`` can use it too.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.org.choices import POST_PLACE, POST_RANK, PostKind

PLACE_FIELDS = ("region", "grid", "building", "unit", "department")
PLACE_LABELS = {
    "region": gettext_lazy("区划"),
    "grid": gettext_lazy("网格"),
    "building": gettext_lazy("楼栋"),
    "unit": gettext_lazy("单元"),
    "department": gettext_lazy("职能部门"),
}
LEVEL_LABELS = {
    "province": gettext_lazy("省"),
    "city": gettext_lazy("市"),
    "county": gettext_lazy("县（区）"),
    "street": gettext_lazy("街道（乡镇）"),
    "community": gettext_lazy("社区（村）"),
}


def place_type(place: Any) -> str:
    """``region``, ``grid``, ``building``, ``unit`` or ``department`` (empty for anything else)."""
    meta = getattr(place, "_meta", None)
    name = getattr(meta, "model_name", "")
    return name if name in PLACE_FIELDS else ""


def rank(kind: str) -> int:
    return POST_RANK.get(kind, 0)


def where(kind: str) -> str:
    """Where a post of ``kind`` sits, in words: 县（区）, 网格 …"""
    field, level = POST_PLACE[kind]
    return str(LEVEL_LABELS[level] if level else PLACE_LABELS[field])


def misfit(kind: str, place: Any) -> str | None:
    """Why ``kind`` may not sit on ``place`` (None when it fits)."""
    if kind not in POST_PLACE:
        return _("未知的岗位：%(kind)s") % {"kind": kind}
    field, level = POST_PLACE[kind]
    if place_type(place) != field or (level is not None and getattr(place, "level", None) != level):
        return _("%(kind)s只能设在%(where)s上") % {"kind": PostKind(kind).label, "where": where(kind)}
    return None


def post_place(post: Any) -> Any:
    """The place a post hangs on (the first place field set), or None."""
    for field in PLACE_FIELDS:
        if getattr(post, f"{field}_id", None) is not None:
            return getattr(post, field)
    return None


def post_fits(post: Any) -> bool:
    """Whether a stored post sits on exactly one place and that place fits its kind."""
    if sum(getattr(post, f"{field}_id", None) is not None for field in PLACE_FIELDS) != 1:
        return False
    return misfit(post.kind, post_place(post)) is None
