"""Hotspot clustering on real messages (part of ``linli bench triage``; the lead wires ``run(emit)`` in).

Clusters the 4,326 voted messages of ``../shared/data/teddy2020c/fujian3_messages_with_votes.csv`` (relative to the
repository; never copied into it) with ``linli.triage.clusters`` as ``linli triage hotspots`` does (a 60-day
window), and emits the time taken, the number of clusters (and of clusters with 2+ messages) and the top 5 by heat
with their label, count, distinct reporters, likes, time span and first message titles.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from linli.config.env import shared_dir
from linli.triage import clusters

DATA = shared_dir() / "data" / "teddy2020c"
FILE = "fujian3_messages_with_votes.csv"
WINDOW_DAYS = 60
TOP = 5

Emit = Callable[..., None]


def run(emit: Emit) -> None:
    path = DATA / FILE
    if not path.exists():
        print(f"[triage] hotspots: {path} is missing; skipped")
        return
    items = clusters.read_csv(path)
    t0 = time.perf_counter()
    found = clusters.cluster(items, window_days=WINDOW_DAYS)
    seconds = time.perf_counter() - t0
    top = [c for c in found if c.reporters >= 2][:TOP]
    emit(
        metric="hotspots_seconds",
        value=seconds,
        unit="s",
        messages=len(items),
        window_days=WINDOW_DAYS,
        threshold=clusters.THRESHOLD,
    )
    emit(
        metric="hotspots_clusters",
        value=len(found),
        unit="clusters",
        with_2_or_more=sum(c.count >= 2 for c in found),
    )
    for rank, c in enumerate(top, 1):
        d = clusters.as_dict(c, rank, messages=3)
        emit(
            metric=f"hotspot_{rank}_heat",
            value=c.heat,
            unit="",
            label=c.label,
            count=c.count,
            reporters=c.reporters,
            likes=c.likes,
            first=d["first"],
            last=d["last"],
            span_days=d["span_days"],
            titles=[m["title"] for m in d["messages"]],  # type: ignore[attr-defined]
        )
