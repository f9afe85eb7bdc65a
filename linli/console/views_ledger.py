"""Console pages for the ledger (import, export) and the key-group settings."""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from linli.console.forms import (
    ExportForm,
    ImportForm,
    ImportMappingForm,
    KeyGroupForm,
    KeyGroupRenameForm,
)
from linli.console.views import console_view
from linli.core.errors import LinliError, PermissionDenied
from linli.core.scope import Scope
from linli.org import access
from linli.org.access import Cap
from linli.registry import ledger_columns, selectors
from linli.registry import services as registry_services
from linli.registry.choices import IdKind, PoliticalStatus, Relation, ResidenceType, ResidentStatus, Sex
from linli.registry.models import Grid, ImportJob, KeyGroup, Region

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _module(name: str) -> Any:
    """The import/export back-end, loaded on use so the console works while it is being built."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:  # pragma: no cover - only while the back-end is missing
        raise LinliError(_("导入导出功能暂不可用，请联系管理员")) from exc


def _tmp_path(suffix: str) -> Path:
    handle = tempfile.NamedTemporaryFile(prefix="linli-", suffix=suffix, delete=False)  # noqa: SIM115
    handle.close()
    return Path(handle.name)


def _download(path: Path, filename: str, content_type: str = XLSX) -> FileResponse:
    fh = path.open("rb")
    path.unlink(missing_ok=True)  # the open handle keeps the data readable on POSIX
    return FileResponse(fh, as_attachment=True, filename=filename, content_type=content_type)


# ---------------------------------------------------------------- import
#
# Four steps: 1 upload (a DRAFT job), 2 columns and options (``import_mapping``), 3 the dry run's preview
# (``import_preview``, computed by the ``run_import_preview`` task), 4 the import itself (``import_job``, after
# ``import_confirm``). Nothing reaches the register before the worker confirms the preview.

# How a column's field was found (``ColumnTable.key_for``) → the mark shown next to it.
HOW_LABELS = {
    "synonym": gettext_lazy("自动识别"),
    "alias": gettext_lazy("已记住"),
    "mapping": gettext_lazy("已记住"),
    "ignored": gettext_lazy("忽略"),
    "unknown": gettext_lazy("未识别"),
}
HOW_STATUS = {"synonym": "ok", "alias": "info", "mapping": "info", "ignored": "", "unknown": "warn"}
ACTION_LABELS = {
    "create": gettext_lazy("新增"),
    "update": gettext_lazy("更新"),
    "move": gettext_lazy("换住户"),
    "rename": gettext_lazy("更名"),
    "tags_removed": gettext_lazy("移除重点人群"),
    "tags": gettext_lazy("重点人群变更"),
    "moved_out": gettext_lazy("标记迁出"),
    "deceased": gettext_lazy("标记已故"),
    "conflict": gettext_lazy("冲突"),
}
PLACE_KINDS = (
    ("building", gettext_lazy("新楼栋")),
    ("unit", gettext_lazy("新单元")),
    ("household", gettext_lazy("新住户")),
)
SEVERITY_LABELS = {
    "error": gettext_lazy("错误"),
    "warning": gettext_lazy("提示"),
    "note": gettext_lazy("已转换"),
}
COUNT_LABELS = (
    ("rows_total", gettext_lazy("数据行")),
    ("created", gettext_lazy("将新增")),
    ("updated", gettext_lazy("将更新")),
    ("unchanged", gettext_lazy("无变化")),
    ("rejected", gettext_lazy("有错误不导入")),
    ("skipped", gettext_lazy("跳过")),
)
PROBLEMS_SHOWN = 50


@console_view
def import_page(request: HttpRequest) -> HttpResponse:
    """Step 1: upload the file; it is stored as a draft job and nothing is read into the register yet."""
    access.require(request.user, Cap.IMPORT)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            ledger_import = _module("linli.registry.ledger_import")
            job = ledger_import.import_job_create(
                actor=request.user,
                filename=upload.name,
                fileobj=upload,
                options=ledger_import.ImportOptions(),
                draft=True,
            )
        except PermissionDenied:
            raise
        except LinliError as exc:
            form.add_error("file", str(exc))
        else:
            return redirect("console:import_mapping", pk=job.pk)
    jobs = list(ImportJob.objects.filter(actor_id=request.user.pk).order_by("-id")[:10])
    context = {
        "menu": "import",
        "step": 1,
        "form": form,
        "jobs": jobs,
        "can_configure": access.can_configure(request.user),
    }
    return render(request, "console/import.html", context)


@console_view
def import_template(request: HttpRequest) -> HttpResponseBase:
    access.require(request.user, Cap.IMPORT)
    ledger = _module("linli.registry.ledger")
    path = _tmp_path(".xlsx")
    ledger.write_template(path)
    return _download(path, "居民台账模板.xlsx")


def _get_job(request: HttpRequest, pk: int) -> ImportJob:
    """The user's own job (a superuser sees every job); 404 otherwise. Needs ``Cap.IMPORT``."""
    access.require(request.user, Cap.IMPORT)
    qs = ImportJob.objects.filter(pk=pk)
    if not request.user.is_superuser:
        qs = qs.filter(actor_id=request.user.pk)
    job = qs.first()
    if job is None:
        raise Http404
    return job


def _preview_requested(job: ImportJob) -> bool:
    # Saving the columns stamps ``heartbeat_at`` (a draft never runs, so the stall monitor ignores it).
    return job.previewed_at is not None or job.heartbeat_at is not None


def _draft_step(job: ImportJob) -> HttpResponse:
    """Where a draft job continues: the preview once asked for, else the column mapping."""
    name = "console:import_preview" if _preview_requested(job) else "console:import_mapping"
    return redirect(name, pk=job.pk)


def _community(scope: Scope) -> Region | None:
    """The community whose column corrections are remembered: the only one in the user's import scope."""
    communities = _communities_in_scope(scope)
    return communities[0] if len(communities) == 1 else None


def _with_detected(choices: list[tuple[str, str]], columns: list[Any]) -> list[tuple[str, str]]:
    """The choices plus any key the reader found that they lack (a tick column of a key group not in the
    database yet), so that saving the page does not silently switch such a column off."""
    known = {key for key, _label in choices}
    field_label = ledger_columns.field_label
    extra = {c.key: field_label(c.key) for c in columns if c.key and c.key not in known}
    return [*choices, *extra.items()]


def _inspect(job: ImportJob, *, sheet: str | None, mapping: dict[str, str], region: Region | None) -> Any:
    """The reader's view of the file (header, columns with samples, problems) under ``mapping``."""
    ledger_mod = _module("linli.registry.ledger")
    columns = ledger_columns
    table = columns.column_table(region=region, mapping=mapping or None)
    ledger = ledger_mod.inspect_ledger(job.path, sheet=sheet or None, table=table)
    close = getattr(ledger, "close", None)
    if callable(close):
        close()  # only plain data is read from it below
    return ledger


def _sheet_rows(ledger: Any) -> list[dict[str, Any]]:
    """``Ledger.sheets`` (tuples or records) as dicts for the sheet selector."""
    rows = []
    for sheet in getattr(ledger, "sheets", None) or []:
        if isinstance(sheet, tuple) and not hasattr(sheet, "name"):
            name, estimated, hidden, has_header, used = (list(sheet) + [None] * 5)[:5]
        else:
            name, estimated = sheet.name, getattr(sheet, "rows", getattr(sheet, "estimated_rows", 0))
            hidden, has_header = getattr(sheet, "hidden", False), getattr(sheet, "has_header", True)
            used = getattr(sheet, "used", False)
        rows.append(
            {
                "name": name,
                "rows": estimated or 0,
                "hidden": bool(hidden),
                "has_header": bool(has_header),
                "used": bool(used),
            }
        )
    return rows


def _column_rows(form: ImportMappingForm) -> list[dict[str, Any]]:
    return [
        {
            "column": column,
            "field": field,
            "samples": [str(v) for v in (getattr(column, "samples", None) or []) if str(v).strip()][:3],
            "how": HOW_LABELS.get(column.how, ""),
            "how_status": HOW_STATUS.get(column.how, ""),
        }
        for column, field in form.column_fields()
    ]


def _corrections(form: ImportMappingForm) -> dict[str, str]:
    """The columns whose field the worker changed: normalised header → key ("" = ignore)."""
    normalise = ledger_columns.normalise_header
    chosen = form.chosen()
    corrected: dict[str, str] = {}
    for column in form.columns:
        header = normalise(column.header or "")
        if header and chosen[column.index] != (column.key or ""):
            corrected[header] = chosen[column.index]
    return corrected


def _mapping_initial(options: dict[str, Any]) -> dict[str, Any]:
    return {
        "create_places": bool(options.get("create_places")),
        "replace_empty": bool(options.get("replace_empty")),
        "allow_renames": bool(options.get("allow_renames")),
        "grid": options.get("grid_id"),
    }


@console_view
def import_mapping(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 2: the sheet, the header found, each column's field (correctable) and the import options."""
    job = _get_job(request, pk)
    if job.status != ImportJob.Status.DRAFT:
        return redirect("console:import_job", pk=job.pk)
    scope = access.require(request.user, Cap.IMPORT)
    region = _community(scope)
    options = dict(job.options or {})
    sheet = (
        request.POST.get("sheet") if request.method == "POST" else request.GET.get("sheet")
    ) or options.get("sheet")
    mapping = dict(options.get("mapping") or {}) if sheet == options.get("sheet") else {}
    try:
        ledger = _inspect(job, sheet=sheet, mapping=mapping, region=region)
    except (LinliError, OSError) as exc:
        error = (
            str(exc) if isinstance(exc, LinliError) else _("上传的文件已不存在（可能已过期清理），请重新上传")
        )
        context = {"menu": "import", "step": 2, "job": job, "error": error}
        return render(request, "console/import_mapping.html", context)
    choices = _with_detected(ledger_columns.field_choices(), ledger.columns)
    grids = selectors.grids_in_scope(scope=scope).select_related("community").order_by("code")
    form = ImportMappingForm(
        request.POST if request.method == "POST" else None,
        columns=list(ledger.columns),
        choices=choices,
        grids=grids,
        initial=_mapping_initial(options),
    )
    problems = list(getattr(ledger, "problems", None) or [])
    if request.method == "POST" and form.is_valid():
        corrected = _corrections(form)
        chosen = {**mapping, **corrected}
        try:
            problems = list(_inspect(job, sheet=sheet, mapping=chosen, region=region).problems or [])
        except LinliError as exc:
            problems = [str(exc)]
        if not problems:
            _save_mapping(
                request, job, sheet=sheet, mapping=chosen, corrected=corrected, region=region, form=form
            )
            return redirect("console:import_preview", pk=job.pk)
    context = {
        "menu": "import",
        "step": 2,
        "job": job,
        "form": form,
        "sheet": sheet or "",
        "sheets": _sheet_rows(ledger),
        "header_rows": getattr(ledger, "header_rows", None),
        "columns": _column_rows(form),
        "problems": problems,
        "warnings": list(getattr(ledger, "warnings", None) or []),
        "region": region,
    }
    return render(request, "console/import_mapping.html", context)


def _save_mapping(
    request: HttpRequest,
    job: ImportJob,
    *,
    sheet: str | None,
    mapping: dict[str, str],
    corrected: dict[str, str],
    region: Region | None,
    form: ImportMappingForm,
) -> None:
    """Store the options on the draft, remember the corrections for the community, and ask for the preview.

    ``mapping`` holds the job's corrections only: the engine reads the file with the same table as this page
    (built-in synonyms, installation-wide names, the community's remembered names: ``community_id``)."""
    ledger_import = _module("linli.registry.ledger_import")
    columns = ledger_columns
    tasks = _module("linli.org.tasks")
    data = form.cleaned_data
    grid = data.get("grid")
    options = ledger_import.ImportOptions(
        sheet=sheet or None,
        mapping=mapping,
        create_places=bool(data.get("create_places")),
        replace_empty=bool(data.get("replace_empty")),
        allow_renames=bool(data.get("allow_renames")),
        grid_id=grid.pk if grid is not None else None,
        community_id=region.pk if region is not None else None,
    )
    user_id = request.user.pk
    with transaction.atomic():
        if corrected and region is not None:
            columns.remember_mapping(region, corrected, request.user)
        ledger_import.import_job_set_options(job.pk, options)
        # ``heartbeat_at`` marks "preview asked for" (a draft never runs, so the stall monitor ignores it).
        ImportJob.objects.filter(pk=job.pk).update(message="", heartbeat_at=timezone.now())
        transaction.on_commit(lambda: tasks.run_import_preview.enqueue(job.pk, user_id))


# A change's before/after are resident snapshots (``registry.services.resident_snapshot``): field → label, codes →
# their choice labels; internal ids are not shown.
SNAPSHOT_LABELS = {
    "name": gettext_lazy("姓名"),
    "id_kind": gettext_lazy("证件类型"),
    "id_masked": gettext_lazy("证件号码"),
    "birth_date": gettext_lazy("出生日期"),
    "sex": gettext_lazy("性别"),
    "phone_masked": gettext_lazy("联系电话"),
    "ethnicity": gettext_lazy("民族"),
    "political_status": gettext_lazy("政治面貌"),
    "occupation": gettext_lazy("职业"),
    "residence_type": gettext_lazy("人口类型"),
    "relation": gettext_lazy("与户主关系"),
    "status": gettext_lazy("人员状态"),
    "note": gettext_lazy("备注"),
    "key_groups": gettext_lazy("重点人群"),
    "address": gettext_lazy("住址"),
    "moved_in_on": gettext_lazy("迁入日期"),
    "household_no": gettext_lazy("户号"),
}
SNAPSHOT_HIDDEN = frozenset({"household_id", "grid_id", "region_code", "version", "unit_id", "building_id"})
SNAPSHOT_CHOICES: dict[str, Any] = {
    "id_kind": IdKind,
    "sex": Sex,
    "political_status": PoliticalStatus,
    "residence_type": ResidenceType,
    "relation": Relation,
    "status": ResidentStatus,
}
CHANGES_SHOWN = 2000
CREATED_SHOWN = 200


def _value_text(field: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value) or "—"
    choices = SNAPSHOT_CHOICES.get(field)
    if choices is not None and value in choices.values:
        return str(choices(value).label)
    return str(value)


def _values_text(values: Any, fields: list[str]) -> str:
    """One side of a change (the fields that differ) as one line: 政治面貌：中共党员；联系电话：138****1234."""
    if not isinstance(values, dict):
        return "—" if values in (None, "", [], {}) else str(values)
    parts = [f"{SNAPSHOT_LABELS.get(f, f)}：{_value_text(f, values.get(f))}" for f in fields]
    return "；".join(parts) or "—"


def _change_row(change: dict[str, Any]) -> dict[str, Any]:
    before: dict[str, Any] = change["before"] if isinstance(change.get("before"), dict) else {}
    after: dict[str, Any] = change["after"] if isinstance(change.get("after"), dict) else {}
    fields = [
        f
        for f in dict.fromkeys([*before, *after])
        if f not in SNAPSHOT_HIDDEN and before.get(f) != after.get(f)
    ]
    action = str(change.get("action", ""))
    return {
        "row": change.get("row"),
        "name": change.get("name", ""),
        "action": ACTION_LABELS.get(action, action),
        "before": _values_text(change.get("before"), fields),
        "after": _values_text(change.get("after"), fields),
    }


def _summary(job: ImportJob) -> dict[str, list[dict[str, Any]]]:
    """``job.summary`` split: the problems (errors, warnings) and the values converted to the standard wording."""
    lines = [
        {**line, "severity_label": SEVERITY_LABELS.get(line.get("severity", ""), "")}
        for line in job.summary or []
    ]
    return {
        "problems_summary": [line for line in lines if line.get("severity") != "note"],
        "notes_summary": [line for line in lines if line.get("severity") == "note"],
    }


def _preview_context(job: ImportJob) -> dict[str, Any]:
    preview: dict[str, Any] = dict(job.preview or {})
    counts = preview.get("counts") or {}
    all_changes = list(preview.get("changes") or [])
    created = [c for c in all_changes if c.get("action") == "create"]
    changed = [c for c in all_changes if c.get("action") != "create"]
    places = preview.get("new_places") or []
    errors = list(job.errors or [])
    warnings = list(job.warnings or [])
    return {
        "job": job,
        "ready": job.previewed_at is not None,
        "failed": job.previewed_at is None and (bool(job.message) or job.status == ImportJob.Status.FAILED),
        "counts": [(label, counts.get(key, 0)) for key, label in COUNT_LABELS if key in counts],
        **_summary(job),
        "changes": [_change_row(c) for c in changed[:CHANGES_SHOWN]],
        "changes_total": max(int(preview.get("changes_total") or 0) - len(created), len(changed)),
        "created": [
            {
                "row": c.get("row"),
                "name": c.get("name", ""),
                "address": (c.get("after") or {}).get("address", ""),
            }
            for c in created[:CREATED_SHOWN]
        ],
        "created_total": int(counts.get("created") or len(created)),
        "new_places": [
            (label, [p for p in places if p.get("kind") == kind])
            for kind, label in PLACE_KINDS
            if any(p.get("kind") == kind for p in places)
        ],
        "file_warnings": list(preview.get("file_warnings") or []),
        "errors": errors[:PROBLEMS_SHOWN],
        "errors_total": len(errors),
        "warnings_list": warnings[:PROBLEMS_SHOWN],
        "warnings_total": len(warnings),
        "problems_shown": PROBLEMS_SHOWN,
        "is_draft": job.status == ImportJob.Status.DRAFT,
    }


@console_view
def import_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 3: what the import would do (polled until the preview task has finished)."""
    job = _get_job(request, pk)
    if job.status != ImportJob.Status.DRAFT:
        return redirect("console:import_job", pk=job.pk)
    if not _preview_requested(job):
        return redirect("console:import_mapping", pk=job.pk)
    return render(
        request, "console/import_preview.html", {"menu": "import", "step": 3, **_preview_context(job)}
    )


@console_view
def import_preview_status(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job(request, pk)
    context = _preview_context(job)
    response = render(request, "console/partials/import_preview.html", context)
    if context["ready"] or context["failed"] or not context["is_draft"]:
        response.status_code = 286  # htmx: stop polling
    return response


@console_view
def import_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 3 → 4: the worker confirms the preview; the job is queued and its progress page follows."""
    job = _get_job(request, pk)
    if request.method != "POST":
        return redirect("console:import_preview", pk=job.pk)
    if job.status != ImportJob.Status.DRAFT:
        return redirect("console:import_job", pk=job.pk)
    ledger_import = _module("linli.registry.ledger_import")
    tasks = _module("linli.org.tasks")
    try:
        with transaction.atomic():
            job = ledger_import.import_job_confirm(job.pk)
            user_id = request.user.pk
            transaction.on_commit(lambda: tasks.run_import_job.enqueue(job.pk, user_id))
    except PermissionDenied:
        raise
    except LinliError as exc:
        messages.error(request, str(exc))
        return redirect("console:import_preview", pk=job.pk)
    return redirect("console:import_job", pk=job.pk)


@console_view
def import_discard(request: HttpRequest, pk: int) -> HttpResponse:
    """Abandon a draft: the job ends as failed ("放弃") and the uploaded ledger (plaintext IDs) is deleted now."""
    job = _get_job(request, pk)
    if request.method != "POST":
        return redirect("console:import_job", pk=job.pk)
    abandoned = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.DRAFT).update(
        status=ImportJob.Status.FAILED, message=_("已放弃，未导入任何数据"), updated_at=timezone.now()
    )
    if not abandoned:
        return redirect("console:import_job", pk=job.pk)
    _module("linli.registry.import_uploads").discard(job.path)
    messages.success(request, _("已放弃导入“%(name)s”，上传的文件已删除") % {"name": job.filename})
    return redirect("console:import")


def _job_context(job: ImportJob) -> dict[str, Any]:
    total = job.rows_total or 0
    percent = (
        100 if job.status == ImportJob.Status.DONE else (int(job.rows_done * 100 / total) if total else 0)
    )
    return {
        "job": job,
        "percent": min(percent, 100),
        "finished": job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED),
        "errors_preview": (job.errors or [])[:20],
        **_summary(job),
    }


@console_view
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    """Step 4: the import's progress (a draft goes back to the step it is at)."""
    job = _get_job(request, pk)
    if job.status == ImportJob.Status.DRAFT:
        return _draft_step(job)
    return render(request, "console/import_job.html", {"menu": "import", "step": 4, **_job_context(job)})


@console_view
def import_job_status(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job(request, pk)
    response = render(request, "console/partials/import_status.html", _job_context(job))
    if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        response.status_code = 286  # htmx: stop polling
    return response


@console_view
def import_job_report(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The report of the preview or of the import: 汇总, 问题明细 and (for a preview) 变更预览."""
    job = _get_job(request, pk)
    ledger_import = _module("linli.registry.ledger_import")
    result = ledger_import.result_from_job(job)
    path = _tmp_path(".xlsx")
    ledger_import.write_report(result, path)
    stem = Path(job.filename).stem or "ledger"
    suffix = _("预览报告") if job.status == ImportJob.Status.DRAFT else _("导入报告")
    return _download(path, f"{stem}_{suffix}.xlsx")


# ---------------------------------------------------------------- export


def _communities_in_scope(scope: Scope) -> list[Region]:
    qs = Region.objects.filter(level="community")
    if not scope.everything:
        if not scope.region_ranges:
            return []
        from django.db.models import Q

        q = Q(pk__in=[])
        for lo, hi in scope.region_ranges:
            q |= Q(code__gte=str(lo), code__lte=str(hi))
        qs = qs.filter(q)
    return list(qs.order_by("code"))


def _export_places(scope: Scope) -> tuple[list[tuple[str, str]], dict[str, Grid | Region]]:
    grids = list(selectors.grids_in_scope(scope=scope))
    communities = _communities_in_scope(scope)
    lookup: dict[str, Grid | Region] = {f"region:{c.pk}": c for c in communities}
    lookup.update({f"grid:{g.pk}": g for g in grids})
    choices: list[Any] = []
    if communities:
        choices.append((_("整个社区"), [(f"region:{c.pk}", c.name) for c in communities]))
    if grids:
        choices.append((_("单个网格"), [(f"grid:{g.pk}", f"{g.community.name} · {g.name}") for g in grids]))
    return choices, lookup


def _call_export(
    *,
    scope: Scope,
    out: Path,
    grid: Grid | None,
    region: Region | None,
    full_id: bool,
    actor: Any,
    reason: str,
) -> int:
    ledger_export = _module("linli.registry.ledger_export")
    count: int = ledger_export.export_residents(
        scope=scope,
        out_path_or_file=out,
        grid=grid,
        region=region,
        reveal=full_id,
        actor=actor,
        reason=reason,
    )
    return count


@console_view
def export_page(request: HttpRequest) -> HttpResponseBase:
    scope = access.require(request.user, Cap.EXPORT)
    can_reveal = access.can(request.user, Cap.REVEAL)
    choices, lookup = _export_places(scope)
    form = ExportForm(request.POST or None, places=choices, can_reveal=can_reveal)
    error = ""
    if request.method == "POST" and form.is_valid():
        target = lookup[form.cleaned_data["place"]]
        full_id = bool(form.cleaned_data.get("full_id"))
        export_scope = scope
        if full_id:
            reveal_scope = access.require(
                request.user, Cap.REVEAL, target if isinstance(target, Grid) else None
            )
            if (
                isinstance(target, Region)
                and not any(lo <= target.code_int <= hi for lo, hi in reveal_scope.region_ranges)
                and not reveal_scope.everything
            ):
                raise PermissionDenied(_("您无权导出该范围的完整证件号码"))
            export_scope = reveal_scope
        out = _tmp_path(".xlsx")
        try:
            _call_export(
                scope=export_scope,
                out=out,
                grid=target if isinstance(target, Grid) else None,
                region=target if isinstance(target, Region) else None,
                full_id=full_id,
                actor=request.user,
                reason=(form.cleaned_data.get("reason") or "").strip(),
            )
        except PermissionDenied:
            out.unlink(missing_ok=True)
            raise
        except LinliError as exc:
            out.unlink(missing_ok=True)
            error = str(exc)
        else:
            stamp = timezone.localtime().strftime("%Y%m%d")
            suffix = _("完整") if full_id else _("脱敏")
            return _download(out, f"居民台账_{target.name}_{suffix}_{stamp}.xlsx")
    return render(
        request,
        "console/export.html",
        {
            "menu": "export",
            "form": form,
            "error": error,
            "can_reveal": can_reveal,
            "has_places": bool(choices),
        },
    )


# ---------------------------------------------------------------- key groups


def _require_manage(request: HttpRequest) -> None:
    # Key groups are installation-wide (every community's ledger uses them): Cap.CONFIGURE, ADR 0019.
    if not access.can_configure(request.user):
        raise PermissionDenied(_("只有县（区）、市管理员可以维护重点人群类别"))


@console_view
def key_groups(request: HttpRequest) -> HttpResponse:
    _require_manage(request)
    form = KeyGroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            group = registry_services.key_group_create(
                actor=request.user,
                name=data["name"],
                code=data["code"],
                min_age=data.get("min_age"),
                sort=data.get("sort") or 0,
            )
        except LinliError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("已新增重点人群“%(name)s”") % {"name": group.name})
            return redirect("console:key_groups")
    groups = list(KeyGroup.objects.order_by("-active", "sort", "id"))
    return render(request, "console/key_groups.html", {"menu": "key_groups", "groups": groups, "form": form})


@console_view
def key_group_action(request: HttpRequest, pk: int) -> HttpResponse:
    _require_manage(request)
    if request.method != "POST":
        return redirect("console:key_groups")
    group = KeyGroup.objects.filter(pk=pk).first()
    if group is None:
        raise Http404
    action = request.POST.get("action", "")
    changes: dict[str, Any]
    if action == "rename":
        form = KeyGroupRenameForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("请填写新名称"))
            return redirect("console:key_groups")
        changes = {"name": form.cleaned_data["name"]}
    elif action in ("deactivate", "activate"):
        changes = {"active": action == "activate"}
    else:
        raise Http404
    try:
        registry_services.key_group_update(actor=request.user, key_group=group, **changes)
    except LinliError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已更新重点人群"))
    return redirect("console:key_groups")
