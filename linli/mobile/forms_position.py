"""The phone's position on a grid worker's report (a problem outside any building): latitude and longitude filled
by ``mobile/position.js`` from ``navigator.geolocation``, and a short description of the place typed by hand (the
fallback when the phone cannot locate). A position must be a real point in China and in the worker's grid."""

from __future__ import annotations

import math
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from linli.cases.intake import clean_point
from linli.core.errors import LinliError
from linli.registry import geometry
from linli.registry.models import Grid

ADDRESS_MAX = 120  # leaves room in the case's 200-character address for the coordinates
_COORD = {"invalid": _("定位数据无效，请重新定位")}


class PositionForm(forms.Form):
    lat = forms.FloatField(required=False, widget=forms.HiddenInput, error_messages=_COORD)
    lng = forms.FloatField(required=False, widget=forms.HiddenInput, error_messages=_COORD)
    accuracy = forms.FloatField(required=False, widget=forms.HiddenInput, error_messages=_COORD)
    address = forms.CharField(
        label=_("位置说明（选填）"),
        max_length=ADDRESS_MAX,
        required=False,
        help_text=_("如：3号楼东侧停车场入口；手机无法定位时请务必填写"),
        error_messages={"max_length": _("位置说明不能超过 %(limit_value)d 个字")},
    )

    def __init__(self, *args: Any, grid: Grid, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grid = grid

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        lat, lng = data.get("lat"), data.get("lng")
        if self.errors or (lat is None and lng is None):
            return data
        try:
            lat, lng = clean_point(lat, lng)
        except LinliError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if lat is not None and lng is not None and geometry.grid_contains(self.grid, lat, lng) is False:
            raise forms.ValidationError(
                _("您的位置不在“%(grid)s”网格范围内：请到现场后重新定位，或改选楼栋、填写位置说明。")
                % {"grid": self.grid.name}
            )
        data["lat"], data["lng"] = lat, lng
        accuracy = data.get("accuracy")
        data["accuracy"] = round(accuracy) if accuracy is not None and 0 < accuracy < 100_000 else None
        return data

    def case_place(self) -> dict[str, Any]:
        """``lat``, ``lng`` and ``address`` for ``cases.services.case_create``: the typed description, followed by
        the coordinates so every page that shows the case's place shows where the phone was."""
        data = self.cleaned_data
        lat, lng, text = data.get("lat"), data.get("lng"), (data.get("address") or "").strip()
        if lat is None or lng is None or not (math.isfinite(lat) and math.isfinite(lng)):
            return {"lat": None, "lng": None, "address": text}
        located = f"手机定位 {lat:.5f}, {lng:.5f}"
        if data.get("accuracy"):
            located += f"（约 {data['accuracy']} 米）"
        return {"lat": lat, "lng": lng, "address": f"{text} · {located}" if text else located}
