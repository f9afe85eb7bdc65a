"""``linli bench NAME [--n N] [--json]``: run ``bench/NAME.py`` from the source tree.

A benchmark module exposes ``run(n: int | None, emit) -> None`` and calls ``emit(metric=…, value=…, unit=…,
baseline=…)`` once per figure; with ``--json`` each figure is printed as one JSON object per line with the keys
``bench``, ``metric``, ``value``, ``unit`` and, where a baseline was measured in the same run, ``baseline`` and ``ratio``.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

REPO = Path(__file__).resolve().parents[4]


def available() -> list[str]:
    return sorted(p.stem for p in (REPO / "bench").glob("*.py") if not p.stem.startswith("_"))


class Command(BaseCommand):
    help = "Run a benchmark from bench/ and print its figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", nargs="?", help="benchmark name: " + ", ".join(available()))
        parser.add_argument(
            "--n", type=int, default=None, help="problem size (rows, requests …); each bench has a default"
        )
        parser.add_argument("--json", action="store_true", help="one JSON object per line")

    def handle(self, *args: Any, **opts: Any) -> None:
        name = opts["name"]
        if not name:
            self.stdout.write("benchmarks: " + ", ".join(available()))
            return
        if name not in available():
            raise CommandError(f"unknown benchmark {name!r}; available: {', '.join(available())}")
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        module = importlib.import_module(f"bench.{name}")

        def emit(
            *, metric: str, value: float, unit: str, baseline: float | None = None, **extra: Any
        ) -> None:
            row: dict[str, Any] = {"bench": name, "metric": metric, "value": round(value, 3), "unit": unit}
            if baseline is not None:
                row["baseline"] = round(baseline, 3)
                row["ratio"] = round(value / baseline, 3) if baseline else None
            row.update(extra)
            if opts["json"]:
                self.stdout.write(json.dumps(row, ensure_ascii=False))
            else:
                tail = (
                    f"  (baseline {row['baseline']} {unit}, ratio {row['ratio']})"
                    if baseline is not None
                    else ""
                )
                self.stdout.write(f"{metric:<40} {row['value']:>12} {unit}{tail}")
            self.stdout.flush()

        module.run(opts["n"], emit)
