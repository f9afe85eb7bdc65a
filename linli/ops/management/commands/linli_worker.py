"""``linli worker``: run background tasks from the configured queue (database by default, RQ on Redis)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run background tasks (database-backed queue by default, Redis/RQ when LINLI_TASKS_BACKEND=rq)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue", action="append", default=None, help="queue name (repeatable); default: all"
        )
        parser.add_argument(
            "--interval", type=float, default=1.0, help="seconds between polls of an empty queue"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        from linli.core.installation import require_match

        require_match()  # refuse another LINLI_CIPHER / LINLI_DATA_KEY than the database's (ADR 0020)
        queues = opts["queue"] or ["*"]
        if settings.TASKS_BACKEND == "rq":
            names = list(settings.RQ_QUEUES) if queues == ["*"] else queues
            call_command("rqworker", *names)
            return
        if settings.TASKS_BACKEND == "immediate":
            self.stdout.write("LINLI_TASKS_BACKEND=immediate runs tasks inline; no worker is needed.")
            return
        from linli.ops.runtime import make_db_worker

        worker = make_db_worker(queues, opts["interval"])
        worker.configure_signals()
        self.stdout.write(f"worker {worker.worker_id} polling queues {', '.join(queues)}")
        worker.run()
