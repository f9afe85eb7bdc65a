"""Writes to the working-day calendar (``linli.core.models.CalendarDay``), audited, with the lookup cache dropped.

The calendar is deployment-wide: it decides every deadline. Only a holder of ``Cap.CONFIGURE`` (a superuser, a
county or city administrator whose post sits on a county or city: ADR 0019) may change it. The service lives here, not in ``linli.core``, because core sits below the audit layer.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from linli.audit import services as audit
from linli.core import workdays
from linli.core.errors import LinliError, PermissionDenied
from linli.core.models import CalendarDay
from linli.org import access

ENTITY = "core.calendarday"


def can_edit_calendar(user: Any) -> bool:
    """The calendar sets every deadline of the deployment: the right follows the level of the post's place, so
    a county administrator's post put on a community (by whoever) grants nothing here."""
    return access.can_configure(user)


def _check(actor: Any) -> None:
    if actor is not None and not can_edit_calendar(actor):
        raise PermissionDenied(_("只有管理员可以修改工作日历"))


def _snapshot(row: CalendarDay | None) -> dict[str, Any]:
    if row is None:
        return {}
    return {"date": row.date.isoformat(), "is_workday": row.is_workday, "note": row.note}


def _drop_cache() -> None:
    # Now, so this process sees the change inside the transaction; after commit, for the other processes.
    workdays.invalidate_cache(everywhere=False)
    transaction.on_commit(workdays.invalidate_cache)


def calendar_day_set(*, actor: Any, day: dt.date, is_workday: bool, note: str = "") -> CalendarDay:
    """Make ``day`` a working day or a day off (overriding the official calendar), with a note such as 国庆节.

    ``actor`` None is the system (data loading); a user needs ``Cap.CONFIGURE``.
    """
    _check(actor)
    if isinstance(day, dt.datetime) or not isinstance(day, dt.date):
        raise LinliError(_("日期无效"))
    note = (note or "").strip()
    if len(note) > 100:
        raise LinliError(_("说明不能超过100个字"))
    with transaction.atomic():
        row = CalendarDay.objects.select_for_update().filter(date=day).first()
        before = _snapshot(row)
        if row is None:
            row = CalendarDay.objects.create(
                date=day, is_workday=is_workday, note=note, updated_by=actor if actor else None
            )
            action = "create"
        else:
            row.is_workday, row.note, row.updated_by = is_workday, note, actor if actor else None
            row.save(update_fields=["is_workday", "note", "updated_by", "updated_at"])
            action = "update"
        audit.change_record(
            actor=actor,
            entity=ENTITY,
            entity_id=row.pk,
            action=action,
            before=before,
            after=_snapshot(row),
            note=note,
        )
        _drop_cache()
    return row


def calendar_day_clear(*, actor: Any, day: dt.date) -> bool:
    """Remove the override for ``day`` so the official calendar applies again; False when there was none."""
    _check(actor)
    with transaction.atomic():
        row = CalendarDay.objects.select_for_update().filter(date=day).first()
        if row is None:
            return False
        before, pk = _snapshot(row), row.pk
        row.delete()
        audit.change_record(
            actor=actor, entity=ENTITY, entity_id=pk, action="delete", before=before, after={}
        )
        _drop_cache()
    return True
