"""Console forms for appeals (诉求) and categories. They only collect raw values; the rules live in
``linli.cases.services`` (and its sibling modules) and ``linli.cases.categories``, whose refusals the views put
next to the form they came from. Every action form carries the case ``version`` it was rendered with."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from linli.cases import numbering
from linli.cases.choices import (
    AttributeType,
    Channel,
    EmergencyRule,
    HandlingLevel,
    Satisfaction,
    Status,
    TimeUnit,
    Urgency,
)
from linli.core.idcard import normalize_phone

NOTE_MAX = 2000
STAFF_CHANNELS = [
    (Channel.STAFF_HOTLINE.value, Channel.STAFF_HOTLINE.label),
    (Channel.DOOR_KNOCK.value, Channel.DOOR_KNOCK.label),
]
CALLBACK_CHOICES = [
    (Satisfaction.SATISFIED.value, Satisfaction.SATISFIED.label),
    (Satisfaction.BASICALLY.value, Satisfaction.BASICALLY.label),
    (Satisfaction.UNSATISFIED.value, Satisfaction.UNSATISFIED.label),
]
DEFAULT = ""  # "as the category suggests"
NO_DEPARTMENT = "none"
AUTO = "auto"


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class PhotosField(forms.FileField):
    """Up to six photos from one ``<input type=file multiple>``; the services decode and check each."""

    widget = MultipleFileInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.widget.attrs.update({"accept": "image/*", "multiple": True})

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        files = data if isinstance(data, list | tuple) else [data] if data else []
        return [super(PhotosField, self).clean(f, initial) for f in files if f]


def _textarea(rows: int = 3, placeholder: Any = "") -> forms.Textarea:
    attrs: dict[str, Any] = {"rows": rows}
    if placeholder:
        attrs["placeholder"] = placeholder
    return forms.Textarea(attrs=attrs)


# ---------------------------------------------------------------------------------------------- list filters


class CaseFilterForm(forms.Form):
    mine = forms.BooleanField(required=False)
    open = forms.BooleanField(required=False)
    overdue = forms.BooleanField(required=False)
    due_soon = forms.BooleanField(required=False)
    callback = forms.BooleanField(required=False)
    whistle = forms.BooleanField(required=False)  # whistled, a department has not reported yet
    extension = forms.BooleanField(required=False)  # a pending extension request the user decides
    region = forms.IntegerField(required=False, min_value=1)  # a street or community (the home page's map)
    status = forms.ChoiceField(required=False, choices=[("", _("全部状态")), *Status.choices])
    category = forms.IntegerField(required=False, min_value=1)
    grid = forms.IntegerField(required=False, min_value=1)
    department = forms.IntegerField(required=False, min_value=1)
    channel = forms.ChoiceField(required=False, choices=[("", _("全部渠道")), *Channel.choices])
    q = forms.CharField(required=False, max_length=100)
    after = forms.IntegerField(required=False, min_value=1)


# ---------------------------------------------------------------------------------------------- actions


class VersionedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class NoteForm(VersionedForm):
    """Actions whose only input is an optional note (accept, start, resume, request callback)."""

    note = forms.CharField(label=_("备注"), required=False, max_length=NOTE_MAX, widget=_textarea(2))


class ReasonForm(VersionedForm):
    """Actions that need a reason (pause, reopen, reject) and the timeline note."""

    note = forms.CharField(label=_("理由"), max_length=NOTE_MAX, widget=_textarea(2))

    def __init__(self, *args: Any, label: str = "", placeholder: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if label:
            self.fields["note"].label = label
        if placeholder:
            self.fields["note"].widget.attrs["placeholder"] = placeholder


class CommentForm(forms.Form):
    """A note on the timeline (no version: it changes no state)."""

    note = forms.CharField(label=_("备注内容"), max_length=NOTE_MAX, widget=_textarea(2))


class TriageForm(VersionedForm):
    category = forms.TypedChoiceField(label=_("分类"), coerce=int)
    handling_level = forms.ChoiceField(label=_("处置层级"), required=False)
    department = forms.ChoiceField(label=_("承办部门"), required=False)
    urgency = forms.ChoiceField(label=_("紧急程度"), choices=Urgency.choices)
    note = forms.CharField(
        label=_("调整理由"),
        required=False,
        max_length=NOTE_MAX,
        widget=_textarea(2),
        help_text=_("处置层级或承办部门与建议不同时必须填写"),
    )
    auto_assign = forms.BooleanField(label=_("分流后自动派单（在办件最少者优先）"), required=False)

    def __init__(
        self,
        *args: Any,
        categories: list[tuple[Any, str]],
        departments: list[tuple[Any, str]],
        suggestion_label: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["category"]).choices = categories
        default = _("按分类建议") + (f"（{suggestion_label}）" if suggestion_label else "")
        cast(forms.ChoiceField, self.fields["handling_level"]).choices = [
            (DEFAULT, default),
            *HandlingLevel.choices,
        ]
        cast(forms.ChoiceField, self.fields["department"]).choices = [
            (DEFAULT, _("按分类建议")),
            (NO_DEPARTMENT, _("不指定部门")),
            *departments,
        ]


class AssignForm(VersionedForm):
    handler = forms.ChoiceField(label=_("承办人"))
    note = forms.CharField(label=_("派单说明"), required=False, max_length=NOTE_MAX, widget=_textarea(2))

    def __init__(self, *args: Any, handlers: list[tuple[Any, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["handler"]).choices = [
            (AUTO, _("自动派单（在办件最少者优先）")),
            *handlers,
        ]


class ResolveForm(VersionedForm):
    note = forms.CharField(
        label=_("办理结果"), max_length=NOTE_MAX, widget=_textarea(3, _("写明怎么解决的、结果如何"))
    )
    photos = PhotosField(label=_("结果照片"), help_text=_("最多 6 张，每张不超过 10 MB"))


class CallbackForm(VersionedForm):
    satisfaction = forms.ChoiceField(label=_("回访结果"), choices=CALLBACK_CHOICES, widget=forms.RadioSelect)
    note = forms.CharField(
        label=_("回访记录"), required=False, max_length=NOTE_MAX, widget=_textarea(2, _("居民的原话或意见"))
    )


class MergeForm(VersionedForm):
    into = forms.CharField(label=_("合并到诉求编号"), max_length=24)
    note = forms.CharField(label=_("说明"), required=False, max_length=NOTE_MAX, widget=_textarea(2))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["into"].widget.attrs["placeholder"] = _("如 %(n)s") % {"n": numbering.example()}


class RevealForm(forms.Form):
    reason = forms.CharField(label=_("查看事由"), max_length=200, min_length=2)


# ---------------------------------------------------------------------------------------------- panels


class WhistleForm(forms.Form):
    departments = forms.TypedMultipleChoiceField(
        label=_("吹哨部门"), coerce=int, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(label=_("吹哨事由"), max_length=1000, widget=_textarea(2))
    report_within = forms.IntegerField(label=_("报到时限"), min_value=1, max_value=250, initial=1)
    report_unit = forms.ChoiceField(
        label=_("时限单位"), choices=TimeUnit.choices, initial=TimeUnit.WORKING_DAYS
    )

    def __init__(self, *args: Any, departments: list[tuple[Any, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["departments"]).choices = departments


class WhistleStepForm(VersionedForm):
    result = forms.CharField(label=_("办理结果"), required=False, max_length=2000, widget=_textarea(2))


class ExtensionRequestForm(forms.Form):
    amount = forms.IntegerField(label=_("延期时长"), min_value=1, max_value=250)
    unit = forms.ChoiceField(label=_("单位"), choices=TimeUnit.choices, initial=TimeUnit.WORKING_DAYS)
    reason = forms.CharField(label=_("延期理由"), max_length=1000, widget=_textarea(2))


class ExtensionDecideForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("批准")), ("reject", _("不批准"))])
    note = forms.CharField(label=_("审批意见"), required=False, max_length=1000, widget=_textarea(2))


class FeedbackForm(forms.Form):
    satisfaction = forms.ChoiceField(label=_("回访结果"), choices=CALLBACK_CHOICES)
    note = forms.CharField(label=_("回访记录"), required=False, max_length=1000)


# ---------------------------------------------------------------------------------------------- staff entry


class StaffEntryForm(forms.Form):
    """热线来电 / 敲门问需. The place selects are filled with what the user's scope holds; htmx reloads the
    building and unit/household options when the grid or building changes (without JavaScript, the "刷新"
    button re-renders the form with them)."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    channel = forms.ChoiceField(label=_("来源渠道"), choices=STAFF_CHANNELS, widget=forms.RadioSelect)
    # Plain ids with a select: the view checks each against the user's scope and says which one is out of it.
    grid = forms.IntegerField(
        label=_("网格（小区）"), widget=forms.Select, error_messages={"required": _("请选择网格（小区）")}
    )
    building = forms.IntegerField(label=_("楼栋"), required=False, widget=forms.Select)
    unit = forms.IntegerField(label=_("单元"), required=False, widget=forms.Select)
    household = forms.IntegerField(label=_("住户"), required=False, widget=forms.Select)
    address = forms.CharField(label=_("具体位置"), required=False, max_length=200)
    category = forms.IntegerField(
        label=_("问题分类"), widget=forms.Select, error_messages={"required": _("请选择问题分类")}
    )
    urgency = forms.ChoiceField(label=_("紧急程度"), choices=Urgency.choices, initial=Urgency.NORMAL)
    title = forms.CharField(
        label=_("标题"), required=False, max_length=100, help_text=_("可不填，默认取描述前 30 字")
    )
    description = forms.CharField(
        label=_("问题描述"),
        required=False,  # the service says what is missing, in the same words as every other channel
        widget=_textarea(5, _("时间、地点、什么问题、诉求是什么")),
    )
    resident = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    resident_q = forms.CharField(label=_("从居民台账查找"), required=False, max_length=64)
    reporter_name = forms.CharField(label=_("反映人姓名"), required=False, max_length=64)
    reporter_phone = forms.CharField(label=_("联系电话"), required=False, max_length=20)
    photos = PhotosField(label=_("照片"), help_text=_("最多 6 张，每张不超过 10 MB"))

    def __init__(
        self,
        *args: Any,
        grids: list[tuple[Any, str]],
        buildings: list[tuple[Any, str]],
        units: list[tuple[Any, str]],
        households: list[tuple[Any, str]],
        categories: list[tuple[Any, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound and not self.initial.get("idempotency_key"):
            self.initial["idempotency_key"] = uuid.uuid4().hex
        empty = [("", _("请选择"))]
        for name, options in (
            ("grid", [*empty, *grids]),
            ("building", [("", _("不指定楼栋")), *buildings]),
            ("unit", [("", _("不指定单元")), *units]),
            ("household", [("", _("不指定住户")), *households]),
            ("category", [*empty, *categories]),
        ):
            cast(forms.Select, self.fields[name].widget).choices = options

    def clean_reporter_phone(self) -> str:
        raw = (self.cleaned_data.get("reporter_phone") or "").strip()
        if not raw:
            return ""
        try:
            return normalize_phone(raw)
        except ValueError as exc:
            raise forms.ValidationError(
                _("联系电话格式不正确：手机号为 11 位数字，座机请写成“区号-号码”，如 0530-5612345")
            ) from exc


# ---------------------------------------------------------------------------------------------- categories


class CategoryForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=64)
    code = forms.CharField(
        label=_("代码"),
        max_length=48,
        required=False,
        help_text=_("小写英文字母、数字、下划线，创建后不可修改"),
    )
    parent = forms.TypedChoiceField(label=_("上级分类"), coerce=int, required=False, empty_value=None)
    description = forms.CharField(label=_("说明"), max_length=300, required=False)
    default_level = forms.ChoiceField(label=_("默认处置层级"), choices=HandlingLevel.choices)
    default_department_code = forms.ChoiceField(
        label=_("默认职能部门"),
        required=False,
        help_text=_("处置层级为职能部门时必选；列表中没有的部门请先在“职能部门”中添加"),
        error_messages={
            "invalid_choice": _("还没有代码为“%(value)s”的职能部门，请先在“职能部门”中添加，或改选已有部门")
        },
    )
    property_service = forms.BooleanField(
        label=_("物业服务类"),
        required=False,
        help_text=_("在有物业经理的小区（网格）反映时，自动派给该小区的物业经理办理"),
    )
    accept_within = forms.IntegerField(label=_("受理时限"), min_value=1, max_value=10000)
    accept_unit = forms.ChoiceField(label=_("受理时限单位"), choices=TimeUnit.choices)
    resolve_within = forms.IntegerField(label=_("办结时限"), min_value=1, max_value=10000)
    resolve_unit = forms.ChoiceField(label=_("办结时限单位"), choices=TimeUnit.choices)
    service_code = forms.CharField(label=_("Open311 服务代码"), max_length=32, help_text=_("须唯一，如 601"))
    keywords = forms.CharField(
        label=_("关键词"), max_length=400, required=False, help_text=_("用顿号或空格分隔，供智能分流参考")
    )
    active = forms.BooleanField(label=_("启用"), required=False)
    sort = forms.IntegerField(label=_("排序"), min_value=0, max_value=32767, initial=0)
    # Emergencies (紧急警情, ADR 0026)
    emergency_rule = forms.ChoiceField(
        label=_("紧急警情规则"),
        choices=EmergencyRule.choices,
        initial=EmergencyRule.OFF,
        required=False,
        help_text=_("命中时按“特急”处置：自然时间计时，立即推送物业、网格员和社区值班电话"),
    )
    emergency_attribute = forms.CharField(
        label=_("触发字段代码"),
        max_length=48,
        required=False,
        help_text=_("本分类附加字段的代码，如 trapped"),
    )
    emergency_values = forms.CharField(
        label=_("触发取值"), max_length=200, required=False, help_text=_("该字段取这些值时触发，如 yes")
    )
    emergency_keywords = forms.CharField(
        label=_("触发关键词"),
        max_length=400,
        required=False,
        help_text=_("标题或描述含其中任一词时触发，用顿号分隔，如 困人、被困"),
    )
    emergency_accept_minutes = forms.IntegerField(
        label=_("紧急受理时限（分钟）"), min_value=1, max_value=1440, initial=10, required=False
    )
    emergency_resolve_minutes = forms.IntegerField(
        label=_("紧急办结时限（分钟）"), min_value=1, max_value=10080, initial=120, required=False
    )
    emergency_ack_minutes = forms.IntegerField(
        label=_("接警确认时限（分钟）"),
        min_value=1,
        max_value=120,
        initial=5,
        required=False,
        help_text=_("超时无人接警确认，升级推送街道、县区值班"),
    )

    def __init__(
        self,
        *args: Any,
        parents: list[tuple[Any, str]],
        departments: list[tuple[str, str]] | None = None,
        editing: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["parent"]).choices = [("", _("（无，作为一级分类）")), *parents]
        cast(forms.ChoiceField, self.fields["default_department_code"]).choices = [
            ("", _("（不指定）")),
            *(departments or []),
        ]
        if editing:
            self.fields["code"].disabled = True
        else:
            self.fields["code"].required = True


class AttributeForm(forms.Form):
    code = forms.CharField(label=_("字段代码"), max_length=48)
    description = forms.CharField(label=_("字段说明"), max_length=200)
    datatype = forms.ChoiceField(label=_("数据类型"), choices=AttributeType.choices)
    required = forms.BooleanField(label=_("必填"), required=False)
    values = forms.CharField(
        label=_("可选值"),
        required=False,
        widget=_textarea(3, "yes=是\nno=否"),
        help_text=_("单选、多选类型填写，每行一个“代码=名称”"),
    )
    order = forms.IntegerField(label=_("顺序"), min_value=0, max_value=32767, initial=0)
