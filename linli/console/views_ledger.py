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

from linli.console.forms import ExportForm, ImportForm, KeyGroupForm, KeyGroupRenameForm
from linli.console.views import console_view
from linli.core.errors import LinliError, PermissionDenied
from linli.core.scope import Scope
from linli.org import access
from linli.org.access import Cap
from linli.registry import selectors
from linli.registry import services as registry_services
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


@console_view
def import_page(request: HttpRequest) -> HttpResponse:
    access.require(request.user, Cap.IMPORT)
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            ledger_import = _module("linli.registry.ledger_import")
            tasks = _module("linli.org.tasks")
            job = ledger_import.import_job_create(
                actor=request.user, filename=upload.name, fileobj=upload, dry_run=form.cleaned_data["dry_run"]
            )
        except PermissionDenied:
            raise
        except LinliError as exc:
            form.add_error("file", str(exc))
        else:
            user_id = request.user.pk
            transaction.on_commit(lambda: tasks.run_import_job.enqueue(job.pk, user_id))
            return redirect("console:import_job", pk=job.pk)
    jobs = list(ImportJob.objects.filter(actor_id=request.user.pk).order_by("-id")[:10])
    return render(request, "console/import.html", {"menu": "import", "form": form, "jobs": jobs})


@console_view
def import_template(request: HttpRequest) -> HttpResponseBase:
    access.require(request.user, Cap.IMPORT)
    ledger = _module("linli.registry.ledger")
    path = _tmp_path(".xlsx")
    ledger.write_template(path)
    return _download(path, "居民台账模板.xlsx")


def _get_job(request: HttpRequest, pk: int) -> ImportJob:
    access.require(request.user, Cap.IMPORT)
    qs = ImportJob.objects.filter(pk=pk)
    if not request.user.is_superuser:
        qs = qs.filter(actor_id=request.user.pk)
    job = qs.first()
    if job is None:
        raise Http404
    return job


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
    }


@console_view
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job(request, pk)
    return render(request, "console/import_job.html", {"menu": "import", **_job_context(job)})


@console_view
def import_job_status(request: HttpRequest, pk: int) -> HttpResponse:
    job = _get_job(request, pk)
    response = render(request, "console/partials/import_status.html", _job_context(job))
    if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        response.status_code = 286  # htmx: stop polling
    return response


@console_view
def import_job_report(request: HttpRequest, pk: int) -> HttpResponseBase:
    job = _get_job(request, pk)
    ledger_import = _module("linli.registry.ledger_import")
    result = ledger_import.ImportResult(
        rows_total=job.rows_done,
        errors=[ledger_import.RowError(**e) for e in job.errors or []],
        dry_run=job.dry_run,
    )
    path = _tmp_path(".xlsx")
    ledger_import.write_report(result, path)
    stem = Path(job.filename).stem or "ledger"
    return _download(path, f"{stem}_错误报告.xlsx")


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
