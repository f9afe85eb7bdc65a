"""Case numbers: ``SQ<local date>-<per-day sequence>``, e.g. ``SQ20261122-000123``.

The day's counter is one row incremented by a conditional UPDATE inside the caller's transaction: the row lock
serialises concurrent creates on PostgreSQL and SQLite's IMMEDIATE transactions do the same, so two cases never
get the same number. A rolled-back create leaves a gap, which is harmless.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from linli.cases.models import CaseSequence

PREFIX = "SQ"


def format_number(day: dt.date, n: int) -> str:
    return f"{PREFIX}{day:%Y%m%d}-{n:06d}"


def next_number(at: dt.datetime | None = None) -> str:
    """The next number for the local day of ``at`` (now by default). Must run inside a transaction."""
    day = timezone.localdate(at or timezone.now())
    for _attempt in range(3):
        if CaseSequence.objects.filter(day=day).update(last=F("last") + 1):
            last = CaseSequence.objects.filter(day=day).values_list("last", flat=True).get()
            return format_number(day, last)
        try:
            with transaction.atomic():
                CaseSequence.objects.create(day=day, last=1)
            return format_number(day, 1)
        except IntegrityError:
            continue  # another transaction created the day's row first: increment it
    raise RuntimeError("could not allocate a case number")
