"""Smart triage classifier: ``linli bench triage [--n N] [--json]``.

On ``../shared/data/teddy2020c/labeled_dev.csv`` (relative to the repository; never copied into it): seeded
stratified 5-fold cross-validated macro-F1 and accuracy of ``linli.triage.model.TextClassifier`` beside the issue's
baseline (char 1–3-gram TF-IDF + LinearSVC) on the same folds in the same run; then the model fitted on all rows:
its pickled size and classifications per second on one core (``n`` texts, default 5,000, drawn from the
unlabelled messages of fujian3/fujian4), both one text per call (the triage hook) and in batches of 256.

Duplicates (PostgreSQL): with ``LINLI_BENCH_CASES_DB`` naming a database of generated cases (e.g. the one
``LINLI_BENCH_REUSE=1 linli bench cases`` keeps, ``linli_bench_cases``), ``linli.triage.duplicates.
possible_duplicates`` is timed for 300 open cases drawn (seeded) from its newest 200,000 open ones:
``duplicates_p95_ms`` with the number of open cases and the mean candidates read per check.
"""

from __future__ import annotations

import csv
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from linli.triage.model import SEED, Baseline, TextClassifier, cross_validate, join_text

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "teddy2020c"
DEFAULT_N = 5_000

Emit = Callable[..., None]


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def duplicates(emit: Emit) -> None:
    import random

    from django.db import connection

    from bench._cases_util import use_database
    from linli.cases.choices import OPEN_INDEX_STATUSES
    from linli.cases.models import Case
    from linli.triage.duplicates import candidates, possible_duplicates

    name = os.environ.get("LINLI_BENCH_CASES_DB", "")
    if not name or connection.vendor != "postgresql":
        print("[triage] duplicates: set LINLI_BENCH_CASES_DB (PostgreSQL) to time them; skipped")
        return
    use_database(name)
    open_cases = Case.objects.filter(status__in=OPEN_INDEX_STATUSES)
    ids = list(open_cases.order_by("-id").values_list("id", flat=True)[:200_000])
    sample = [Case.objects.get(pk=i) for i in random.Random(SEED).sample(ids, min(300, len(ids)))]
    for case in sample[:20]:
        possible_duplicates(case)  # warm
    timings, read, found = [], [], 0
    for case in sample:
        t = time.perf_counter()
        matches = possible_duplicates(case)
        timings.append((time.perf_counter() - t) * 1000)
        found += bool(matches)
        read.append(len(candidates(case)))
    timings.sort()
    emit(
        metric="duplicates_p95_ms",
        value=timings[int(len(timings) * 0.95) - 1],
        unit="ms",
        p50_ms=round(timings[len(timings) // 2], 1),
        target=20,
        open_cases=open_cases.count(),
        mean_candidates=round(statistics.mean(read), 1),
        with_matches=found,
        checks=len(sample),
    )


def run(n: int | None, emit: Emit) -> None:
    if not (DATA / "labeled_dev.csv").exists():
        raise SystemExit(f"bench triage: {DATA} is missing (the teddy2020c data set is read from there)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    labelled = _rows("labeled_dev.csv")
    texts = [join_text(r["留言主题"], r["留言详情"]) for r in labelled]
    labels = [r["一级分类"] for r in labelled]
    raw = [(r["留言主题"] + "\n" + r["留言详情"]).strip() for r in labelled]

    t0 = time.perf_counter()
    ours = cross_validate(texts, labels, make=TextClassifier)
    cv_seconds = time.perf_counter() - t0
    base = cross_validate(raw, labels, make=Baseline)
    note = f"labeled_dev.csv, {len(labels)} rows, {ours['folds']}-fold stratified CV, seed {ours['seed']}"
    emit(metric="cv_macro_f1", value=ours["macro_f1"], unit="", baseline=base["macro_f1"], data=note)
    emit(metric="cv_accuracy", value=ours["accuracy"], unit="", baseline=base["accuracy"], data=note)
    emit(metric="cv_seconds", value=cv_seconds, unit="s")
    seeds = (SEED, 1, 2)
    ours_mean = statistics.mean(
        [ours["macro_f1"]]
        + [cross_validate(texts, labels, make=TextClassifier, seed=s)["macro_f1"] for s in seeds[1:]]
    )
    base_mean = statistics.mean(
        [base["macro_f1"]]
        + [cross_validate(raw, labels, make=Baseline, seed=s)["macro_f1"] for s in seeds[1:]]
    )
    emit(
        metric="cv_macro_f1_mean_of_3_seeds", value=ours_mean, unit="", baseline=base_mean, seeds=list(seeds)
    )

    model = TextClassifier().fit(texts, labels)
    emit(metric="model_size", value=len(model.dumps()) / 1e6, unit="MB", limit=50)

    n = n or DEFAULT_N
    pool = [
        join_text(r["留言主题"], r["留言详情"])
        for name in ("fujian3_messages_with_votes.csv",)
        for r in _rows(name)
    ]
    pool += [join_text(r["留言主题"], r["留言详情"]) for r in _rows("fujian4_messages_with_replies.csv")]
    sample = (pool * (n // len(pool) + 1))[:n]

    single = sample[: min(n, 2_000)]
    t0 = time.perf_counter()
    for text in single:
        model.classify(text, explain=5)
    per_call = time.perf_counter() - t0
    emit(metric="classify_one_per_call", value=len(single) / per_call, unit="texts/s", target=1000)

    t0 = time.perf_counter()
    for i in range(0, len(sample), 256):
        model.classify_many(sample[i : i + 256], explain=0)
    batched = time.perf_counter() - t0
    emit(metric="classify_batched", value=len(sample) / batched, unit="texts/s", target=1000)
    duplicates(emit)
