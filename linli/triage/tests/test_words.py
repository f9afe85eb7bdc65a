"""Terms shown to people are words (jieba + the domain dictionary), never character fragments (issue #12)."""

from __future__ import annotations

import datetime as dt

from linli.triage import words
from linli.triage.clusters import shared_terms as cluster_terms
from linli.triage.duplicates import shared_terms
from linli.triage.hotspots import Appeal, common_terms
from linli.triage.model import TextClassifier, join_text
from linli.triage.tests.conftest import corpus

FRAGMENTS = {"元电", "梯又", "防通", "动车", "又坏", "梯故", "道充"}


def test_words_are_dictionary_words_and_never_fragments():
    found = words.words("3单元电梯又坏了，有人被困；电动车在楼道充电，消防通道被堵")
    assert found == ["单元", "电梯", "被困", "电动车", "楼道", "充电", "消防通道"]
    assert not FRAGMENTS & set(found)


def test_domain_dictionary_keeps_community_terms_whole():
    assert "占道经营" in words.words("门口占道经营")
    assert "飞线" in words.words("有人飞线充电")
    assert "网格员" in words.words("网格员来看过")
    assert words.is_word("私拉电线") and not words.is_word("元电") and not words.is_word("问题")


def test_classifier_terms_are_words_of_the_text():
    texts, labels = corpus()
    model = TextClassifier().fit(texts, labels)
    text = join_text("3单元电梯又坏了", "电梯停运三天了，困人，电动车在楼道充电")
    terms = [t for t, _ in model.classify(text, explain=5).explain]
    assert "电梯" in terms
    assert set(terms) <= set(words.words(text))
    assert not FRAGMENTS & set(terms)


def test_duplicate_terms_are_shared_words():
    terms = shared_terms("3单元电梯又坏了，电动车在楼道充电", "5单元电梯又坏了，电动车进电梯")
    assert sorted(terms) == sorted(["电梯", "电动车", "单元"])  # 楼道充电 is only in the first
    assert not FRAGMENTS & set(terms)


def _appeal(i: int, text: str) -> Appeal:
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    return Appeal(i, f"n{i}", 1, (1, 1), 1, at, (f"case:{i}",), {}, 0.0, words.word_counts(text))  # type: ignore[arg-type]


def test_hotspot_terms_are_words_most_appeals_share():
    group = [
        _appeal(1, "电梯又坏了，有人被困"),
        _appeal(2, "电梯故障，困在里面"),
        _appeal(3, "电梯坏了好几天，消防通道被堵"),
    ]
    terms = common_terms(group)
    assert terms == ["电梯"]


def test_cluster_terms_end_at_word_boundaries():
    assert cluster_terms(["幸福里小区车位捆绑", "投诉幸福里小区车位", "东门路灯"]) == ["幸福里小区车位"]
    # "电梯又" is shared by all three, but only the word 电梯 is shown
    assert cluster_terms(["电梯又坏了", "电梯又停了", "电梯又响了"]) == ["电梯"]
