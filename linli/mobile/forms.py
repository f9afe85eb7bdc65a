"""Forms of the mobile pages: few fields, errors in plain Chinese naming the field. Photos are checked by the
cases app (``linli.cases.attachments``), not here."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from linli.cases import attributes
from linli.cases.attributes import InvalidAttribute
from linli.cases.categories import grouped_choices
from linli.cases.choices import Satisfaction
from linli.cases.models import DESCRIPTION_MAX, Category
from linli.cases.services import URGENT_REASON_MAX
from linli.registry.models import Building

NAME_MAX = 32
NOTE_MAX = 500
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def new_key() -> str:
    """A fresh idempotency key for one rendering of a form."""
    return secrets.token_urlsafe(18)


def category_choices(categories: list[Category]) -> list[Any]:
    """Active categories grouped under their top-level category (the top-level one is itself a choice)."""
    return [("", _("请选择问题类别")), *grouped_choices(categories)]


class _CategoryMixin:
    categories: dict[int, Category]

    def _category(self, value: str, required: bool) -> Category | None:
        if not value:
            if required:
                raise forms.ValidationError(_("请选择问题类别"))
            return None
        try:
            category = self.categories.get(int(value))
        except ValueError:
            category = None
        if category is None:
            raise forms.ValidationError(_("所选问题类别不存在或已停用，请重新选择"))
        return category


class _AttributesMixin:
    """The chosen category's extra fields (``linli.cases.attributes``): ``clean_attributes_of`` reads them back
    into ``cleaned_data["attributes"]``; a refusal is put on top of the form and next to its field
    (``attribute_sets``, rendered by ``cases/_attributes_fields.html``)."""

    categories: dict[int, Category]
    data: Any
    is_bound: bool
    attribute_error: InvalidAttribute | None = None

    if TYPE_CHECKING:

        def add_error(self, field: str | None, error: Any) -> None: ...  # forms.Form's

    def clean_attributes_of(self, data: dict[str, Any]) -> None:
        category = data.get("category")
        data["attributes"] = {}
        if isinstance(category, Category):
            try:
                data["attributes"] = attributes.form_values(category, self.data)
            except InvalidAttribute as exc:
                self.attribute_error = exc
                self.add_error(None, str(exc))

    def attribute_sets(self) -> list[attributes.FieldSet]:
        raw = str((self.data if self.is_bound else getattr(self, "initial", {})).get("category") or "")
        chosen = int(raw) if raw.isdigit() else None
        return attributes.field_sets(
            self.categories.values(),
            chosen=chosen,
            data=self.data if self.is_bound else None,
            error=self.attribute_error,
        )


def _description_field(label: Any, required: Any, too_long: Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=DESCRIPTION_MAX,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": required, "max_length": too_long},
    )


class _KeyMixin:
    cleaned_data: dict[str, Any]

    def clean_key(self) -> str:
        key = self.cleaned_data.get("key") or ""
        return key if _KEY.match(key) else new_key()


class ReportForm(_CategoryMixin, _AttributesMixin, _KeyMixin, forms.Form):
    """A resident's report from a building's QR code."""

    category = forms.CharField(
        label=_("问题类别"), widget=forms.Select, error_messages={"required": _("请选择问题类别")}
    )
    description = _description_field(
        _("问题描述"),
        _("请填写问题描述"),
        _("问题描述不能超过 %(limit_value)d 个字（当前 %(show_value)d 个字）"),
    )
    urgent = forms.BooleanField(label=_("情况紧急"), required=False)
    urgent_reason = forms.CharField(
        label=_("紧急情况说明"),
        max_length=URGENT_REASON_MAX,
        required=False,
        help_text=_("简要说明为什么紧急，如：老人被困、污水漫进家里"),
        error_messages={"max_length": _("紧急情况说明不能超过 %(limit_value)d 个字")},
    )
    anonymous = forms.BooleanField(label=_("匿名反映（不保存姓名和电话）"), required=False)
    name = forms.CharField(
        label=_("称呼（选填）"),
        max_length=NAME_MAX,
        required=False,
        error_messages={"max_length": _("称呼不能超过 %(limit_value)d 个字")},
    )
    phone = forms.CharField(
        label=_("联系电话（选填）"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        error_messages={"max_length": _("联系电话不能超过 %(limit_value)d 位")},
    )
    key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, categories: list[Category], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = {c.pk: c for c in categories}
        self.fields["category"].widget.choices = category_choices(categories)  # type: ignore[attr-defined]

    def clean_category(self) -> Category | None:
        return self._category(self.data.get("category", ""), required=True)

    def clean_phone(self) -> str:
        phone = (self.cleaned_data.get("phone") or "").strip()
        if phone and not _PHONE.match(phone):
            raise forms.ValidationError(_("联系电话格式不正确，请填写手机号码或带区号的座机号码"))
        return phone.replace(" ", "")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("anonymous"):
            data["name"] = ""
            data["phone"] = ""
        reason = (data.get("urgent_reason") or "").strip()
        if not data.get("urgent"):
            data["urgent_reason"] = ""
        elif not reason and "urgent_reason" not in self.errors:
            self.add_error("urgent_reason", _("勾选“情况紧急”时，请简要说明紧急情况"))
        self.clean_attributes_of(data)
        return data


class WishForm(_CategoryMixin, _KeyMixin, forms.Form):
    """The wish box (心语心愿箱): text and an optional category; nothing about the writer."""

    category = forms.CharField(label=_("类别（选填）"), widget=forms.Select, required=False)
    description = _description_field(
        _("心声或愿望"),
        _("请写下您的心声或愿望"),
        _("内容不能超过 %(limit_value)d 个字（当前 %(show_value)d 个字）"),
    )
    key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, categories: list[Category], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = {c.pk: c for c in categories}
        choices = category_choices(categories)
        choices[0] = ("", _("不选择"))
        self.fields["category"].widget.choices = choices  # type: ignore[attr-defined]

    def clean_category(self) -> Category | None:
        return self._category(self.data.get("category", ""), required=False)


class ConfirmForm(forms.Form):
    """The reporter's answer to the callback (回访) on the tracking page."""

    satisfaction = forms.ChoiceField(
        label=_("您对办理结果是否满意？"),
        choices=[
            (Satisfaction.SATISFIED, Satisfaction.SATISFIED.label),
            (Satisfaction.BASICALLY, Satisfaction.BASICALLY.label),
            (Satisfaction.UNSATISFIED, Satisfaction.UNSATISFIED.label),
        ],
        widget=forms.RadioSelect,
        error_messages={
            "required": _("请选择满意、基本满意或不满意"),
            "invalid_choice": _("请选择满意、基本满意或不满意"),
        },
    )
    note = forms.CharField(
        label=_("意见或补充（选填）"),
        max_length=NOTE_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": _("意见不能超过 %(limit_value)d 个字（当前 %(show_value)d 个字）")},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)


class QuickEntryForm(_CategoryMixin, _AttributesMixin, _KeyMixin, forms.Form):
    """A grid worker's report on the spot (or of a problem found on a patrol)."""

    building = forms.CharField(label=_("楼栋"), widget=forms.Select, required=False)
    category = forms.CharField(
        label=_("问题类别"), widget=forms.Select, error_messages={"required": _("请选择问题类别")}
    )
    description = _description_field(
        _("问题描述"),
        _("请填写问题描述"),
        _("问题描述不能超过 %(limit_value)d 个字（当前 %(show_value)d 个字）"),
    )
    key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(
        self, *args: Any, categories: list[Category], buildings: list[Building], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.categories = {c.pk: c for c in categories}
        self.buildings = {b.pk: b for b in buildings}
        self.fields["category"].widget.choices = category_choices(categories)  # type: ignore[attr-defined]
        self.fields["building"].widget.choices = [("", _("整个网格（不指定楼栋）"))] + [  # type: ignore[attr-defined]
            (str(b.pk), b.name) for b in buildings
        ]

    def clean_category(self) -> Category | None:
        return self._category(self.data.get("category", ""), required=True)

    def clean_building(self) -> Building | None:
        value = self.data.get("building", "")
        if not value:
            return None
        try:
            building = self.buildings.get(int(value))
        except ValueError:
            building = None
        if building is None:
            raise forms.ValidationError(_("所选楼栋不在该网格内，请重新选择"))
        return building

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.clean_attributes_of(data)
        return data


class ResolveForm(forms.Form):
    """A handler's result (办结) with optional photos."""

    note = forms.CharField(
        label=_("办理结果"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": _("请填写办理结果"),
            "max_length": _("办理结果不能超过 %(limit_value)d 个字（当前 %(show_value)d 个字）"),
        },
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class PatrolFinishForm(forms.Form):
    buildings = forms.MultipleChoiceField(
        label=_("巡查到的楼栋"), choices=(), required=False, widget=forms.CheckboxSelectMultiple
    )
    note = forms.CharField(
        label=_("巡查情况"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"max_length": _("巡查情况不能超过 %(limit_value)d 个字（当前 %(show_value)d 个字）")},
    )
    found_nothing = forms.BooleanField(label=_("未发现问题"), required=False)

    def __init__(self, *args: Any, buildings: list[Building], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.building_map = {b.pk: b for b in buildings}
        self.fields["buildings"].choices = [(str(b.pk), b.name) for b in buildings]  # type: ignore[attr-defined]
        self.fields["buildings"].error_messages["invalid_choice"] = _("所选楼栋不在该网格内，请重新选择")

    def clean_buildings(self) -> list[Building]:
        return [self.building_map[int(v)] for v in self.cleaned_data.get("buildings") or []]
