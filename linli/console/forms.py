"""Console forms. Field rules live in ``linli.registry.validation``; these forms only collect the raw values
and put each ``FieldError`` next to its field."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from linli.console.person_picker import PersonPicker
from linli.org.choices import PostKind
from linli.registry.choices import IdKind, PoliticalStatus, Relation, ResidenceType, ResidentStatus
from linli.registry.models import Grid, KeyGroup
from linli.registry.validation import COLUMNS, ResidentInput, clean_resident

# Chinese column name (as in FieldError.column) → form field name.
COLUMN_TO_FIELD = {
    getattr(COLUMNS, name): name
    for name in (
        "name",
        "id_kind",
        "id_number",
        "birth_date",
        "sex",
        "phone",
        "ethnicity",
        "political_status",
        "occupation",
        "residence_type",
        "relation",
        "key_groups",
        "moved_in_on",
        "note",
    )
}


class ResidentForm(forms.Form):
    """Add (on a household page) or edit a resident. On edit, empty ID number / phone keep the stored values."""

    name = forms.CharField(label=_("姓名"), max_length=64)
    id_kind = forms.ChoiceField(label=_("证件类型"), choices=IdKind.choices, initial=IdKind.RESIDENT_ID)
    id_number = forms.CharField(label=_("证件号码"), max_length=32, required=False)
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    ethnicity = forms.CharField(label=_("民族"), max_length=16, required=False, initial="汉族")
    political_status = forms.ChoiceField(label=_("政治面貌"), choices=PoliticalStatus.choices)
    occupation = forms.CharField(label=_("职业"), max_length=64, required=False)
    residence_type = forms.ChoiceField(label=_("人口类型"), choices=ResidenceType.choices)
    relation = forms.ChoiceField(label=_("与户主关系"), choices=Relation.choices, initial=Relation.OTHER)
    key_groups = forms.ModelMultipleChoiceField(
        label=_("重点人群"),
        queryset=KeyGroup.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        to_field_name="code",
    )
    moved_in_on = forms.CharField(
        label=_("迁入日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args: Any, editing: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        cast(forms.ModelMultipleChoiceField, self.fields["key_groups"]).queryset = KeyGroup.objects.filter(
            active=True, min_age__isnull=True
        )
        if editing:
            del self.fields["moved_in_on"]
            self.fields["id_number"].help_text = _("留空则保持不变")
            self.fields["phone"].help_text = _("留空则保持不变")
        else:
            self.fields["id_number"].required = True
        self.resident_input: ResidentInput | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        values: dict[str, Any] = {k: v for k, v in data.items() if k != "key_groups"}
        values["key_groups"] = "、".join(g.name for g in data.get("key_groups") or [])
        if self.editing and not values.get("phone"):
            values["phone"] = None  # empty on edit: keep the stored phone (an empty ID number keeps the ID)
        cleaned, errors = clean_resident(values, partial=self.editing)
        for error in errors:
            field = COLUMN_TO_FIELD.get(error.column)
            self.add_error(field if field in self.fields else None, error.reason)
        self.resident_input = cleaned
        return data


class RevealForm(forms.Form):
    reason = forms.CharField(
        label=_("查看事由"),
        max_length=200,
        min_length=2,
        widget=forms.TextInput(attrs={"placeholder": _("如：核实身份办理低保")}),
    )


class MoveOutForm(forms.Form):
    on = forms.DateField(label=_("迁出日期"), widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("迁出原因"), max_length=100)
    deceased = forms.BooleanField(label=_("因死亡注销"), required=False)


class VerifyForm(forms.Form):
    note = forms.CharField(label=_("核实说明"), max_length=200, required=False)


class ResidentSearchForm(forms.Form):
    q = forms.CharField(label=_("搜索"), required=False, max_length=64)
    key_group = forms.CharField(required=False, max_length=32)
    grid = forms.IntegerField(required=False, min_value=1)
    region = forms.IntegerField(required=False, min_value=1)
    status = forms.ChoiceField(required=False, choices=[("", _("全部")), *ResidentStatus.choices])
    after = forms.IntegerField(required=False, min_value=1)


class ImportForm(forms.Form):
    """Step 1 of the console import: the file. Nothing is written to the register until the worker confirms the
    preview (step 3)."""

    file = forms.FileField(label=_("台账文件"), help_text=_("支持 .xlsx 和 .csv，单个文件不超过 50 MB"))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        name = (upload.name or "").lower()
        if not name.endswith((".xlsx", ".csv")):
            raise forms.ValidationError(_("只支持 .xlsx 或 .csv 文件，请用“下载模板”中的格式另存后再上传"))
        return upload


def column_field_name(index: int) -> str:
    """The form field holding the key chosen for the column at 0-based ``index``."""
    return f"col_{index}"


class ImportMappingForm(forms.Form):
    """Step 2: which field each column fills, and the import options (``ledger_import.ImportOptions``).

    One ``col_<index>`` select per column of the sheet; the choices are ``ledger_columns.field_choices()``.
    Whether the mapping is complete (required fields, two columns for one field) is checked by the reader."""

    create_places = forms.BooleanField(
        label=_("新建文件中出现的楼栋、单元、住户"),
        required=False,
        help_text=_("不勾选时，系统中没有的楼栋、单元、住户所在的行不导入，并在预览中列出"),
    )
    replace_empty = forms.BooleanField(
        label=_("空白单元格清空原有值"),
        required=False,
        help_text=_("不勾选时，空白单元格（含空白的重点人群）保留系统中原有的值"),
    )
    allow_renames = forms.BooleanField(
        label=_("同一证件号码姓名不同时按文件更名"),
        required=False,
        help_text=_("不勾选时，这样的行作为冲突列出，不导入"),
    )
    grid = forms.ModelChoiceField(
        label=_("默认网格"),
        queryset=Grid.objects.none(),
        required=False,
        empty_label=_("（按文件中的网格、小区确定）"),
        help_text=_("文件中没有网格或小区列时，所有行导入到这个网格"),
    )

    def __init__(
        self,
        *args: Any,
        columns: list[Any],
        choices: list[tuple[str, str]],
        grids: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["grid"]).queryset = grids
        self.columns = columns
        for column in columns:
            name = column_field_name(column.index)
            self.fields[name] = forms.ChoiceField(
                label=column.header or column.letter, choices=choices, required=False
            )
            self.initial.setdefault(name, column.key or "")

    def column_fields(self) -> list[tuple[Any, forms.BoundField]]:
        """(column, bound select) pairs in sheet order, for the template."""
        return [(c, self[column_field_name(c.index)]) for c in self.columns]

    def chosen(self) -> dict[int, str]:
        """Column index → chosen key ("" = ignore); only after ``is_valid()``."""
        return {c.index: self.cleaned_data.get(column_field_name(c.index)) or "" for c in self.columns}


class ColumnAliasForm(forms.Form):
    """设置 → 台账列名: one installation-wide heading and the field it fills."""

    header = forms.CharField(
        label=_("表头文字"),
        max_length=64,
        widget=forms.TextInput(attrs={"placeholder": _("如：身份证号码、所在楼栋")}),
    )
    key = forms.ChoiceField(label=_("对应字段"), required=False)  # "" = a heading to ignore silently

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["key"]).choices = choices


class ExportForm(forms.Form):
    place = forms.ChoiceField(label=_("导出范围"))
    full_id = forms.BooleanField(label=_("含完整证件号码"), required=False)
    reason = forms.CharField(label=_("导出事由"), max_length=200, required=False)

    def __init__(self, *args: Any, places: list[tuple[str, str]], can_reveal: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["place"]).choices = places
        if not can_reveal:
            del self.fields["full_id"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("full_id") and len((data.get("reason") or "").strip()) < 2:
            self.add_error("reason", _("导出完整证件号码须填写事由"))
        return data


class KeyGroupForm(forms.Form):
    """Collects a new key group; the rules (unique name and code, code format) live in ``registry.services``."""

    name = forms.CharField(label=_("名称"), max_length=32)
    code = forms.CharField(
        label=_("代码（英文字母）"), max_length=32, help_text=_("小写字母、数字或下划线，如 low_income")
    )
    min_age = forms.IntegerField(
        label=_("按年龄自动归入"),
        required=False,
        min_value=1,
        max_value=120,
        help_text=_("填写后按出生日期自动归入（岁及以上），无需逐人标记"),
    )
    sort = forms.IntegerField(label=_("排序"), required=False, min_value=0, max_value=32767, initial=0)


class KeyGroupRenameForm(forms.Form):
    name = forms.CharField(label=_("新名称"), max_length=32)


# ---------------------------------------------------------------- organisation

PLACE_TYPES = [("region", _("区划（街道 / 社区）")), ("grid", _("网格")), ("building", _("楼栋"))]


class PostAssignForm(forms.Form):
    """设置岗位: the kinds are those the user may grant (``org.services.grantable_kinds``); the place select is
    filled (and refilled by htmx) with the places in the user's granting scope."""

    kind = forms.ChoiceField(label=_("岗位"), choices=PostKind.choices)
    username = forms.CharField(
        label=_("任职人"),
        max_length=150,
        widget=PersonPicker,
        error_messages={"required": _("请搜索并选择任职人")},
    )
    place_type = forms.ChoiceField(label=_("地点类型"), choices=PLACE_TYPES, initial="grid")
    place = forms.IntegerField(label=_("所在位置"), widget=forms.Select)
    full_time = forms.BooleanField(label=_("专职"), required=False, initial=True)
    started_on = forms.DateField(label=_("任职日期"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, places: list[Any], kinds: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if kinds is not None:
            cast(forms.ChoiceField, self.fields["kind"]).choices = [(k, PostKind(k).label) for k in kinds]
        cast(forms.Select, self.fields["place"].widget).choices = places
        # Changing the place type reloads the place options (htmx); without JavaScript the form still posts.
        self.fields["place_type"].widget.attrs.update(
            {
                "hx-get": reverse_lazy("console:org_post_places"),
                "hx-target": "#id_place",
                "hx-swap": "outerHTML",
            }
        )


class PostEndForm(forms.Form):
    ended_on = forms.DateField(label=_("离任日期"), widget=forms.DateInput(attrs={"type": "date"}))


class PartyOrgForm(forms.Form):
    name = forms.CharField(label=_("组织名称"), max_length=100)
    place = forms.IntegerField(label=_("所在位置"), widget=forms.Select)

    def __init__(self, *args: Any, places: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.Select, self.fields["place"].widget).choices = places


class PartyMemberForm(forms.Form):
    resident = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    central_household = forms.BooleanField(label=_("党员中心户"), required=False)
    in_service_elsewhere = forms.BooleanField(label=_("在职党员（双报到）"), required=False)
    joined_on = forms.DateField(
        label=_("入党日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
