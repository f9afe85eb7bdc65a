"""Running the task worker and the monitor: as processes (``linli worker`` / ``linli monitor``) or as background
threads inside ``linli demo`` so the demo needs no other process."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.utils.crypto import get_random_string

logger = logging.getLogger("linli.runtime")


def make_db_worker(queue_names: list[str] | None = None, interval: float = 1.0) -> Any:
    from django_tasks_db.management.commands.db_worker import Worker

    return Worker(
        queue_names=queue_names or ["*"],
        interval=interval,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=get_random_string(12),
        excluded_queue_names=[],
    )


def make_monitor() -> Any:
    import linli.ops.sweeps  # noqa: F401  (registers the sweeps)
    from linli.ops.monitor import Monitor

    return Monitor()


def start_background() -> list[threading.Thread]:
    """Start the worker (database queue only) and the monitor as daemon threads."""
    threads = []
    if settings.TASKS_BACKEND == "db":
        worker = make_db_worker()
        threads.append(threading.Thread(target=worker.run, name="linli-worker", daemon=True))
    monitor = make_monitor()
    threads.append(threading.Thread(target=monitor.run_forever, name="linli-monitor", daemon=True))
    for thread in threads:
        thread.start()
    return threads
