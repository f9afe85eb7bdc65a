"""Console page 设置 → 台账列名: the installation-wide column headings of ledgers (``ColumnAlias`` rows without a
community) next to the built-in synonym table.

Every community's import reads its columns through these headings, so changing them needs ``Cap.CONFIGURE``
(county and city administrators, superusers: ADR 0019); each change is kept in the audit trail. Headings a
community's worker corrected during an import are remembered for that community only and are not shown here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from linli.audit import services as audit
from linli.console.forms import ColumnAliasForm
from linli.console.views import console_view
from linli.core.errors import LinliError, PermissionDenied
from linli.org import access
from linli.registry import ledger_columns
from linli.registry.models import ColumnAlias

ENTITY = "registry.columnalias"


def _require(request: HttpRequest) -> None:
    if not access.can_configure(request.user):
        raise PermissionDenied(_("只有县（区）、市管理员可以维护台账列名"))


def _snapshot(row: ColumnAlias | None) -> dict[str, Any]:
    return {} if row is None else {"header": row.header, "key": row.key}


def _builtin(choices: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The built-in synonym table grouped by field, in the order of the field choices."""
    columns = ledger_columns
    table = columns.default_table()
    by_key: dict[str, list[str]] = {}
    for header, key in sorted(table.aliases.items()):
        by_key.setdefault(key or "", []).append(header)
    order = {key: i for i, (key, _label) in enumerate(choices)}
    labels = dict(choices)
    rows = [
        {
            "key": key,
            "label": labels.get(key) or columns.field_label(key) if key else _("忽略（不导入、不提示）"),
            "headers": headers,
        }
        for key, headers in by_key.items()
    ]
    return sorted(rows, key=lambda r: (r["key"] == "", order.get(r["key"], len(order)), r["key"]))


def alias_save(*, actor: Any, header: str, key: str) -> tuple[ColumnAlias, bool]:
    """Add or change one installation-wide heading (normalised as the reader normalises it); audited.
    Returns (row, created)."""
    normalised = ledger_columns.normalise_header(header)
    if not normalised:
        raise LinliError(_("请填写表头文字"), field="header")
    with transaction.atomic():
        row = ColumnAlias.objects.select_for_update().filter(region__isnull=True, header=normalised).first()
        before = _snapshot(row)
        created = row is None
        if row is None:
            row = ColumnAlias.objects.create(region=None, header=normalised, key=key, updated_by=actor)
        else:
            row.key, row.updated_by = key, actor
            row.save(update_fields=["key", "updated_by", "updated_at"])
        audit.change_record(
            actor=actor,
            entity=ENTITY,
            entity_id=row.pk,
            action="create" if created else "update",
            before=before,
            after=_snapshot(row),
        )
    return row, created


def alias_delete(*, actor: Any, row: ColumnAlias) -> None:
    with transaction.atomic():
        before, pk = _snapshot(row), row.pk
        row.delete()
        audit.change_record(
            actor=actor, entity=ENTITY, entity_id=pk, action="delete", before=before, after={}
        )


@console_view
def column_aliases(request: HttpRequest) -> HttpResponse:
    _require(request)
    choices = ledger_columns.field_choices()
    form = ColumnAliasForm(request.POST or None, choices=choices)
    if request.method == "POST" and form.is_valid():
        try:
            row, created = alias_save(
                actor=request.user, header=form.cleaned_data["header"], key=form.cleaned_data["key"] or ""
            )
        except LinliError as exc:
            form.add_error("header" if exc.field == "header" else None, str(exc))
        else:
            text = _("已新增列名“%(header)s”") if created else _("已修改列名“%(header)s”")
            messages.success(request, text % {"header": row.header})
            return redirect("console:ledger_columns")
    labels = dict(choices)
    field_label = ledger_columns.field_label
    aliases = [
        {"row": a, "label": labels.get(a.key) or field_label(a.key) if a.key else _("忽略此列")}
        for a in ColumnAlias.objects.filter(region__isnull=True)
        .select_related("updated_by")
        .order_by("header")
    ]
    context = {"menu": "ledger_columns", "form": form, "aliases": aliases, "builtin": _builtin(choices)}
    return render(request, "console/ledger_columns.html", context)


@console_view
def column_alias_delete(request: HttpRequest, pk: int) -> HttpResponse:
    _require(request)
    if request.method != "POST":
        return redirect("console:ledger_columns")
    row = ColumnAlias.objects.filter(pk=pk, region__isnull=True).first()
    if row is None:
        raise Http404
    header = row.header
    alias_delete(actor=request.user, row=row)
    messages.success(request, _("已删除列名“%(header)s”") % {"header": header})
    return redirect("console:ledger_columns")
