"""Console pages for the category tree (分类设置): defaults, time limits and Open311 attributes.

Thin views: the rules and the audit trail live in ``linli.cases.categories``; each refusal is put next to the
field it names. Only holders of ``Cap.CONFIGURE`` (superusers, county and city administrators: ADR 0019) get in.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from linli.audit import services as audit
from linli.cases import categories as service
from linli.cases.models import Category, CategoryAttribute
from linli.console.forms_cases import AttributeForm, CategoryForm
from linli.console.views import console_view
from linli.core.errors import LinliError, PermissionDenied

FIELD_LABELS = {
    "name": "名称",
    "code": "代码",
    "parent_id": "上级分类",
    "description": "说明",
    "default_level": "默认处置层级",
    "default_department_code": "默认职能部门",
    "property_service": "物业服务类",
    "accept_within": "受理时限",
    "accept_unit": "受理时限单位",
    "resolve_within": "办结时限",
    "resolve_unit": "办结时限单位",
    "service_code": "服务代码",
    "keywords": "关键词",
    "active": "启用",
    "sort": "排序",
    "datatype": "数据类型",
    "required": "必填",
    "values": "可选值",
    "order": "顺序",
    "category_id": "分类",
    "emergency_rule": "紧急警情规则",
    "emergency_attribute": "触发字段代码",
    "emergency_values": "触发取值",
    "emergency_keywords": "触发关键词",
    "emergency_accept_minutes": "紧急受理时限（分钟）",
    "emergency_resolve_minutes": "紧急办结时限（分钟）",
    "emergency_ack_minutes": "接警确认时限（分钟）",
}


def _require(request: HttpRequest) -> None:
    if not service.can_manage(request.user):
        raise PermissionDenied(_("只有县（区）、市管理员可以修改诉求分类"))


def _get(pk: int) -> Category:
    category = Category.objects.select_related("parent").filter(pk=pk).first()
    if category is None:
        raise Http404
    return category


def _parents(exclude: Category | None = None) -> list[tuple[int, str]]:
    """Every category as a possible parent (the service refuses loops with a clear message)."""
    return [
        (row.category.pk, "　" * row.depth + row.category.name)
        for row in service.category_tree(with_attributes=False)
        if exclude is None or row.category.pk != exclude.pk
    ]


def _departments(category: Category) -> list[tuple[str, str]]:
    """The department picker; the category's own code stays listed (marked when no department has it)."""
    return service.department_choices(keep=category.default_department_code)


def _put_errors(form: Any, exc: LinliError) -> None:
    errors = getattr(exc, "errors", None) or {getattr(exc, "field", None): str(exc)}
    for field, message in errors.items():
        form.add_error(field if field in form.fields else None, message)


def _emergency_input(data: dict[str, Any], posted: Any, current: Category | None) -> dict[str, Any]:
    """The emergency settings as posted; one the form did not post at all keeps its stored (or default) value, so
    an older page or script saving the other fields never switches a rule off (ADR 0026)."""
    stored = service.category_values(current) if current is not None else {}
    defaults = service.CategoryInput(name="", code="")
    out: dict[str, Any] = {}
    for name in service.EMERGENCY_FIELDS:
        if name in posted and data.get(name) not in (None, ""):
            out[name] = data[name]
        elif name in posted and not name.endswith("_minutes") and name != "emergency_rule":
            out[name] = ""
        else:
            out[name] = stored.get(name, getattr(defaults, name))
    return out


def _category_input(
    data: dict[str, Any], code: str, posted: Any = (), current: Category | None = None
) -> service.CategoryInput:
    parent = Category.objects.filter(pk=data["parent"]).first() if data.get("parent") else None
    return service.CategoryInput(
        name=data["name"],
        code=code,
        parent=parent,
        description=data.get("description") or "",
        default_level=data["default_level"],
        default_department_code=data.get("default_department_code") or "",
        property_service=bool(data.get("property_service")),
        accept_within=data["accept_within"],
        accept_unit=data["accept_unit"],
        resolve_within=data["resolve_within"],
        resolve_unit=data["resolve_unit"],
        service_code=data["service_code"],
        keywords=data.get("keywords") or "",
        active=bool(data.get("active")),
        sort=data.get("sort") or 0,
        **_emergency_input(data, posted, current),
    )


def _attribute_input(data: dict[str, Any]) -> service.AttributeInput:
    return service.AttributeInput(
        code=data["code"],
        description=data["description"],
        datatype=data["datatype"],
        required=bool(data.get("required")),
        values_text=data.get("values") or "",
        order=data.get("order") or 0,
    )


def _history(category: Category) -> list[dict[str, Any]]:
    records = audit.history_for(service.CATEGORY, category.pk, limit=50)
    out = []
    for rec in records:
        changes = [
            {
                "label": FIELD_LABELS.get(k, k),
                "before": rec.before.get(k) if k in rec.before else None,
                "after": rec.after.get(k, "—"),
            }
            for k in dict.fromkeys([*rec.before.keys(), *rec.after.keys()])
        ]
        out.append({"record": rec, "changes": changes if rec.action == "update" else [], "n": len(changes)})
    return out


@console_view
def category_list(request: HttpRequest) -> HttpResponse:
    _require(request)
    rows = service.category_tree()
    names = service.department_names()
    for row in rows:  # the department's name, or None when its code names no department (shown as missing)
        setattr(row.category, "department_name", names.get(row.category.default_department_code))  # noqa: B010
    return render(request, "console/categories/list.html", {"menu": "categories", "rows": rows})


@console_view
def category_new(request: HttpRequest) -> HttpResponse:
    _require(request)
    status = 200
    if request.method == "POST":
        form = CategoryForm(request.POST, parents=_parents(), departments=service.department_choices())
        status = 400
        if form.is_valid():
            try:
                category = service.category_create(
                    actor=request.user,
                    data=_category_input(form.cleaned_data, form.cleaned_data["code"], request.POST),
                )
            except PermissionDenied:
                raise
            except LinliError as exc:
                _put_errors(form, exc)
            else:
                messages.success(request, _("已新增分类“%(name)s”") % {"name": category.name})
                return redirect("console:category", pk=category.pk)
    else:
        initial: dict[str, Any] = {
            "active": True,
            "default_level": "community",
            "accept_within": 1,
            "accept_unit": "working_days",
            "resolve_within": 5,
            "resolve_unit": "working_days",
            "sort": 0,
            "emergency_rule": "off",
            "emergency_accept_minutes": 10,
            "emergency_resolve_minutes": 120,
            "emergency_ack_minutes": 5,
        }
        if request.GET.get("parent", "").isdigit():
            initial["parent"] = int(request.GET["parent"])
        form = CategoryForm(initial=initial, parents=_parents(), departments=service.department_choices())
    return render(
        request,
        "console/categories/edit.html",
        {"menu": "categories", "form": form, "category": None},
        status=status,
    )


def _edit_context(category: Category, **extra: Any) -> dict[str, Any]:
    attributes = list(category.attributes.order_by("order", "id"))
    edit_forms = extra.pop("attribute_forms", {})
    for a in attributes:
        a.form = edit_forms.get(a.pk) or AttributeForm(  # type: ignore[attr-defined]
            prefix=f"a{a.pk}",
            initial={
                "code": a.code,
                "description": a.description,
                "datatype": a.datatype,
                "required": a.required,
                "values": service.values_text(a.values),
                "order": a.order,
            },
        )
        a.open = a.pk in edit_forms  # type: ignore[attr-defined]
    ctx: dict[str, Any] = {
        "menu": "categories",
        "category": category,
        "attributes": attributes,
        "add_form": AttributeForm(prefix="new", initial={"order": len(attributes) + 1}),
        "history": _history(category),
        "children": list(category.children.order_by("sort", "id")),
    }
    ctx.update(extra)
    return ctx


@console_view
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request)
    category = _get(pk)
    status = 200
    if request.method == "POST":
        form = CategoryForm(
            request.POST,
            parents=_parents(category),
            departments=_departments(category),
            editing=True,
            initial={"code": category.code},
        )
        status = 400
        if form.is_valid():
            try:
                service.category_update(
                    actor=request.user,
                    category=category,
                    data=_category_input(form.cleaned_data, category.code, request.POST, category),
                )
            except PermissionDenied:
                raise
            except LinliError as exc:
                _put_errors(form, exc)
            else:
                messages.success(request, _("已保存分类“%(name)s”") % {"name": form.cleaned_data["name"]})
                return redirect("console:category", pk=category.pk)
    else:
        form = CategoryForm(
            parents=_parents(category),
            departments=_departments(category),
            editing=True,
            initial={**service.category_values(category), "parent": category.parent_id},
        )
    return render(request, "console/categories/edit.html", _edit_context(category, form=form), status=status)


@require_POST
@console_view
def attribute_add(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request)
    category = _get(pk)
    form = AttributeForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            service.attribute_save(
                actor=request.user, category=category, data=_attribute_input(form.cleaned_data)
            )
        except PermissionDenied:
            raise
        except LinliError as exc:
            _put_errors(form, exc)
        else:
            messages.success(request, _("已添加附加字段“%(code)s”") % {"code": form.cleaned_data["code"]})
            return redirect("console:category", pk=category.pk)
    ctx = _edit_context(category, form=_readonly_form(category), add_form=form, add_open=True)
    return render(request, "console/categories/edit.html", ctx, status=400)


def _attribute(category: Category, aid: int) -> CategoryAttribute:
    attribute = CategoryAttribute.objects.filter(pk=aid, category=category).first()
    if attribute is None:
        raise Http404
    return attribute


def _readonly_form(category: Category) -> CategoryForm:
    return CategoryForm(
        parents=_parents(category),
        departments=_departments(category),
        editing=True,
        initial={f: getattr(category, f) for f in CategoryForm.base_fields if f != "parent"}
        | {"parent": category.parent_id},
    )


@require_POST
@console_view
def attribute_edit(request: HttpRequest, pk: int, aid: int) -> HttpResponse:
    _require(request)
    category = _get(pk)
    attribute = _attribute(category, aid)
    form = AttributeForm(request.POST, prefix=f"a{aid}")
    if form.is_valid():
        try:
            service.attribute_save(
                actor=request.user,
                category=category,
                attribute=attribute,
                data=_attribute_input(form.cleaned_data),
            )
        except PermissionDenied:
            raise
        except LinliError as exc:
            _put_errors(form, exc)
        else:
            messages.success(request, _("已保存附加字段“%(code)s”") % {"code": form.cleaned_data["code"]})
            return redirect("console:category", pk=category.pk)
    ctx = _edit_context(category, form=_readonly_form(category), attribute_forms={aid: form})
    return render(request, "console/categories/edit.html", ctx, status=400)


@require_POST
@console_view
def attribute_delete(request: HttpRequest, pk: int, aid: int) -> HttpResponse:
    _require(request)
    category = _get(pk)
    attribute = _attribute(category, aid)
    code = attribute.code
    service.attribute_delete(actor=request.user, attribute=attribute)
    messages.success(request, _("已删除附加字段“%(code)s”") % {"code": code})
    return redirect("console:category", pk=category.pk)
