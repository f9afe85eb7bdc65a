"""``linli monitor``: act on due times (several monitors may run at once; rows are claimed by conditional update)."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from linli.ops.runtime import make_monitor


class Command(BaseCommand):
    help = "Run the due-time monitor loop until SIGTERM/SIGINT."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="run every sweep once and exit")

    def handle(self, *args: Any, **opts: Any) -> None:
        from linli.core.installation import require_match

        require_match()  # refuse another LINLI_CIPHER / LINLI_DATA_KEY than the database's (ADR 0020)
        monitor = make_monitor()
        if opts["once"]:
            for name, count in monitor.run_once().items():
                self.stdout.write(f"{name}: {count}")
            return
        signal.signal(signal.SIGTERM, lambda *_: monitor.stop())
        signal.signal(signal.SIGINT, lambda *_: monitor.stop())
        self.stdout.write("monitor running; SIGTERM or Ctrl-C stops it after the current sweep")
        monitor.run_forever()
