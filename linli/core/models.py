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
