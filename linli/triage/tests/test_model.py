"""The classifier itself: seeded, explainable, and the evaluation figures are the textbook ones."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.conf import settings

from linli.triage.model import Baseline, TextClassifier, cross_validate, join_text, scores
from linli.triage.tests.conftest import corpus

DATA = Path(settings.LINLI_SHARED_DIR) / "data" / "teddy2020c" / "labeled_dev.csv"


def test_same_rows_same_model():
    texts, labels = corpus()
    probe = ["电梯又坏了", "垃圾没人收", "半夜装修太吵", "路灯不亮"]
    a, b = TextClassifier().fit(texts, labels), TextClassifier().fit(texts, labels)
    pa, pb = a.classify_many(probe), b.classify_many(probe)
    assert pa == pb
    assert a.dumps() == b.dumps()
    assert cross_validate(texts, labels) == cross_validate(texts, labels)


def test_classify_gives_label_confidence_and_terms():
    texts, labels = corpus()
    model = TextClassifier().fit(texts, labels)
    p = model.classify(join_text("电梯故障", "电梯停运三天了，困人"))
    assert p.label == "property_elevator"
    assert 0.5 < p.confidence <= 1
    assert p.explain and any("电梯" in term for term, _ in p.explain)
    assert all(weight > 0 for _, weight in p.explain)
    assert TextClassifier.loads(model.dumps()).classify(join_text("电梯故障", "电梯停运三天了，困人")) == p


def test_loads_refuses_other_pickles():
    import pickle

    with pytest.raises(TypeError):
        TextClassifier.loads(pickle.dumps({"not": "a model"}))


def test_scores_by_hand():
    truth = ["a", "a", "a", "b", "b", "c"]
    pred = ["a", "a", "b", "b", "c", "c"]
    s = scores(truth, pred)
    assert s["accuracy"] == pytest.approx(4 / 6)
    # F1: a = 2·1·(2/3)/(1+2/3) = 0.8; b = P 1/2, R 1/2 → 0.5; c = P 1/2, R 1 → 2/3
    assert s["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert s["labels"] == ["a", "b", "c"]
    assert s["confusion"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_cross_validation_on_the_fixture_is_perfect_and_folds_adapt():
    texts, labels = corpus()
    result = cross_validate(texts, labels, folds=5)
    assert result["folds"] == 5 and result["n"] == 30
    assert result["accuracy"] == 1.0 and result["macro_f1"] == 1.0
    few = cross_validate(texts[:3] + texts[10:13], labels[:3] + labels[10:13], folds=5)
    assert few["folds"] == 3


@pytest.mark.skipif(not DATA.exists(), reason=f"real data set not present at {DATA}")
def test_beats_the_baseline_on_the_labelled_messages():
    with DATA.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    texts = [join_text(r["留言主题"], r["留言详情"]) for r in rows]
    labels = [r["一级分类"] for r in rows]
    ours = cross_validate(texts, labels)
    base = cross_validate(
        [(r["留言主题"] + "\n" + r["留言详情"]).strip() for r in rows], labels, make=Baseline
    )
    assert ours["macro_f1"] > base["macro_f1"]


def test_single_text_path_matches_the_batch_path():
    texts, labels = corpus()
    model = TextClassifier.loads(TextClassifier().fit(texts, labels).dumps())
    probe = [
        join_text("电梯故障", "电梯停运三天了"),
        join_text("垃圾", ""),
        "路灯不亮",
        "",
        "ABC 装修 噪音 Noise",
    ]
    for text, batch in zip(probe, model.classify_many(probe), strict=True):
        one = model.classify(text)
        assert one.label == batch.label
        assert one.confidence == pytest.approx(batch.confidence, abs=1e-4)
        assert [t for t, _ in one.explain] == [t for t, _ in batch.explain]


def test_two_labels_work():
    texts, labels = corpus()
    model = TextClassifier().fit(texts[:20], labels[:20])
    assert model.labels == ["noise", "garbage"] or sorted(model.labels) == ["garbage", "noise"]
    p = model.classify("垃圾桶满了没人清运")
    assert p.label == "garbage" and p.confidence > 0.5
    assert p.explain
