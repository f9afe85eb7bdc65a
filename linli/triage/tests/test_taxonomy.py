"""Label descriptions from a category tree, and what they teach the classifier."""

from __future__ import annotations

import pytest

from linli.core.errors import LinliError
from linli.triage import taxonomy
from linli.triage.model import TextClassifier, cross_validate

TREE = [
    ["环境保护", "环境污染", "噪音污染"],
    ["环境保护", "环境污染", "水污染"],
    ["环境保护", "环境污染", "其他"],
    ["环境保护", "其他", "其他"],
    ["劳动和社会保障", "劳动保护", "拖欠工资"],
    ["劳动和社会保障", "社会保险", "养老保险"],
    ["交通运输", "出租车管理", "其他"],  # a label the texts below never carry
]


def test_names_become_documents_once_each_without_other():
    docs = taxonomy.docs_from_rows(TREE)
    assert ("噪音污染\n噪音污染", "环境保护") in docs
    assert ("环境污染\n环境污染", "环境保护") in docs
    assert sum(d == ("环境污染\n环境污染", "环境保护") for d in docs) == 1
    assert not any(d.startswith("其他") for d, _ in docs)
    assert docs == taxonomy.docs_from_rows(list(reversed(TREE)))  # same documents whatever the row order


def test_read_csv_checks_the_columns(tmp_path):
    path = tmp_path / "tax.csv"
    path.write_text("一级,二级,三级\n环境保护,环境污染,噪音污染\n", encoding="utf-8")
    assert taxonomy.read_csv(path) == [("噪音污染\n噪音污染", "环境保护"), ("环境污染\n环境污染", "环境保护")]
    assert taxonomy.read_csv(path, ["一级", "三级"]) == [("噪音污染\n噪音污染", "环境保护")]
    with pytest.raises(LinliError, match="缺少列：四级"):
        taxonomy.read_csv(path, ["一级", "四级"])
    with pytest.raises(LinliError, match="找不到"):
        taxonomy.read_csv(tmp_path / "nope.csv")


def test_category_docs_use_name_keywords_and_description():
    docs = taxonomy.category_docs(
        [("lift", "电梯故障", "电梯,困人、停运", "电梯停运或困人"), ("other", "其他", "", "")]
    )
    assert docs == [
        ("电梯故障\n电梯故障", "lift"),
        ("电梯\n电梯", "lift"),
        ("困人\n困人", "lift"),
        ("停运\n停运", "lift"),
        ("电梯故障\n电梯停运或困人", "lift"),
    ]


TEXTS = [
    "楼下广场舞音响太吵",
    "夜里工地施工太吵睡不着",
    "隔壁工厂机器太吵",
    "酒吧音乐太吵",
    "公司三个月没发工资",
    "老板拖着不发工资",
    "工厂不给员工发工资",
    "单位欠薪半年",
]
LABELS = ["环境保护"] * 4 + ["劳动和社会保障"] * 4


def test_descriptions_teach_words_the_messages_never_used():
    unseen = "河里有污水排放，水污染严重"  # 污染 appears only in the tree
    plain = TextClassifier().fit(TEXTS, LABELS)
    taught = TextClassifier().fit(TEXTS, LABELS, extra=taxonomy.docs_from_rows(TREE))
    assert (
        plain.classes == taught.classes == ["劳动和社会保障", "环境保护"]
    )  # 交通运输 (no text) is not learnt
    assert taught.classify(unseen).label == "环境保护"
    assert taught.classify(unseen).confidence > plain.classify(unseen).confidence
    assert any("污染" in term for term, _ in taught.classify(unseen, explain=3).explain)


def test_cross_validation_never_scores_the_descriptions():
    extra = taxonomy.docs_from_rows(TREE)
    result = cross_validate(TEXTS, LABELS, folds=2, extra=extra)
    assert result["n"] == len(TEXTS)
    assert result == cross_validate(TEXTS, LABELS, folds=2, extra=extra)  # seeded: same numbers twice
