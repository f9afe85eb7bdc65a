"""Issue #10 item 3: merging locks and re-checks its target; two cases never end as duplicates of each other.

The race runs on two rows (X into Y and Y into X at once) with real connections: on PostgreSQL both merges lock
the pair by id and the second re-reads a merged target; on SQLite the IMMEDIATE transaction serialises them."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from linli.audit.models import ChangeRecord
from linli.cases import services
from linli.cases.choices import Status
from linli.cases.models import Case, CaseEvent
from linli.core.errors import ConflictError, LinliError


def _footprint(*cases: Case) -> tuple[list[tuple[int, str, int | None, int]], int, int]:
    rows = sorted(
        Case.objects.filter(pk__in=[c.pk for c in cases]).values_list(
            "pk", "status", "merged_into_id", "version"
        )
    )
    ids = [c.pk for c in cases]
    return (
        rows,
        CaseEvent.objects.filter(case_id__in=ids).count(),
        ChangeRecord.objects.filter(entity="cases.case", entity_id__in=ids).count(),
    )


@pytest.mark.django_db
def test_a_merge_into_a_closed_or_merged_target_is_refused_and_writes_nothing(make_case):
    source, target, third = make_case(), make_case(), make_case()
    Case.objects.filter(pk=target.pk).update(status=Status.CLOSED)
    before = _footprint(source, target)
    with pytest.raises(LinliError, match="已关闭"):
        services.transition(case=source, action="merge", actor=None, version=1, into=target)
    assert _footprint(source, target) == before
    # A target that was merged into the source meanwhile (the caller still holds the old, open copy): a conflict.
    stale_third = Case.objects.get(pk=third.pk)
    services.transition(case=third, action="merge", actor=None, version=1, into=source)
    before = _footprint(source, third)
    with pytest.raises(ConflictError, match="已合并到本诉求"):
        services.transition(
            case=Case.objects.get(pk=source.pk), action="merge", actor=None, version=1, into=stale_third
        )
    assert _footprint(source, third) == before


@pytest.mark.django_db
def test_a_target_changed_since_it_was_read_is_a_conflict(make_case):
    source, target, elsewhere = make_case(), make_case(), make_case()
    stale_target = Case.objects.get(pk=target.pk)  # read while still open
    services.transition(case=target, action="merge", actor=None, version=1, into=elsewhere)
    before = _footprint(source, target)
    with pytest.raises(ConflictError):
        services.transition(case=source, action="merge", actor=None, version=1, into=stale_target)
    assert _footprint(source, target) == before
    assert Case.objects.get(pk=source.pk).status == Status.SUBMITTED


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("attempt", range(3))
def test_merging_two_cases_into_each_other_at_once(world, make_case, attempt):
    x, y = make_case(grid=world.g1a), make_case(grid=world.g1a)
    # Both staff opened their case pages before either clicked: each holds both rows as they were.
    seen = {c.pk: Case.objects.get(pk=c.pk) for c in (x, y)}
    pairs = [(seen[x.pk], seen[y.pk]), (seen[y.pk], seen[x.pk])]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def work(i: int) -> None:
        source, target = pairs[i]
        try:
            barrier.wait()
            services.transition(
                case=source, action="merge", actor=world.users["community_worker"], version=1, into=target
            )
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")
        except Exception as exc:
            outcomes.append(f"error:{exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"], outcomes
    rows = {c.pk: c for c in Case.objects.filter(pk__in=[x.pk, y.pk])}
    merged = [c for c in rows.values() if c.status == Status.MERGED]
    assert len(merged) == 1, [(c.pk, c.status, c.merged_into_id) for c in rows.values()]
    (dup,) = merged
    (owner,) = [c for c in rows.values() if c.pk != dup.pk]
    assert dup.merged_into_id == owner.pk
    assert owner.status == Status.SUBMITTED and owner.merged_into_id is None and owner.version == 1
    assert CaseEvent.objects.filter(kind="merge").count() == 1
    assert list(CaseEvent.objects.filter(kind="merged_in").values_list("case_id", flat=True)) == [owner.pk]
