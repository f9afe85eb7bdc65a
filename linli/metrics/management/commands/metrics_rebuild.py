"""``linli manage metrics_rebuild``: re-count the whole metrics rollup from the case table."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand

from linli.metrics import rollup


class Command(BaseCommand):
    help = "Re-count every report day of the 三率 rollup from the case table (one transaction)."

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        days = rollup.rebuild()
        self.stdout.write(f"metrics rollup rebuilt: {days} days in {time.monotonic() - started:.1f} s")
