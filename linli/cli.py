"""The ``linli`` command. Each verb is a Django management command ``linli_<verb>`` in ``linli.ops``."""

from __future__ import annotations

import os
import sys

VERBS = {
    "demo": "migrate, seed the demo county, print the staff logins and serve it (worker and monitor in-process)",
    "serve": "production web server (waitress WSGI) on DATABASE_URL",
    "worker": "run background tasks (database queue by default, Redis/RQ when configured)",
    "monitor": "the loop that acts on due times; several may run at once",
    "import": "import regions (division-code CSVs) or residents (.xlsx/.csv ledger)",
    "export": "export a resident ledger (.xlsx), masked by default",
    "apikey": "Open311 API keys: `create NAME [--grid ID]` prints a new key once; `list`; `revoke NAME`",
    "triage": "smart triage classifier: `train --csv FILE --text-cols A,B --label-col C [--activate]` or "
    "`train --from-history [--activate]`; `eval`; `list`; `activate N`; `rollback`",
    "bench": "run a benchmark from bench/ (e.g. `linli bench registry --json`)",
    "manage": "any Django management command (e.g. `linli manage migrate`)",
}


def usage() -> str:
    lines = [
        "usage: linli <command> [options]",
        "",
        "Linli (邻里) community grid governance platform.",
        "",
        "commands:",
    ]
    lines += [f"  {verb:<8} {text}" for verb, text in VERBS.items()]
    lines += ["", "`linli <command> --help` shows the options of one command."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(usage())
        return
    verb, rest = argv[0], argv[1:]
    if verb not in VERBS:
        print(f"linli: unknown command {verb!r}\n\n{usage()}", file=sys.stderr)
        raise SystemExit(2)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "linli.config.settings")
    from django.core.management import execute_from_command_line

    if verb == "manage":
        execute_from_command_line(["linli manage", *rest])
    else:
        execute_from_command_line(["linli", f"linli_{verb}", *rest])


if __name__ == "__main__":
    main()
