"""Smart triage classifier: ``linli bench triage [--n N] [--json]``.

On ``../shared/data/teddy2020c/labeled_dev.csv`` (relative to the repository; never copied into it), with the
taxonomy names of ``fujian1_category_taxonomy.csv`` as label descriptions (``linli.triage.taxonomy``): seeded
stratified 5-fold cross-validated macro-F1 and accuracy of ``linli.triage.model.TextClassifier`` beside the issue's
baseline (char 1–3-gram TF-IDF + LinearSVC) on the same folds in the same run; then the model fitted on all rows:
its pickled size and classifications per second on one core (``n`` texts, default 5,000, drawn from the
unlabelled messages of fujian3/fujian4), both one text per call (the triage hook) and in batches of 256.

Duplicates (``bench._triage_duplicates``, PostgreSQL): ``possible_duplicates`` timed against 100,000 open appeals
(``duplicates_p95_ms``, target ≤ 20 ms). Hotspots (``bench._triage_hotspots``): the clusters of the 4,326 voted
messages of fujian3 and the top 5. ``LINLI_BENCH_PARTS=classifier,hotspots,duplicates`` chooses the parts (default:
all).
``LINLI_BENCH_TRIAGE_HELDOUT=FILE`` (a labelled file of the same layout) also scores both models, trained on all of
labeled_dev.csv, on that file: ``heldout_macro_f1`` beside the baseline.
"""

from __future__ import annotations

import csv
import os
import statistics
import time
from collections.abc import Callable

from linli.config.env import shared_dir
from linli.triage import taxonomy
from linli.triage.model import SEED, Baseline, TextClassifier, cross_validate, join_text, scores

DATA = shared_dir() / "data" / "teddy2020c"
DEFAULT_N = 5_000

Emit = Callable[..., None]


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


PARTS = ("classifier", "hotspots", "duplicates")


def parts_from(value: str | None) -> list[str]:
    """``LINLI_BENCH_PARTS=duplicates`` → the parts to run, in ``PARTS`` order; unknown names fail (default: all)."""
    wanted = {p.strip().lower() for p in (value or "").split(",") if p.strip()}
    unknown = sorted(wanted - set(PARTS))
    if unknown:
        raise ValueError(f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    return [p for p in PARTS if p in wanted or not wanted]


def run(n: int | None, emit: Emit) -> None:
    from bench import _triage_duplicates, _triage_hotspots

    parts = parts_from(os.environ.get("LINLI_BENCH_PARTS"))
    if "classifier" in parts:
        classifier(n, emit)
    if "hotspots" in parts:
        _triage_hotspots.run(emit)
    if "duplicates" in parts:
        _triage_duplicates.run(emit)


def heldout(model: TextClassifier, raw: list[str], labels: list[str], emit: Emit) -> None:
    """With ``LINLI_BENCH_TRIAGE_HELDOUT`` naming a labelled file of the same layout, both models — trained on all of
    labeled_dev.csv (ours with the taxonomy names) — score it."""
    path = os.environ.get("LINLI_BENCH_TRIAGE_HELDOUT", "")
    if not path:
        return
    with open(path, encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    truth = [r["一级分类"] for r in rows]
    ours = scores(
        truth, model.predict([join_text(r["留言主题"], r["留言详情"]) for r in rows]), sorted(set(labels))
    )
    base_model = Baseline().fit(raw, labels)
    base = scores(truth, base_model.predict([(r["留言主题"] + "\n" + r["留言详情"]).strip() for r in rows]))
    emit(
        metric="heldout_macro_f1",
        value=ours["macro_f1"],
        unit="",
        baseline=base["macro_f1"],
        accuracy=ours["accuracy"],
        baseline_accuracy=base["accuracy"],
        rows=len(rows),
        target=0.80,
    )


def classifier(n: int | None, emit: Emit) -> None:
    if not (DATA / "labeled_dev.csv").exists():
        raise SystemExit(f"bench triage: {DATA} is missing (the teddy2020c data set is read from there)")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    labelled = _rows("labeled_dev.csv")
    texts = [join_text(r["留言主题"], r["留言详情"]) for r in labelled]
    labels = [r["一级分类"] for r in labelled]
    raw = [(r["留言主题"] + "\n" + r["留言详情"]).strip() for r in labelled]

    extra = taxonomy.read_csv(DATA / "fujian1_category_taxonomy.csv")  # the label descriptions

    t0 = time.perf_counter()
    ours = cross_validate(texts, labels, make=TextClassifier, extra=extra)
    cv_seconds = time.perf_counter() - t0
    base = cross_validate(raw, labels, make=Baseline)
    note = (
        f"labeled_dev.csv, {len(labels)} rows, {ours['folds']}-fold stratified CV, seed {ours['seed']}; "
        f"ours also learns {len(extra)} taxonomy names (fujian1), never scored"
    )
    emit(
        metric="cv_macro_f1",
        value=ours["macro_f1"],
        unit="",
        baseline=base["macro_f1"],
        target=0.80,
        data=note,
    )
    emit(metric="cv_accuracy", value=ours["accuracy"], unit="", baseline=base["accuracy"], data=note)
    emit(metric="cv_seconds", value=cv_seconds, unit="s")
    emit(
        metric="cv_confusion",
        value=ours["macro_f1"],
        unit="",
        labels=ours["labels"],
        confusion=ours["confusion"],
        baseline_confusion=base["confusion"],
    )
    seeds = (SEED, 1, 2, 3, 4)
    ours_all = [ours["macro_f1"]] + [
        cross_validate(texts, labels, make=TextClassifier, seed=s, extra=extra)["macro_f1"] for s in seeds[1:]
    ]
    base_all = [base["macro_f1"]] + [
        cross_validate(raw, labels, make=Baseline, seed=s)["macro_f1"] for s in seeds[1:]
    ]
    plain_all = [cross_validate(texts, labels, make=TextClassifier, seed=s)["macro_f1"] for s in seeds]
    emit(
        metric="cv_macro_f1_mean_of_5_seeds",
        value=statistics.mean(ours_all),
        unit="",
        baseline=statistics.mean(base_all),
        without_taxonomy=statistics.mean(plain_all),
        min=min(ours_all),
        seeds=list(seeds),
    )

    model = TextClassifier().fit(texts, labels, extra=extra)
    emit(metric="model_size", value=len(model.dumps()) / 1e6, unit="MB", limit=50)
    heldout(model, raw, labels, emit)

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
