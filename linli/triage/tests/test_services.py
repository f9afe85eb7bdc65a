"""Versions, activation, roll-back, the routing hook's threshold and the command line."""

from __future__ import annotations

import csv
import json

import pytest
from django.core.management import call_command

from linli.cases import routing
from linli.core.errors import LinliError
from linli.triage import services
from linli.triage.models import TriageModel
from linli.triage.suggest import suggest_category
from linli.triage.tests.conftest import corpus


@pytest.fixture
def trained(categories):
    texts, labels = corpus()
    return services.train_from_rows(texts, labels, source="fixture", activate_now=True)


def test_train_stores_an_evaluated_version_mapped_by_category_code(trained):
    assert trained.version == 1 and trained.active
    assert trained.labels == ["garbage", "noise", "property_elevator"]
    assert trained.label_map == {c: c for c in trained.labels}
    assert trained.metrics["macro_f1"] == 1.0 and trained.metrics["train_rows"] == 30
    assert trained.metrics["confusion"] == [[10, 0, 0], [0, 10, 0], [0, 0, 10]]
    label, confidence, terms = services.classify("电梯坏了，困人了，电梯故障")
    assert label == "property_elevator" and confidence > 0.5 and terms


def test_labels_map_by_category_name_or_given_map(categories):
    texts, labels = corpus()
    names = {"noise": "噪音扰民", "garbage": "垃圾清运", "property_elevator": "Lift"}
    row = services.train_from_rows(texts, [names[x] for x in labels], label_map={"Lift": "property_elevator"})
    assert row.label_map == {"噪音扰民": "noise", "垃圾清运": "garbage", "Lift": "property_elevator"}
    assert not row.active


def test_activate_and_rollback(trained):
    texts, labels = corpus()
    v2 = services.train_from_rows(texts, labels)
    assert services.active_model().version == 1
    services.activate(v2.version)
    assert services.active_model().version == 2
    assert TriageModel.objects.filter(active=True).count() == 1
    services.rollback()
    assert services.active_model().version == 1
    services.rollback()
    assert services.active_model().version == 2
    with pytest.raises(LinliError):
        services.activate(99)


def test_rollback_needs_an_earlier_version(trained):
    with pytest.raises(LinliError):
        services.rollback()


def test_too_little_data_is_refused(categories):
    with pytest.raises(LinliError):
        services.train_from_rows(["一", "二"], ["noise", "noise"])


def test_suggester_is_registered():
    assert suggest_category in routing.SUGGESTERS


def test_auto_route_only_at_or_above_the_threshold(trained, categories, world, settings):
    grid = world.g1a
    title, body = "电梯故障", "电梯又停运了，经常困人"
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 0.0
    found = routing.suggest(categories["noise"], grid, title, body)
    assert found.category.code == "property_elevator"
    assert found.source == "triage:v1"
    assert found.handling_level == categories["property_elevator"].default_level
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 1.01
    assert suggest_category(categories["noise"], grid, title, body) is None
    below = routing.suggest(categories["noise"], grid, title, body)
    assert below.category.code == "noise" and below.source == "category"
    _, confidence, _ = services.classify(f"{title}\n{body}")
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = confidence - 1e-6
    assert suggest_category(categories["noise"], grid, title, body) is not None
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = confidence + 1e-6
    assert suggest_category(categories["noise"], grid, title, body) is None


def test_no_suggestion_without_model_or_for_inactive_category(categories, world, settings, trained):
    settings.LINLI_TRIAGE_AUTO_CONFIDENCE = 0.0
    elevator = categories["property_elevator"]
    elevator.active = False
    elevator.save(update_fields=["active"])
    assert suggest_category(categories["noise"], world.g1a, "电梯故障", "电梯困人") is None
    TriageModel.objects.update(active=False)  # behind the services' back: seen after the 30 s cache, or now:
    services.forget_active()
    assert suggest_category(categories["noise"], world.g1a, "楼上装修噪音", "太吵") is None


def _write_csv(path, rows):
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["标题", "内容", "类别"])
        w.writerows(rows)


def test_cli_train_and_eval(tmp_path, categories, capsys):
    texts, labels = corpus()
    train = tmp_path / "train.csv"
    _write_csv(train, [(t, "详情：" + t, lab) for t, lab in zip(texts, labels, strict=True)])
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"noise": "noise"}), encoding="utf-8")
    call_command(
        "linli_triage",
        "train",
        "--csv",
        str(train),
        "--text-cols",
        "标题,内容",
        "--label-col",
        "类别",
        "--map",
        str(mapping),
        "--activate",
    )
    out = capsys.readouterr().out
    assert "v1: 30 rows, 3 labels" in out and "(active)" in out and "macro-F1  1.0000" in out
    assert TriageModel.objects.get(active=True).version == 1

    # One row of each of two classes carries the wrong label: accuracy 4/6, known confusion matrix.
    test = tmp_path / "test.csv"
    _write_csv(
        test,
        [
            ("电梯故障停运", "电梯困人", "property_elevator"),
            ("电梯经常困人", "电梯维保不到位", "property_elevator"),
            ("垃圾没有清运", "垃圾堆放发臭", "garbage"),
            ("垃圾桶满了", "垃圾没人清运", "noise"),
            ("装修噪音太大", "电钻施工吵得睡不着", "noise"),
            ("广场舞噪音扰民", "音响太吵", "garbage"),
        ],
    )
    call_command(
        "linli_triage",
        "eval",
        "--csv",
        str(test),
        "--text-cols",
        "标题,内容",
        "--label-col",
        "类别",
        "--json",
    )
    result = json.loads(capsys.readouterr().out)
    assert result["labels"] == ["garbage", "noise", "property_elevator"]
    assert result["accuracy"] == pytest.approx(4 / 6)
    assert result["confusion"] == [[1, 1, 0], [1, 1, 0], [0, 0, 2]]
    assert result["macro_f1"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)

    # A file of the training file's layout needs no column names: the version kept them.
    call_command("linli_triage", "eval", "--csv", str(test))
    out = capsys.readouterr().out
    assert "accuracy  0.6667" in out and "confusion matrix" in out
    assert TriageModel.objects.get(version=1).metrics["layout"] == {
        "text_cols": "标题,内容",
        "label_col": "类别",
    }
    call_command("linli_triage", "list")
    assert "* v1" in capsys.readouterr().out


def test_cli_eval_of_a_version_not_trained_from_a_file_needs_the_columns(tmp_path, categories):
    from django.core.management import CommandError

    texts, labels = corpus()
    services.train_from_rows(texts, labels, activate_now=True)
    path = tmp_path / "x.csv"
    _write_csv(path, [("电梯故障停运", "电梯困人", "property_elevator")])
    with pytest.raises(CommandError, match="--text-cols and --label-col"):
        call_command("linli_triage", "eval", "--csv", str(path))


def test_cli_reports_bad_columns(tmp_path, db):
    from django.core.management import CommandError

    path = tmp_path / "x.csv"
    _write_csv(path, [("a", "b", "c")])
    with pytest.raises(CommandError, match="no column"):
        call_command(
            "linli_triage", "train", "--csv", str(path), "--text-cols", "title", "--label-col", "类别"
        )


def test_a_tampered_model_row_is_refused_before_unpickling(trained):
    from linli.core.errors import LinliError

    row = TriageModel.objects.get(active=True)
    blob = bytearray(row.blob)
    blob[-1] ^= 1
    TriageModel.objects.filter(pk=row.pk).update(blob=bytes(blob))
    services.forget_active()
    with pytest.raises(LinliError, match="校验失败"):
        services.unseal(bytes(TriageModel.objects.get(pk=row.pk).blob))
