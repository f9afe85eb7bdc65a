"""``{{ case|attribute_rows }}``: a case's extra answers as (label, value) in Chinese ("是否有人被困" → "是"), for
the console and phone case pages (``linli.cases.attributes.shown``)."""

from __future__ import annotations

from typing import Any

from django import template

from linli.cases import attributes

register = template.Library()


@register.filter
def attribute_rows(case: Any) -> list[tuple[str, str]]:
    return attributes.shown(getattr(case, "category", None), getattr(case, "attributes", None))
