"""The metrics rollup: one row of counters per (report day, community, grid, handling department, category), and
the refresh watermark. Fields and constraints only; ``rollup.py`` writes them, ``selectors.py`` reads them.

The place and category columns are plain integers, not foreign keys: a rollup row is derived data that is replaced
wholesale, and ``department_id`` uses 0 for "no department" so the grain stays one unique key.
"""

from __future__ import annotations

from django.db import models


def _counter() -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=0)


class Counters(models.Model):
    """The counters of ``definitions.counters`` (summed over whatever the row stands for)."""

    cases = _counter()
    rejected = _counter()
    merged = _counter()
    open = _counter()
    accept_counted = _counter()
    accept_on_time = _counter()
    resolve_counted = _counter()
    resolve_on_time = _counter()
    resolved = _counter()
    closed = _counter()
    ever_resolved = _counter()
    reworked = _counter()
    satisfied = _counter()
    basically = _counter()
    unsatisfied = _counter()
    no_response = _counter()
    # Handling-time histogram of the resolved cases (buckets in definitions.BUCKET_EDGES_HOURS).
    h00 = _counter()
    h01 = _counter()
    h02 = _counter()
    h03 = _counter()
    h04 = _counter()
    h05 = _counter()
    h06 = _counter()
    h07 = _counter()
    h08 = _counter()
    h09 = _counter()
    h10 = _counter()
    h11 = _counter()
    h12 = _counter()
    h13 = _counter()
    h14 = _counter()
    h15 = _counter()

    class Meta:
        abstract = True


class CaseRollup(Counters):
    """The counters for the cases reported on ``day`` in one grid, handling department and category."""

    SCOPE_FIELDS = {"region_code": "region_code", "grid": "grid_id", "department": "department_id"}

    day = models.DateField()  # the local (Asia/Shanghai) day the cases were reported
    region_code = models.BigIntegerField()  # the community's 12-digit code
    grid_id = models.BigIntegerField()
    department_id = models.BigIntegerField(default=0)  # Case.handler_department, 0 when none
    category_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "region_code", "grid_id", "department_id", "category_id"],
                name="caserollup_grain",
            )
        ]
        indexes = [
            # A place's period: a community/street (code range), a grid, a department; the unique key serves a
            # whole city's period (day first).
            models.Index(fields=["region_code", "day"], name="caserollup_region_day"),
            models.Index(fields=["grid_id", "day"], name="caserollup_grid_day"),
            models.Index(fields=["department_id", "day"], name="caserollup_dept_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.region_code}/{self.grid_id}/{self.department_id}/{self.category_id}"


class CaseRollupMonth(Counters):
    """The day rows of one month summed per community, department and category (no grid): at city scale a day
    row holds one or two cases, so a city's month is a few hundred thousand day rows but tens of thousands here.
    Rebuilt from ``CaseRollup`` for every month whose days a refresh re-counted, in the same transaction."""

    SCOPE_FIELDS = {"region_code": "region_code", "department": "department_id"}  # no grid: see selectors

    month = models.DateField()  # the first day of the month
    region_code = models.BigIntegerField()
    department_id = models.BigIntegerField(default=0)
    category_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["month", "region_code", "department_id", "category_id"], name="caserollupmonth_grain"
            )
        ]
        indexes = [
            models.Index(fields=["region_code", "month"], name="caserollupmonth_region"),
            models.Index(fields=["department_id", "month"], name="caserollupmonth_dept"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.region_code}/{self.department_id}/{self.category_id}"


class RollupDay(models.Model):
    """One report day's bookkeeping: whether a case of it changed since it was last counted (``dirty``, set from
    the watermark), when it was counted, and the next moment one of its cases' deadlines passes (which changes the
    day's counters without any write to a case). The refresh re-counts a day when it is dirty or that moment has
    come."""

    day = models.DateField(primary_key=True)
    counted_at = models.DateTimeField(null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True)
    dirty = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_due_at"],
                name="rollupday_next_due",
                condition=models.Q(next_due_at__isnull=False),
            ),
            models.Index(fields=["day"], name="rollupday_dirty", condition=models.Q(dirty=True)),
        ]

    def __str__(self) -> str:
        return f"{self.day} counted {self.counted_at}"


class RollupState(models.Model):
    """The single row (pk 1) the refresh locks: cases updated after ``watermark`` (less a margin) are re-counted."""

    watermark = models.DateTimeField(null=True, blank=True)  # None: never built, the first refresh rebuilds
    refreshed_at = models.DateTimeField(null=True, blank=True)
    rebuilt_at = models.DateTimeField(null=True, blank=True)
    last_days = models.PositiveIntegerField(default=0)  # days re-counted by the last refresh

    def __str__(self) -> str:
        return f"metrics watermark {self.watermark}"
