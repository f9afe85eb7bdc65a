"""Two people editing one resident at once: one wins, the other gets a clear conflict, nothing is lost."""

import threading

import pytest
from django.db import connection

from linli.audit.models import ChangeRecord
from linli.core.errors import ConflictError
from linli.core.scope import Scope
from linli.registry import services
from linli.registry.models import Resident
from linli.registry.validation import ResidentInput
from linli.testing.factories import ResidentFactory, synthetic_id


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_updates_one_wins_one_conflicts():
    id_number = synthetic_id()
    resident = ResidentFactory(id_number=id_number)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def edit(occupation: str) -> None:
        try:
            mine = Resident.objects.get(pk=resident.pk)
            barrier.wait()
            data = ResidentInput(
                name=mine.name, id_kind="resident_id", id_number=id_number, occupation=occupation
            )
            services.resident_update(
                actor=None, scope=Scope(everything=True), resident=mine, version=1, data=data
            )
            outcomes.append("ok:" + occupation)
        except ConflictError:
            outcomes.append("conflict")
        except Exception as exc:
            outcomes.append(f"error:{exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=edit, args=(job,)) for job in ("教师", "医生")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(o.split(":")[0] for o in outcomes) == ["conflict", "ok"], outcomes
    final = Resident.objects.get(pk=resident.pk)
    winner = next(o for o in outcomes if o.startswith("ok")).split(":")[1]
    assert final.version == 2 and final.occupation == winner
    assert ChangeRecord.objects.filter(entity_id=resident.pk, action="update").count() == 1


@pytest.mark.django_db
def test_move_out_then_in_keeps_history(world):
    resident = world.residents["g1a"]
    scope = Scope(everything=True)
    import datetime as dt

    services.resident_move_out(
        actor=None, scope=scope, resident=resident, on=dt.date(2025, 3, 1), reason="迁往外地"
    )
    resident.refresh_from_db()
    assert resident.status == "moved_out" and resident.household_id is None
    with pytest.raises(services.LinliError):
        services.resident_move_out(
            actor=None, scope=scope, resident=resident, on=dt.date(2025, 3, 2), reason="x"
        )
    services.resident_move_in(
        actor=None, scope=scope, resident=resident, household=world.households["g2"], on=dt.date(2025, 6, 1)
    )
    resident.refresh_from_db()
    assert resident.grid_id == world.g2.pk and resident.status == "active"
    assert [r.moved_out_on for r in resident.residences.order_by("id")] == [dt.date(2025, 3, 1), None]
    actions = list(
        ChangeRecord.objects.filter(entity_id=resident.pk).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["move_out", "move_in"]


@pytest.mark.django_db
def test_services_refuse_outside_scope_and_write_nothing(world):
    from linli.org import access
    from linli.org.access import Cap

    scope = access.scope_for(world.users["grid_worker"], Cap.CHANGE)
    with pytest.raises(services.PermissionDenied):
        services.household_verify(
            actor=world.users["grid_worker"], scope=scope, household=world.households["g2"]
        )
    with pytest.raises(services.PermissionDenied):
        services.resident_reveal(
            actor=world.users["grid_worker"],
            scope=scope,
            resident=world.residents["g2"],
            field="phone",
            reason="test",
            ip=None,
        )
    assert not ChangeRecord.objects.exists()
