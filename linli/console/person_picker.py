"""The person picker of 设置岗位: a search box (htmx) listing the accounts the user may give a post, each a radio
button carrying the login name the form posts. Results are rendered by the template engine (escaped); without
JavaScript the chosen person stays checked after a refused submit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse_lazy


class PersonPicker(forms.Widget):
    template_name = "console/org/_person_picker.html"
    search_url = reverse_lazy("console:org_post_people")

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["search_url"] = str(self.search_url)
        context["widget"]["search_id"] = f"{context['widget']['attrs'].get('id') or name}"
        return context

    def id_for_label(self, id_: str) -> str:
        return id_  # the search box carries the field's id: the label names it
