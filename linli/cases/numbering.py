"""Case numbers: ``SQ<local date>-<counter>``, e.g. ``SQ20261122-00000123``.

The counter is global (it does not restart each day), so that handing one out never makes concurrent creates
wait for each other:

* on PostgreSQL it is ``nextval`` of the sequence ``cases_case_number`` — no row lock, nothing held until commit;
* elsewhere (SQLite, whose writers are serialised anyway) it is one ``CaseSequence`` row, incremented by a
  conditional UPDATE inside the caller's transaction.

A rolled-back create leaves a gap, which is harmless. Numbers written by generators (the demo's history, the
benchmark's cases) take a block with ``reserve`` so that later creates never repeat them.
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from linli.cases.models import CaseSequence

PREFIX = "SQ"
PG_SEQUENCE = "cases_case_number"
# The CaseSequence row that holds the global counter where there is no database sequence.
COUNTER_ROW = dt.date(2000, 1, 1)


def format_number(day: dt.date, n: int) -> str:
    return f"{PREFIX}{day:%Y%m%d}-{n:08d}"


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _next_counter(count: int = 1) -> int:
    """The last of ``count`` new counter values."""
    if _postgres():
        with connection.cursor() as cur:
            if count == 1:
                cur.execute("SELECT nextval(%s)", [PG_SEQUENCE])
            else:  # generators only: a block, by moving the sequence on
                cur.execute("SELECT setval(%s, nextval(%s) + %s - 1)", [PG_SEQUENCE, PG_SEQUENCE, count])
            return int(cur.fetchone()[0])
    for _attempt in range(3):
        if CaseSequence.objects.filter(day=COUNTER_ROW).update(last=F("last") + count):
            return CaseSequence.objects.filter(day=COUNTER_ROW).values_list("last", flat=True).get()
        try:
            with transaction.atomic():
                CaseSequence.objects.create(day=COUNTER_ROW, last=count)
            return count
        except IntegrityError:
            continue  # another transaction created the row first: increment it
    raise RuntimeError("could not allocate a case number")


def next_number(at: dt.datetime | None = None) -> str:
    """The next number, dated with the local day of ``at`` (now by default)."""
    return format_number(timezone.localdate(at or timezone.now()), _next_counter())


def reserve(count: int) -> int:
    """Take ``count`` consecutive counter values at once; returns the first (for bulk generators)."""
    if count <= 0:
        raise ValueError("count must be positive")
    return _next_counter(count) - count + 1


def example() -> str:
    """A case number in today's format (``SQ<today>-00000123``): for placeholders, so they match real numbers."""
    return format_number(timezone.localdate(), 123)
