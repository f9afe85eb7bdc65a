"""Clustering of short appeals on hand-made messages with known answers (no database)."""

from __future__ import annotations

import datetime as dt

import pytest
from scipy import sparse

from linli.triage import clusters
from linli.triage.clusters import Item, centroid_groups, cluster, heat, hotspots, shared_terms

DAY = dt.datetime(2025, 11, 3, 9, 0)

PARKING = [
    "幸福里小区开发商捆绑销售车位，买房必须买车位",
    "投诉幸福里小区强制捆绑销售车位",
    "幸福里小区买房被要求捆绑购买车位，不买不给签合同",
    "反映幸福里小区车位捆绑销售问题",
]
SCHOOL = [
    "阳光实验小学乱收补课费",
    "阳光实验小学收取补课费不合理",
    "投诉阳光实验小学违规收取补课费",
]
OTHER = [
    "东门路灯坏了晚上太黑",
    "河边垃圾堆放发臭没人清运",
    "楼上装修噪音太大影响休息",
    "公交站台顶棚漏雨",
    "菜市场门口占道经营",
]


def items(*, likes: dict[int, int] | None = None, reporters: dict[int, str] | None = None) -> list[Item]:
    likes, reporters = likes or {}, reporters or {}
    texts = PARKING + SCHOOL + OTHER
    return [
        Item(
            key=i,
            title=t,
            body=t,
            at=DAY + dt.timedelta(days=i),
            reporter=reporters.get(i, f"u{i}"),
            likes=likes.get(i, 0),
        )
        for i, t in enumerate(texts)
    ]


def groups(found: list[clusters.Cluster]) -> list[list[object]]:
    return [sorted(c.keys) for c in found]  # type: ignore[type-var]


def test_finds_the_two_issues_and_leaves_the_rest_alone():
    found = cluster(items())
    assert groups(found)[:2] == [[0, 1, 2, 3], [4, 5, 6]]
    assert all(c.count == 1 for c in found[2:]) and len(found) == 2 + len(OTHER)
    parking, school = found[0], found[1]
    assert parking.count == 4 and parking.reporters == 4 and parking.likes == 0
    assert parking.first == DAY and parking.last == DAY + dt.timedelta(days=3)
    assert parking.label in PARKING and "幸福里小区" in parking.terms
    assert school.terms[0].startswith("阳光实验小学")
    assert parking.heat > school.heat > found[2].heat


def test_likes_lift_a_smaller_issue_and_reporters_count_once():
    liked = cluster(items(likes={4: 400, 5: 300}))
    assert groups(liked)[0] == [4, 5, 6]  # ln(1 + 700) ≈ 6.6 beats one more reporter
    assert liked[0].likes == 700
    same_person = cluster(items(reporters={0: "a", 1: "a", 2: "a", 3: "a"}))
    parking = next(c for c in same_person if 0 in c.keys)
    assert parking.reporters == 1 and parking.count == 4
    assert same_person[0] is not parking  # one person four times is less hot than three people


def test_deterministic_whatever_the_run():
    first = cluster(items())
    again = cluster(items())
    assert [(c.keys, c.label, c.terms, c.heat) for c in first] == [
        (c.keys, c.label, c.terms, c.heat) for c in again
    ]


def test_time_window_splits_messages_too_far_apart():
    late = [  # the parking messages alternate between two bursts 100 days apart
        Item(i.key, i.title, i.body, DAY + dt.timedelta(days=100 * (i.key % 2)), i.reporter)  # type: ignore[operator]
        if i.key in (0, 1, 2, 3)
        else i
        for i in items()
    ]
    assert [0, 1, 2, 3] in groups(cluster(late))
    windowed = groups(cluster(late, window_days=30))
    assert [0, 2] in windowed and [1, 3] in windowed


def test_hotspots_need_two_reporters_and_respect_top():
    top = hotspots(items(), top=1)
    assert [sorted(c.keys) for c in top] == [[0, 1, 2, 3]]  # type: ignore[type-var]
    assert hotspots(items()[7:]) == []  # nothing raised twice


def test_heat_formula():
    assert heat(1, 1, 0, 0) == pytest.approx(1.0)
    assert heat(4, 2, 0, 0) == pytest.approx(2 + 1.0986, abs=1e-3)
    assert heat(3, 3, 0, 90) == pytest.approx(3 / 2**0.5)


def test_centroid_linkage_on_a_tiny_graph():
    # 0–1 and 1–2 are close, 0–2 unrelated: 0 and 1 merge (0.9), then 2 joins only if like the pair as a whole.
    g = sparse.coo_matrix(([0.9, 0.9, 0.35, 0.35], ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(3, 3))
    assert centroid_groups(g, 3, 0.3) == [[0, 1], [2]]  # 0.35 / √(3.8 · 1) ≈ 0.18
    assert centroid_groups(g, 3, 0.95) == [[0], [1], [2]]


def test_shared_terms_are_the_longest_common_strings():
    assert shared_terms(["幸福里小区车位捆绑", "投诉幸福里小区车位", "东门路灯"]) == ["幸福里小区车位"]
    assert shared_terms(["只有一条"]) == []


def test_empty_and_blank_input():
    assert cluster([]) == []
    blank = cluster([Item(key=1, title=""), Item(key=2, title="   ")])
    assert sorted(len(c.items) for c in blank) == [1, 1]
    with pytest.raises(ValueError):
        cluster(items(), threshold=0)


def test_read_csv_teddy_layout(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "留言编号,留言用户,留言主题,留言时间,留言详情,反对数,点赞数\n"
        '1,A1,幸福里小区捆绑销售车位,2019-02-28 11:25:05,"\n\t详情\n",0,3\n'
        "2,A2,阳光实验小学补课费,2019/3/1 8:00:00,,0,\n",
        encoding="utf-8",
    )
    got = clusters.read_csv(path)
    assert [(i.key, i.reporter, i.likes) for i in got] == [("1", "A1", 3), ("2", "A2", 0)]
    assert got[0].at == dt.datetime(2019, 2, 28, 11, 25, 5) and got[1].at is None  # not ISO: no time
    (tmp_path / "bad.csv").write_text("id,text\n1,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no column 留言编号, 留言主题"):
        clusters.read_csv(tmp_path / "bad.csv")
