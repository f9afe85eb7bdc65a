"""The registry benchmarks together: ``linli bench registry [--n N] [--json]``.

Runs the ledger import benchmark (``bench.registry_import``: CSV and .xlsx rows/s beside the raw insert rate of
the same rows) and then the resident list latency at city scale (``bench.registry_list``). ``--n`` is passed to
both (import rows, residents); each uses its own default otherwise (100,000 rows; 1,000,000 residents).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

Emit = Callable[..., None]


def run(n: int | None, emit: Emit) -> None:
    try:
        registry_import = importlib.import_module("bench.registry_import")
    except ImportError as exc:
        print(f"[registry] skipping the import benchmark: {exc}", file=sys.stderr, flush=True)
    else:
        registry_import.run(n, emit)
    from bench import registry_list

    registry_list.run(n, emit)
