"""The one audit service every app writes through, inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils import timezone

from linli.audit.models import AccessLog, ChangeRecord


def change_record(
    *,
    actor: Any,
    entity: str,
    entity_id: int,
    action: str,
    before: dict | None = None,
    after: dict | None = None,
    source: str = "console",
    note: str = "",
) -> ChangeRecord:
    return ChangeRecord.objects.create(
        at=timezone.now(),
        actor=actor if getattr(actor, "pk", None) else None,
        source=source,
        entity=entity,
        entity_id=entity_id,
        action=action,
        before=before or {},
        after=after or {},
        note=note[:200],
    )


def change_records_bulk(records: Iterable[ChangeRecord]) -> None:
    ChangeRecord.objects.bulk_create(list(records), batch_size=2000)


def access_log(
    *, actor: Any, entity: str, entity_id: int, field: str, reason: str, ip: str | None
) -> AccessLog:
    return AccessLog.objects.create(
        at=timezone.now(),
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        field=field,
        reason=reason[:200],
        ip=ip,
    )


def history_for(entity: str, entity_id: int, limit: int = 200) -> list[ChangeRecord]:
    return list(
        ChangeRecord.objects.filter(entity=entity, entity_id=entity_id)
        .select_related("actor")
        .order_by("-at", "-id")[:limit]
    )


def diff(before: dict, after: dict) -> tuple[dict, dict]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def access_log_for(entity: str, entity_id: int, limit: int = 20) -> list[AccessLog]:
    """Who saw a full personal value of this record, newest first (shown to those who may reveal it)."""
    return list(
        AccessLog.objects.filter(entity=entity, entity_id=entity_id)
        .select_related("actor")
        .order_by("-at", "-id")[:limit]
    )
