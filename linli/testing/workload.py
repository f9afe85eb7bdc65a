"""Appeals in every state the home pages count (linli.cases.dashboard), on the test world: shared by the home
page tests and the per-role browser walk."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone


def set_fields(case: Any, **fields: Any) -> Any:
    """Put a case straight into a state (the counts are under test here, not the transitions)."""
    type(case).objects.filter(pk=case.pk).update(**fields)
    case.refresh_from_db()
    return case


def waiting_cases(world: Any, categories: dict[str, Any]) -> list[Any]:
    """Two submitted, one triaged, one overdue in handling (with an extension request) and one overdue assigned
    to the grid worker in community c1; one overdue assigned to 住建局 and one awaiting the callback in c2; one
    submitted in c3 — and a whistle to 住建局 on the triaged one."""
    from linli.cases import services
    from linli.cases.models import Extension, Whistle

    now = timezone.now()
    late = now - dt.timedelta(hours=5)

    def make(grid: Any, **fields: Any) -> Any:
        case = services.case_create(
            category=categories["neighbour_dispute"],
            grid=grid,
            channel="grid_worker",
            description="楼道堆放杂物，影响通行，请处理",
        )
        return set_fields(case, **fields) if fields else case

    zhujian = world.county.departments.get(code="zhujian")
    cases = [
        make(world.g1a),
        make(world.g1b),
        make(world.g1a, status="triaged"),
        make(world.g1a, status="accepted", resolve_due_at=late, handling_level="grid"),
        make(world.g1a, status="assigned", handler_user=world.users["grid_worker"], accept_due_at=late),
        make(
            world.g2,
            status="assigned",
            accept_due_at=late,
            handler_department=zhujian,
            handling_level="department",
        ),
        make(world.g2, status="awaiting_callback"),
        make(world.g3),
    ]
    Extension.objects.create(
        case=cases[3],
        amount=1,
        unit="working_days",
        reason="等待配件",
        requested_by=world.users["grid_worker"],
        requested_at=now,
    )
    Whistle.objects.create(
        case=cases[2],
        department=zhujian,
        reason="需要住建部门到场",
        called_by=world.users["community_worker"],
        called_at=now,
        report_due_at=now + dt.timedelta(hours=8),
        finish_due_at=now + dt.timedelta(days=5),
    )
    return cases
