from django.conf import settings
from django.db import models


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class CalendarDay(models.Model):
    """A local override of the official working-day calendar for one date (see ``linli.core.workdays``).

    Written only through ``linli.org.calendar.calendar_day_set``, which audits the change and drops the cache.
    """

    date = models.DateField(unique=True)
    is_workday = models.BooleanField()
    note = models.CharField(max_length=100, blank=True, default="")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date"]
        verbose_name = "calendar day"

    def __str__(self) -> str:
        return f"{self.date.isoformat()} {'workday' if self.is_workday else 'day off'} {self.note}".strip()


class Installation(models.Model):
    """One row, written at the first ``migrate``: the choices a live database cannot change afterwards.

    ``cipher`` is LINLI_CIPHER and ``data_key_check`` a keyed digest of a fixed text under LINLI_DATA_KEY: switching
    either changes every keyed hash (lookups and uniqueness of ID numbers and phones), so a start with other values
    is refused (``linli.core.installation``).
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    cipher = models.CharField(max_length=8)
    data_key_check = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="core_installation_single_row")]

    def __str__(self) -> str:
        return f"installation cipher={self.cipher}"
