"""Console pages of emergencies (紧急警情, ADR 0026): acknowledging an alarm on the case page (接警确认) and the duty
phones (值班电话) of communities, streets and counties. Thin: the rules live in ``linli.cases.urgency``."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from linli.cases import urgency
from linli.cases.choices import AlarmLevel
from linli.cases.models import Alarm, Case, DutyPhone
from linli.console.views import console_view
from linli.core.errors import ConflictError, LinliError, NotFound, PermissionDenied
from linli.core.masking import mask_phone
from linli.registry.models import Region


def alarm_context(user: Any, case: Case) -> dict[str, Any]:
    """The case page's alarm card: the alarm (or None), its level's label and whether ``user`` may acknowledge."""
    if not case.emergency:
        return {"alarm": None}
    alarm = Alarm.objects.select_related("acknowledged_by").filter(case_id=case.pk).first()
    if alarm is None:
        return {"alarm": None}
    case.alarm = alarm
    return {
        "alarm": alarm,
        "alarm_level": AlarmLevel(alarm.level).label,
        "alarm_red": alarm.level > AlarmLevel.ON_DUTY and alarm.acknowledged_at is None,
        "can_acknowledge": urgency.can_acknowledge(user, case),
    }


@require_POST
@console_view
def case_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    # Loaded by id: ``urgency.acknowledge`` decides (NotFound for anyone neither told of the alarm nor in scope).
    case = Case.objects.filter(pk=pk).first()
    if case is None:
        raise Http404
    try:
        urgency.acknowledge(
            case=case, actor=request.user, note=request.POST.get("note", ""), source="console"
        )
    except NotFound as exc:
        raise Http404 from exc
    except PermissionDenied:
        raise
    except ConflictError as exc:
        messages.warning(request, str(exc))
    except LinliError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("已接警确认：%(n)s") % {"n": case.number})
    return redirect("console:case", pk=case.pk)


@console_view
def duty_phones(request: HttpRequest) -> HttpResponse:
    """The duty phones the user may set; a POST sets (or clears) one."""
    regions = urgency.duty_phone_regions(request.user)
    if not regions:
        raise PermissionDenied(_("只有社区、街道、县区管理人员可以设置值班电话"))
    status = 200
    error: tuple[int, str] | None = None
    if request.method == "POST":
        region = Region.objects.filter(pk=request.POST.get("region") or 0).first()
        if region is None or region.pk not in {r.pk for r in regions}:
            raise Http404
        try:
            urgency.duty_phone_set(
                actor=request.user,
                region=region,
                phone=request.POST.get("phone", ""),
                note=request.POST.get("note", ""),
            )
        except PermissionDenied:
            raise
        except LinliError as exc:
            error, status = (region.pk, str(exc)), 400
        else:
            messages.success(request, _("已保存%(r)s的值班电话") % {"r": region.name})
            return redirect("console:duty_phones")
    phones = {p.region_id: p for p in DutyPhone.objects.filter(region__in=regions)}
    rows = [
        {
            "region": r,
            "phone": phones[r.pk].phone if r.pk in phones else "",
            "masked": mask_phone(phones[r.pk].phone) if r.pk in phones else "",
            "note": phones[r.pk].note if r.pk in phones else "",
            "error": error[1] if error and error[0] == r.pk else "",
        }
        for r in regions
    ]
    return render(request, "console/duty_phones.html", {"menu": "duty_phones", "rows": rows}, status=status)
