"""The due-time monitor: a loop that runs registered sweeps, each acting on rows whose due time has passed.

A sweep claims its rows with a conditional UPDATE (``filter(pk=…, state=old, due__lte=now).update(…)``), so any
number of monitors may run on any number of machines: each row is acted on once. The loop stops cleanly between
sweeps on SIGTERM/SIGINT (or ``stop()`` when run in a thread by ``linli demo``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import close_old_connections
from django.utils import timezone

logger = logging.getLogger("linli.monitor")


@dataclass
class Sweep:
    name: str
    every_seconds: float
    run: Callable[[], int]  # returns how many rows it acted on
    next_at: float = 0.0


SWEEPS: list[Sweep] = []


def sweep(name: str, every_seconds: float) -> Callable[[Callable[[], int]], Callable[[], int]]:
    """Register a function as a sweep of the monitor."""

    def register(fn: Callable[[], int]) -> Callable[[], int]:
        SWEEPS.append(Sweep(name=name, every_seconds=every_seconds, run=fn))
        return fn

    return register


class Monitor:
    def __init__(self, sweeps: list[Sweep] | None = None, tick: float = 1.0) -> None:
        self.sweeps = sweeps if sweeps is not None else SWEEPS
        self.tick = tick
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run_once(self) -> dict[str, int]:
        """Run every sweep that is due now; one failing sweep neither stops the loop nor the other sweeps."""
        acted: dict[str, int] = {}
        now = time.monotonic()
        for item in self.sweeps:
            if item.next_at > now:
                continue
            close_old_connections()
            try:
                acted[item.name] = item.run()
            except Exception:
                logger.exception("sweep %s failed at %s", item.name, timezone.now().isoformat())
                acted[item.name] = -1
            item.next_at = now + item.every_seconds
        return acted

    def run_forever(self) -> None:
        logger.info("monitor started with sweeps: %s", ", ".join(s.name for s in self.sweeps))
        while not self._stop.is_set():
            self.run_once()
            self._stop.wait(self.tick)
        logger.info("monitor stopped")
