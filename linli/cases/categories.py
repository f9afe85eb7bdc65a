"""Writes to the category tree (分类设置): create and update a category, add, change and remove its Open311
attributes. Every rule is checked before anything is written, every problem is reported against the field it is
about (``InvalidCategory.errors``), and every change leaves an audit ``ChangeRecord`` in the same transaction.

Categories are shared by the whole installation, so editing them needs ``Cap.CONFIGURE`` (superusers, county and
city administrators whose post sits on a county or city: ADR 0019), not a community's ``org.manage``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from linli.audit import services as audit
from linli.cases.choices import AttributeType, EmergencyRule, HandlingLevel, TimeUnit
from linli.cases.models import Category, CategoryAttribute
from linli.core import workdays
from linli.core.errors import LinliError, PermissionDenied
from linli.org import access
from linli.org.models import Department

CATEGORY = "cases.category"
ATTRIBUTE = "cases.category_attribute"

_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_SERVICE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
# The longest limit a category may set, per unit (a year of working days; three months of elapsed hours).
MAX_WITHIN = {TimeUnit.HOURS: 2000, TimeUnit.WORKING_DAYS: 250, TimeUnit.CALENDAR_HOURS: 2160}
LIST_TYPES = frozenset({AttributeType.SINGLE, AttributeType.MULTI})
MAX_VALUES = 100


class InvalidCategory(LinliError):
    """One or more inputs were refused; ``errors`` maps each input's name to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("；".join(errors.values()))
        self.errors = errors


@dataclass
class CategoryInput:
    name: str
    code: str
    parent: Category | None = None
    description: str = ""
    default_level: str = HandlingLevel.COMMUNITY
    default_department_code: str = ""
    property_service: bool = False
    accept_within: int = 1
    accept_unit: str = TimeUnit.WORKING_DAYS
    resolve_within: int = 5
    resolve_unit: str = TimeUnit.WORKING_DAYS
    service_code: str = ""
    keywords: str = ""
    active: bool = True
    sort: int = 0
    emergency_rule: str = EmergencyRule.OFF
    emergency_attribute: str = ""
    emergency_values: str = ""
    emergency_keywords: str = ""
    emergency_accept_minutes: int = 10
    emergency_resolve_minutes: int = 120
    emergency_ack_minutes: int = 5


# Bounds of an emergency's natural-minute limits (ADR 0026): accept within a day, resolve within a week.
EMERGENCY_MAX_MINUTES = {"accept": 1440, "resolve": 10080, "ack": 120}
EMERGENCY_FIELDS = (
    "emergency_rule",
    "emergency_attribute",
    "emergency_values",
    "emergency_keywords",
    "emergency_accept_minutes",
    "emergency_resolve_minutes",
    "emergency_ack_minutes",
)


@dataclass
class AttributeInput:
    code: str
    description: str
    datatype: str = AttributeType.STRING
    required: bool = False
    values_text: str = ""  # one "key=name" per line, for the list types
    order: int = 0


def can_manage(actor: Any) -> bool:
    return access.can_configure(actor)


def _require_manager(actor: Any) -> None:
    if not can_manage(actor):
        raise PermissionDenied("只有县（区）、市管理员可以修改诉求分类")


# ---------------------------------------------------------------------------------------------- categories


def _working_hours(amount: int, unit: str) -> float | None:
    """A limit in working hours, to compare accept and resolve limits given in different units."""
    if unit == TimeUnit.HOURS:
        return float(amount)
    if unit == TimeUnit.WORKING_DAYS:
        day = sum(
            (hi.hour * 60 + hi.minute) - (lo.hour * 60 + lo.minute) for lo, hi in workdays.office_hours()
        )
        return amount * day / 60
    return None


def _check_limit(errors: dict[str, str], field: str, label: str, amount: int, unit: str) -> None:
    if unit not in TimeUnit.values:
        errors[f"{field}_unit"] = f"{label}单位无效，请选择工作小时、工作日或自然小时"
        return
    top = MAX_WITHIN[TimeUnit(unit)]
    if amount < 1:
        errors[f"{field}_within"] = f"{label}至少为 1"
    elif amount > top:
        errors[f"{field}_within"] = f"{label}不能超过 {top} {TimeUnit(unit).label}"


def _descendant_ids(category: Category) -> set[int]:
    """Ids of every category below ``category`` (the tree is small: a few hundred rows at most)."""
    children: dict[int | None, list[int]] = {}
    for pk, parent_id in Category.objects.values_list("pk", "parent_id"):
        children.setdefault(parent_id, []).append(pk)
    found: set[int] = set()
    todo = list(children.get(category.pk, []))
    while todo:
        pk = todo.pop()
        if pk not in found:
            found.add(pk)
            todo.extend(children.get(pk, []))
    return found


def _clean_category(data: CategoryInput, current: Category | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = (data.name or "").strip()
    if not name:
        errors["name"] = "请填写分类名称"
    elif len(name) > 64:
        errors["name"] = f"分类名称不能超过 64 个字（当前 {len(name)} 个字）"
    code = (data.code or "").strip().lower() if current is None else current.code
    if current is None:
        if not _CODE.match(code) or len(code) > 48:
            errors["code"] = (
                "分类代码只能包含小写英文字母、数字、下划线或连字符，不超过 48 位，如 noise_night"
            )
        elif Category.objects.filter(code=code).exists():
            errors["code"] = f"分类代码“{code}”已被使用，请换一个"
    parent = data.parent
    if parent is not None and current is not None:
        if parent.pk == current.pk:
            errors["parent"] = "上级分类不能是它自己"
        elif parent.pk in _descendant_ids(current):
            errors["parent"] = f"上级分类“{parent.name}”是本分类的下级，不能互为上下级"
    description = (data.description or "").strip()
    if len(description) > 300:
        errors["description"] = "说明不能超过 300 个字"
    level = data.default_level
    if level not in HandlingLevel.values:
        errors["default_level"] = "请选择默认处置层级"
    department_code = (data.default_department_code or "").strip().lower()
    if department_code and (not _CODE.match(department_code) or len(department_code) > 32):
        errors["default_department_code"] = (
            "职能部门代码只能包含小写英文字母、数字、下划线或连字符，不超过 32 位"
        )
    elif level == HandlingLevel.DEPARTMENT and not department_code:
        errors["default_department_code"] = "默认处置层级为“职能部门”时，须填写默认职能部门代码"
    elif (
        department_code
        and department_code != (current.default_department_code if current else "")
        and not Department.objects.filter(code=department_code).exists()
    ):
        errors["default_department_code"] = (
            f"还没有代码为“{department_code}”的职能部门，请先在“职能部门”中添加，或改填已有部门的代码"
        )
    _check_limit(errors, "accept", "受理时限", data.accept_within, data.accept_unit)
    _check_limit(errors, "resolve", "办结时限", data.resolve_within, data.resolve_unit)
    if not {"accept_within", "accept_unit", "resolve_within", "resolve_unit"} & errors.keys():
        accept = _working_hours(data.accept_within, data.accept_unit)
        resolve = _working_hours(data.resolve_within, data.resolve_unit)
        if data.accept_unit == data.resolve_unit:
            accept, resolve = float(data.accept_within), float(data.resolve_within)
        if accept is not None and resolve is not None and accept > resolve:
            errors["resolve_within"] = "办结时限不能短于受理时限"
    service_code = (data.service_code or "").strip()
    if not service_code:
        errors["service_code"] = "请填写 Open311 服务代码"
    elif len(service_code) > 32 or not _SERVICE_CODE.match(service_code):
        errors["service_code"] = "服务代码只能包含英文字母、数字、点、下划线或连字符，不超过 32 位，如 601"
    elif Category.objects.filter(service_code=service_code).exclude(pk=current.pk if current else 0).exists():
        taken = Category.objects.filter(service_code=service_code).values_list("name", flat=True).first()
        errors["service_code"] = f"服务代码“{service_code}”已被分类“{taken}”使用，须唯一"
    keywords = "、".join(w for w in re.split(r"[\s,，、;；]+", data.keywords or "") if w)
    if len(keywords) > 200:
        errors["keywords"] = "关键词合计不能超过 200 个字"
    if not 0 <= data.sort <= 32767:
        errors["sort"] = "排序须在 0 到 32767 之间"
    emergency = _clean_emergency(errors, data, current)
    if errors:
        raise InvalidCategory(errors)
    return emergency | {
        "name": name,
        "code": code,
        "parent": parent,
        "description": description,
        "default_level": level,
        "default_department_code": department_code,
        "property_service": bool(data.property_service),
        "accept_within": data.accept_within,
        "accept_unit": data.accept_unit,
        "resolve_within": data.resolve_within,
        "resolve_unit": data.resolve_unit,
        "service_code": service_code,
        "keywords": keywords,
        "active": bool(data.active),
        "sort": data.sort,
    }


def _joined(text: str) -> str:
    return "、".join(w for w in re.split(r"[\s,，、;；]+", text or "") if w)


def _clean_emergency(errors: dict[str, str], data: CategoryInput, current: Category | None) -> dict[str, Any]:
    """The emergency rule (紧急警情, ADR 0026): when reports are emergencies and their natural-minute limits."""
    rule = data.emergency_rule or EmergencyRule.OFF
    if rule not in EmergencyRule.values:
        errors["emergency_rule"] = "请选择紧急警情规则"
    attribute = (data.emergency_attribute or "").strip().lower()
    values = _joined(data.emergency_values)
    keywords = _joined(data.emergency_keywords)
    if attribute:
        known = set(current.attributes.values_list("code", flat=True)) if current is not None else set()
        if attribute not in known:
            errors["emergency_attribute"] = (
                f"本分类没有代码为“{attribute}”的附加字段，请先添加附加字段，或留空"
            )
        elif not values:
            errors["emergency_values"] = "请填写触发紧急警情的字段取值代码，如 yes"
    elif values:
        errors["emergency_attribute"] = "填写了触发取值时，须同时填写触发字段代码"
    if len(values) > 200:
        errors["emergency_values"] = "触发取值合计不能超过 200 个字"
    if len(keywords) > 200:
        errors["emergency_keywords"] = "触发关键词合计不能超过 200 个字"
    if rule == EmergencyRule.MATCH and not (attribute or keywords) and "emergency_attribute" not in errors:
        errors["emergency_rule"] = "“附加字段或描述命中时”须填写触发字段及取值，或触发关键词"
    for name, label in (("accept", "紧急受理时限"), ("resolve", "紧急办结时限"), ("ack", "接警确认时限")):
        amount = getattr(data, f"emergency_{name}_minutes")
        top = EMERGENCY_MAX_MINUTES[name]
        if not 1 <= amount <= top:
            errors[f"emergency_{name}_minutes"] = f"{label}须在 1 到 {top} 分钟之间"
    if (
        not {"emergency_accept_minutes", "emergency_resolve_minutes"} & errors.keys()
        and data.emergency_resolve_minutes < data.emergency_accept_minutes
    ):
        errors["emergency_resolve_minutes"] = "紧急办结时限不能短于紧急受理时限"
    return {
        "emergency_rule": rule,
        "emergency_attribute": attribute,
        "emergency_values": values,
        "emergency_keywords": keywords,
        "emergency_accept_minutes": data.emergency_accept_minutes,
        "emergency_resolve_minutes": data.emergency_resolve_minutes,
        "emergency_ack_minutes": data.emergency_ack_minutes,
    }


def category_values(category: Category) -> dict[str, Any]:
    """A category's editable values (the audit snapshot, and the edit form's initial values)."""
    return {
        "name": category.name,
        "code": category.code,
        "parent_id": category.parent_id,
        "description": category.description,
        "default_level": category.default_level,
        "default_department_code": category.default_department_code,
        "property_service": category.property_service,
        "accept_within": category.accept_within,
        "accept_unit": category.accept_unit,
        "resolve_within": category.resolve_within,
        "resolve_unit": category.resolve_unit,
        "service_code": category.service_code,
        "keywords": category.keywords,
        "active": category.active,
        "sort": category.sort,
    } | {name: getattr(category, name) for name in EMERGENCY_FIELDS}


def _unique_clash(exc: IntegrityError) -> InvalidCategory:
    # Two editors saving the same code at once: the unique index decides; the loser gets the field error.
    text = str(exc).lower()
    if "service_code" in text:
        return InvalidCategory({"service_code": "服务代码已被其他分类使用，须唯一"})
    return InvalidCategory({"code": "分类代码已被使用，请换一个"})


def category_create(*, actor: Any, data: CategoryInput) -> Category:
    _require_manager(actor)
    values = _clean_category(data, None)
    try:
        with transaction.atomic():
            category = Category.objects.create(**values)
            audit.change_record(
                actor=actor,
                entity=CATEGORY,
                entity_id=category.pk,
                action="create",
                after=category_values(category),
            )
    except IntegrityError as exc:
        raise _unique_clash(exc) from exc
    return category


def category_update(*, actor: Any, category: Category, data: CategoryInput, note: str = "") -> Category:
    """Save the edited fields of ``category`` (its code never changes: timelines and routing refer to it)."""
    _require_manager(actor)
    try:
        with transaction.atomic():
            current = Category.objects.select_for_update().get(pk=category.pk)
            values = _clean_category(data, current)
            before = category_values(current)
            for name, value in values.items():
                setattr(current, name, value)
            current.save()
            b, a = audit.diff(before, category_values(current))
            if a:
                audit.change_record(
                    actor=actor,
                    entity=CATEGORY,
                    entity_id=current.pk,
                    action="update",
                    before=b,
                    after=a,
                    note=note,
                )
    except IntegrityError as exc:
        raise _unique_clash(exc) from exc
    return current


# ---------------------------------------------------------------------------------------------- attributes


def parse_values(text: str) -> list[dict[str, str]]:
    """``"yes=是\\nno=否"`` → ``[{"key": "yes", "name": "是"}, …]``; raises InvalidCategory naming the line."""
    values: list[dict[str, str]] = []
    seen: set[str] = set()
    for number, raw in enumerate((text or "").splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        key, sep, name = line.partition("=")
        if not sep:
            key, sep, name = line.partition("＝")
        key, name = key.strip(), name.strip()
        if not sep or not key or not name:
            raise InvalidCategory(
                {"values": f"第 {number} 行“{line[:30]}”格式不对，应写成“代码=名称”，如 yes=是"}
            )
        if len(key) > 48 or len(name) > 64:
            raise InvalidCategory({"values": f"第 {number} 行过长：代码不超过 48 位，名称不超过 64 个字"})
        if key in seen:
            raise InvalidCategory({"values": f"第 {number} 行的代码“{key}”重复了"})
        seen.add(key)
        values.append({"key": key, "name": name})
    if len(values) > MAX_VALUES:
        raise InvalidCategory({"values": f"可选值不能超过 {MAX_VALUES} 个"})
    return values


def values_text(values: list[dict[str, str]]) -> str:
    return "\n".join(f"{v.get('key', '')}={v.get('name', '')}" for v in values or [])


def _clean_attribute(
    category: Category, data: AttributeInput, current: CategoryAttribute | None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    code = (data.code or "").strip().lower()
    if not _CODE.match(code) or len(code) > 48:
        errors["code"] = "字段代码只能包含小写英文字母、数字、下划线或连字符，不超过 48 位，如 trapped"
    elif (
        CategoryAttribute.objects.filter(category=category, code=code)
        .exclude(pk=current.pk if current else 0)
        .exists()
    ):
        errors["code"] = f"本分类已有代码为“{code}”的附加字段"
    description = (data.description or "").strip()
    if not description:
        errors["description"] = "请填写字段说明（即向居民显示的问题，如“是否有人被困”）"
    elif len(description) > 200:
        errors["description"] = "字段说明不能超过 200 个字"
    if data.datatype not in AttributeType.values:
        errors["datatype"] = "请选择数据类型"
    values: list[dict[str, str]] = []
    try:
        values = parse_values(data.values_text)
    except InvalidCategory as exc:
        errors.update(exc.errors)
    if "values" not in errors and "datatype" not in errors:
        if data.datatype in LIST_TYPES and not values:
            errors["values"] = "单选、多选类型须至少填写一个可选值，每行一个“代码=名称”"
        elif data.datatype not in LIST_TYPES and values:
            errors["values"] = "只有单选、多选类型可以填写可选值，请清空或改选数据类型"
    if not 0 <= data.order <= 32767:
        errors["order"] = "顺序须在 0 到 32767 之间"
    if errors:
        raise InvalidCategory(errors)
    return {
        "code": code,
        "description": description,
        "datatype": data.datatype,
        "required": bool(data.required),
        "values": values,
        "order": data.order,
    }


def _attribute_snapshot(attribute: CategoryAttribute) -> dict[str, Any]:
    return {
        "category_id": attribute.category_id,
        "code": attribute.code,
        "datatype": attribute.datatype,
        "required": attribute.required,
        "description": attribute.description,
        "values": attribute.values,
        "order": attribute.order,
    }


def attribute_save(
    *, actor: Any, category: Category, data: AttributeInput, attribute: CategoryAttribute | None = None
) -> CategoryAttribute:
    """Add an attribute to ``category`` (``attribute=None``) or change one of its attributes."""
    _require_manager(actor)
    if attribute is not None and attribute.category_id != category.pk:
        raise LinliError("该附加字段不属于此分类")
    values = _clean_attribute(category, data, attribute)
    try:
        with transaction.atomic():
            if attribute is None:
                attribute = CategoryAttribute.objects.create(category=category, **values)
                audit.change_record(
                    actor=actor,
                    entity=ATTRIBUTE,
                    entity_id=attribute.pk,
                    action="create",
                    after=_attribute_snapshot(attribute),
                )
                return attribute
            before = _attribute_snapshot(attribute)
            for name, value in values.items():
                setattr(attribute, name, value)
            attribute.save()
            b, a = audit.diff(before, _attribute_snapshot(attribute))
            if a:
                audit.change_record(
                    actor=actor, entity=ATTRIBUTE, entity_id=attribute.pk, action="update", before=b, after=a
                )
            return attribute
    except IntegrityError as exc:
        raise InvalidCategory({"code": "本分类已有同一代码的附加字段"}) from exc


@transaction.atomic
def attribute_delete(*, actor: Any, attribute: CategoryAttribute) -> None:
    """Remove an attribute; cases keep the values they were reported with (``Case.attributes``)."""
    _require_manager(actor)
    before = _attribute_snapshot(attribute)
    pk = attribute.pk
    attribute.delete()
    audit.change_record(actor=actor, entity=ATTRIBUTE, entity_id=pk, action="delete", before=before)


def category_input_of(category: Category) -> CategoryInput:
    """The stored values as an input (the edit form's initial values)."""
    fields = set(CategoryInput.__dataclass_fields__)
    return CategoryInput(
        **{k: v for k, v in category_values(category).items() if k in fields}, parent=category.parent
    )


# ---------------------------------------------------------------------------------------------- reads


@dataclass(frozen=True)
class TreeRow:
    category: Category
    depth: int


def category_tree(*, active_only: bool = False, with_attributes: bool = True) -> list[TreeRow]:
    """Every category in tree order (parents before their children, each level by ``sort``), optionally with
    its attributes prefetched: one or two queries."""
    qs = Category.objects.order_by("sort", "id")
    if with_attributes:
        qs = qs.prefetch_related("attributes")
    if active_only:
        qs = qs.filter(active=True)
    rows = list(qs)
    children: dict[int | None, list[Category]] = {}
    for row in rows:
        children.setdefault(row.parent_id, []).append(row)
    known = {row.pk for row in rows}
    out: list[TreeRow] = []

    def walk(node: Category, depth: int) -> None:
        out.append(TreeRow(node, depth))
        for child in children.get(node.pk, []):
            walk(child, depth + 1)

    for row in rows:
        if row.parent_id is None or row.parent_id not in known:  # roots (or orphans of an inactive parent)
            walk(row, 0)
    return out


def department_names() -> dict[str, str]:
    """Department code → name, over all counties (a code names one kind of department everywhere: 住建局 is
    ``zhujian`` in every county; the first name found, by region, stands for it). One query."""
    names: dict[str, str] = {}
    for code, name in Department.objects.order_by("code", "region_id").values_list("code", "name"):
        names.setdefault(code, name)
    return names


def department_choices(keep: str = "") -> list[tuple[str, str]]:
    """The default-department picker of the category form: (code, "名称（code）"), by name. ``keep`` (the code a
    category already holds) is listed even when no department has it, marked as missing, so the page shows what
    is stored instead of silently changing it."""
    names = department_names()
    out = [(code, f"{name}（{code}）") for code, name in sorted(names.items(), key=lambda kv: (kv[1], kv[0]))]
    if keep and keep not in names:
        out.append((keep, f"{keep}（没有这个职能部门，请改选）"))
    return out


WISH_CATEGORY = "wish"  # the wish box's category (mobile migration 0001): a wish, not a problem to report


def problem_categories() -> list[Category]:
    """The active categories a problem can be reported under (entry forms): all but the wish box's 心愿建议, in
    tree order (``sort``, id). One query."""
    return list(Category.objects.filter(active=True).exclude(code=WISH_CATEGORY).order_by("sort", "id"))


def grouped_choices(categories: list[Category]) -> list[Any]:
    """Choices for a category select, grouped (``<optgroup>``) under their top-level category: the children,
    then the top-level one itself as "其他…问题"; a top-level category without children is a plain option. A
    child whose parent is not among ``categories`` is a plain option too."""
    tops = {c.pk for c in categories if c.parent_id is None}
    children: dict[int, list[Category]] = {}
    for c in categories:
        if c.parent_id in tops:
            children.setdefault(c.parent_id, []).append(c)
    out: list[Any] = []
    for c in categories:
        if c.parent_id in tops:
            continue
        kids = children.get(c.pk, [])
        if kids:
            options = [(str(k.pk), k.name) for k in kids]
            options.append((str(c.pk), _("其他%(name)s问题") % {"name": c.name}))
            out.append((c.name, options))
        else:
            out.append((str(c.pk), c.name))
    return out
