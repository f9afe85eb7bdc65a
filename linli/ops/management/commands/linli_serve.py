"""``linli serve``: the production WSGI server (waitress, pure Python, runs everywhere) on DATABASE_URL.

Static files are served by the same process from the installed package; behind a reverse proxy, run
``linli manage collectstatic`` and serve STATIC_ROOT from the proxy instead (see docs/operations.md).
"""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve Linli with waitress (WSGI)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-migrate", action="store_true", help="do not apply migrations at start")

    def handle(self, *args: Any, **opts: Any) -> None:
        import waitress
        from django.contrib.staticfiles.handlers import StaticFilesHandler

        from linli.config.wsgi import application

        if not opts["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(f"Linli on http://{opts['host']}:{opts['port']}/")
        waitress.serve(
            StaticFilesHandler(application), host=opts["host"], port=opts["port"], threads=opts["threads"]
        )
