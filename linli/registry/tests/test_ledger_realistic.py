"""Realistic community ledgers (``ledger_realistic.make_ledger``) imported as a community worker would: a preview
(dry run) first, then the import; per trait, the stored outcome is compared with the generator's truth."""

from __future__ import annotations

import csv
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from linli.audit.models import ChangeRecord
from linli.org.access import Cap, scope_for
from linli.registry.models import (
    Building,
    Grid,
    Household,
    KeyGroup,
    Residence,
    Resident,
    ResidentKeyGroup,
    Unit,
)
from linli.registry.tests.ledger_realistic import (
    FIRST_DATA_ROW,
    OTHER_SHEET,
    SHEET,
    TRAITS,
    LedgerWorld,
    Person,
    Truth,
    make_ledger,
)
from linli.registry.validation import id_digest
from linli.testing.factories import ResidentFactory

pytestmark = pytest.mark.django_db
SEED = int(os.environ.get("LINLI_LEDGER_SEED", "20241107"))  # another seed: another ledger, same traits
ROWS = 360
EXISTING_BUILDING = "3号楼"
LEAF_KEYS = {
    "序号": "",
    "户号": "household_no",
    "姓名": "name",
    "与户主关系": "relation",
    "性别": "sex",
    "民族": "ethnicity",
    "出生日期": "birth_date",
    "公民身份号码": "id_number",
    "年龄": "",
    "小区名称": "compound",
    "楼栋号": "building",
    "单元": "unit",
    "门牌号": "door",
    "人员类别": "residence_type",
    "政治面貌": "political_status",
    "联系电话": "phone",
    "入住时间": "moved_in_on",
    "所属网格": "grid_name",
    "重点人群": "key_groups",
    "备注": "note",
}


# --- the generator itself (no database) -----------------------------------------------------------------------------


def _plain_world() -> LedgerWorld:
    return LedgerWorld(
        community="东安社区",
        compounds=("东安一区", "东安二区"),
        existing_units=frozenset({("东安一区", "1号楼", "1单元"), ("东安一区", "3号楼", "1单元")}),
    )


def test_generator_writes_the_office_layout(tmp_path):
    from openpyxl import load_workbook

    truth = make_ledger(tmp_path / "l.xlsx", seed=SEED, rows=ROWS, world=_plain_world())
    wb = load_workbook(tmp_path / "l.xlsx")
    assert wb.sheetnames == [SHEET, OTHER_SHEET]
    ws = wb[SHEET]
    assert ws["A1"].value == "东安社区居民信息登记表" and "A1:T1" in {str(r) for r in ws.merged_cells.ranges}
    assert ws["A2"].value.startswith("填报单位") and any(
        str(c.value or "").startswith("填报日期") for c in ws[2]
    )
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert {"A3:A4", "B3:B4", "C3:C4", "E3:H3", "J3:M3", "I3:I4"} <= merged
    top = [c.value for c in ws[3]]
    leaf = [c.value for c in ws[4]]
    assert top[4] == "身份信息" and leaf[4:8] == ["性别", "民族", "出生日期", "公民身份号码"]
    assert top[9] == "现住址" and leaf[9:13] == ["小区名称", "楼栋号", "单元", "门牌号"]
    assert "网格编码" not in top + leaf and top[8] == "年龄" and ws.column_dimensions["I"].hidden
    assert truth.rows == ROWS and ws.max_row == FIRST_DATA_ROW + ROWS - 1
    # every trait is in even a small ledger
    assert set(truth.trait_rows()) == TRAITS
    # the hidden rows are exactly the moved-out people; the cells are as the truth says
    hidden = {r for r, d in ws.row_dimensions.items() if d.hidden}
    assert hidden == {p.row for p in truth.with_trait("hidden_rows")}
    main = [p for p in truth.people.values() if p.sheet == SHEET]
    assert all(p.status == "moved_out" for p in main if p.row in hidden)
    for p in main[:80]:
        assert ws.cell(p.row, 3).value == p.raw_name and ws.cell(p.row, 8).value == p.cell_id
    # households are merged over their rows in the address columns
    assert any(str(r).startswith("J") and r.min_row >= FIRST_DATA_ROW for r in ws.merged_cells.ranges)
    assert wb[OTHER_SHEET].max_row == truth.other_sheet_rows + 1


def test_generator_truth_is_consistent(tmp_path):
    truth = make_ledger(tmp_path / "l.csv", seed=SEED, rows=ROWS, fmt="csv", world=_plain_world())
    rows = list(csv.reader((tmp_path / "l.csv").open(encoding="utf-8-sig")))
    assert len(rows) == FIRST_DATA_ROW - 1 + ROWS and rows[2][0] == "序号" and rows[3][4] == "性别"
    assert (
        not truth.with_trait("hidden_rows")
        and not truth.with_trait("merged_address")
        and not truth.other_sheet
    )
    shared = truth.with_trait("shared_door")
    assert shared and all(p.relation == "head" for p in shared)
    for p in truth.with_trait("building_spellings"):
        assert p.building.endswith("号楼") and p.unit.endswith("单元") and p.door.isdigit()
    for p in truth.with_trait("excel_damage"):
        assert p.status == "rejected" and p.id_number not in str(p.cell_id)
    for p in truth.with_trait("old_ids"):
        assert len(p.cell_id) == 15 and p.id_number[:6] + p.id_number[8:17] == p.cell_id
    heads = [truth.people[ids[0]] for ids in truth.households.values()]
    assert all(h.relation == "head" for h in heads)
    again = make_ledger(tmp_path / "again.csv", seed=SEED, rows=ROWS, fmt="csv", world=_plain_world())
    assert (tmp_path / "again.csv").read_bytes() == (tmp_path / "l.csv").read_bytes()
    assert again.people.keys() == truth.people.keys()


_MARKS = (None, "", "〃", "同上", "〃〃")


def _disagreements(p: Person) -> list[str]:
    """Where the pure normalisers (ledger_values / ledger_places) read a cell other than the truth says."""
    from linli.registry import ledger_places as lp
    from linli.registry import ledger_values as lv

    r = p.raw
    want_groups = set(p.key_groups)
    got_groups = (
        {lv.key_group_code(label) for label in lv.key_group_labels(r["重点人群"])} if r["重点人群"] else set()
    )
    pairs: list[tuple[str, Any, Any]] = [
        ("与户主关系", lv.relation(r["与户主关系"]).value, p.relation),
        ("政治面貌", lv.political_status(r["政治面貌"]).value, p.political_status),
        ("民族", lv.ethnicity(r["民族"]).value, p.ethnicity),
        ("性别", lv.sex(r["性别"]).value if "性别" not in p.warnings else p.sex, p.sex),
        ("重点人群", got_groups, want_groups),
        ("姓名", lv.name(r["姓名"])[0], p.name),
    ]
    if r["人员类别"] not in _MARKS:
        pairs.append(("人员类别", lv.residence_type(r["人员类别"]).value, p.residence_type))
    phone = lv.phone(r["联系电话"])
    pairs.append(("联系电话", (phone.value, bool(phone.warning)), (p.phone, "联系电话" in p.warnings)))
    moved = lv.date(r["入住时间"], "入住时间")
    pairs.append(("入住时间", (moved.value, bool(moved.warning)), (p.moved_in_on, "入住时间" in p.warnings)))
    if "-" in str(r["门牌号"]):
        parts = lp.split_address(r["门牌号"])
        got = (parts.building, parts.unit, parts.door) if parts else None
        pairs.append(("门牌号", got, (p.building, p.unit, p.door)))
    else:
        for header, read, want in (
            ("楼栋号", lp.building, p.building),
            ("单元", lp.unit, p.unit),
            ("门牌号", lp.door, p.door),
        ):
            if r[header] not in _MARKS:
                pairs.append((header, read(r[header]).value, want))
    return [
        f"row {p.row} {h}: {r.get(h)!r} read as {got!r}, truth {want!r}"
        for h, got, want in pairs
        if got != want
    ]


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_generator_truth_agrees_with_the_value_normalisers(tmp_path, fmt):
    """The cells one by one, through the pure normalisers: the truth the import tests rely on is theirs too."""
    from linli.registry import ledger_values as lv
    from linli.registry.validation import FieldError

    truth = make_ledger(tmp_path / f"l.{fmt}", seed=SEED + 1, rows=800, fmt=fmt, world=_plain_world())
    problems: list[str] = []
    for p in truth.people.values():
        if p.sheet != SHEET:
            continue
        problems += _disagreements(p)
        try:
            number, warning = lv.id_number(p.cell_id, "resident_id")
        except FieldError as exc:
            if p.status != "rejected" or "Excel" not in str(exc):
                problems.append(f"row {p.row} ID {p.cell_id!r} refused: {exc}")
            continue
        if p.status == "rejected" or (number, bool(warning)) != (p.id_number, "公民身份号码" in p.warnings):
            problems.append(f"row {p.row} ID {p.cell_id!r} read as {number} ({warning}), truth {p.id_number}")
    assert not problems, "\n".join(problems[:20])


# --- a world and one import -----------------------------------------------------------------------------------------


@dataclass
class Run:
    truth: Truth
    dry: Any
    result: Any
    grids: dict[str, Grid]
    seeded: dict[str, Resident]  # ID number → resident stored before the import
    before: dict[str, int]  # place and resident counts before anything ran


def ledger_world(world) -> LedgerWorld:
    return LedgerWorld(
        community=world.c1.name,
        compounds=(world.g1a.name, world.g1b.name),
        existing_units=frozenset(
            {
                (world.g1a.name, "1号楼", "1单元"),
                (world.g1b.name, "1号楼", "1单元"),
                (world.g1a.name, EXISTING_BUILDING, "1单元"),
                (world.g1a.name, EXISTING_BUILDING, "2单元"),
            }
        ),
    )


def _counts() -> dict[str, int]:
    return {
        "residents": Resident.objects.count(),
        "households": Household.objects.count(),
        "buildings": Building.objects.count(),
        "units": Unit.objects.count(),
        "residences": Residence.objects.count(),
        "tags": ResidentKeyGroup.objects.count(),
        "history": ChangeRecord.objects.count(),
    }


def _seed(truth: Truth, grid: Grid, *, keep_names: bool = True) -> dict[str, Resident]:
    """Store 3号楼 of the first compound as the system already knows it: its units, and for each household there
    (one family per door, 户号 not yet known) its active people, with a phone, 中共党员, 回族 and the tag 退役军人."""
    building = Building.objects.create(grid=grid, name=EXISTING_BUILDING)
    units = {name: Unit.objects.create(building=building, name=name) for name in ("1单元", "2单元")}
    doors: dict[tuple[str, str], int] = {}
    for key in truth.households:
        compound, b, u, door, _ = key.split("|")
        if compound == grid.name and b == EXISTING_BUILDING:
            doors[(u, door)] = doors.get((u, door), 0) + 1
    veteran = KeyGroup.objects.get(code="veteran")
    seeded: dict[str, Resident] = {}
    for key, ids in truth.households.items():
        compound, b, u, door, _ = key.split("|")
        if compound != grid.name or b != EXISTING_BUILDING or doors[(u, door)] != 1 or u not in units:
            continue
        household = Household.objects.create(
            grid=grid,
            region_code=grid.region_code,
            building=building,
            unit=units[u],
            door_number=door,
            address=f"{grid.name}{b}{u}{door}室",
        )
        for number in ids:
            p = truth.people[number]
            if p.status != "active" or any(t in p.traits for t in ("id_noise", "old_ids")):
                continue
            resident = ResidentFactory(
                household=household,
                name=p.name,
                id_number=number,
                phone="13900009999",
                political_status="cpc_member",
                ethnicity="回族",
                relation=p.relation,
            )
            ResidentKeyGroup.objects.create(resident=resident, key_group=veteran)
            seeded[number] = resident
    assert len(seeded) >= 5 or len(truth.people) < ROWS, "the ledger must reach 3号楼 of the first compound"
    return seeded


def run_import(
    world,
    tmp_path: Path,
    *,
    fmt: str = "xlsx",
    seed: int = SEED,
    rows: int = ROWS,
    omit: tuple[str, ...] = (),
    prepare: Any = None,
    **options: Any,
) -> Run:
    from linli.registry.ledger_import import ImportOptions, import_file

    path = tmp_path / f"ledger.{fmt}"
    truth = make_ledger(path, seed=seed, rows=rows, fmt=fmt, world=ledger_world(world), omit=omit)
    grids = {world.g1a.name: world.g1a, world.g1b.name: world.g1b}
    seeded = _seed(truth, world.g1a)
    if prepare is not None:
        prepare(truth, seeded)
    before = _counts()
    user = world.users["community_worker"]
    scope = scope_for(user, Cap.IMPORT)
    opts = ImportOptions(**{"create_places": True, **options})
    dry = import_file(path, scope=scope, actor=user, dry_run=True, options=opts)
    assert _counts() == before, "the preview wrote to the database"
    result = import_file(path, scope=scope, actor=user, options=opts)
    return Run(truth, dry, result, grids, seeded, before)


def stored(number: str) -> Resident | None:
    return Resident.objects.filter(id_digest=id_digest(number)).select_related("household").first()


def rows_with(issues: list[Any], *, text: str = "") -> set[int]:
    return {e.row for e in issues if text in e.reason}


def issue_on(issues: list[Any], row: int, header: str, truth: Truth) -> bool:
    letter = truth.columns.get(header, "")
    return any(e.row == row and (e.letter == letter or header in e.column) for e in issues)


# --- preview -------------------------------------------------------------------------------------------------------


def test_preview_writes_nothing_and_lists_changes_and_new_places(world, tmp_path):
    run = run_import(world, tmp_path)
    preview = run.dry.preview_dict()
    assert run.dry.dry_run and preview["counts"]["created"] == run.result.created > 0
    buildings = {(p["grid"], p["name"]) for p in preview["new_places"] if p["kind"] == "building"}
    codes = {g.code: name for name, g in run.grids.items()}
    named = {(codes.get(grid, grid), name) for grid, name in buildings}
    assert named == run.truth.new_buildings
    assert (world.g1a.name, EXISTING_BUILDING) not in named
    units = {
        (codes.get(p["grid"], p["grid"]), p["name"]) for p in preview["new_places"] if p["kind"] == "unit"
    }
    assert units == {(c, b + u) for c, b, u in run.truth.new_units}
    assert any(p["kind"] == "household" for p in preview["new_places"])
    # the seeded residents change (their 政治面貌/民族/phone from the file): each change names its row and person
    rows = {p.row: p for p in run.truth.people.values() if p.sheet == SHEET}
    assert preview["changes_total"] >= 1
    for change in preview["changes"]:
        assert change["row"] in rows and change["name"]
    assert any(rows[c["row"]].id_number in run.seeded for c in preview["changes"])
    # every column of the office layout is understood: 序号 and the hidden 年龄 ignored silently, nothing unknown
    assert {c["letter"]: c["key"] for c in preview["columns"]} == {
        run.truth.columns[header]: key for header, key in LEAF_KEYS.items()
    }
    assert [w for w in preview["file_warnings"] if OTHER_SHEET not in w] == []
    assert {(s["name"], s["used"]) for s in preview["sheets"]} == {(SHEET, True), (OTHER_SHEET, False)}


# --- households and places ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_continuation_cells_and_household_numbers_keep_families_apart(world, tmp_path, fmt):
    run = run_import(world, tmp_path, fmt=fmt)
    expected = run.truth.active_households()
    seen: dict[int, str] = {}
    for key, ids in expected.items():
        residents = [stored(i) for i in ids]
        assert all(r is not None and r.status == "active" for r in residents), key
        households = {r.household_id for r in residents if r}
        assert len(households) == 1, f"household {key} split over {households}"
        hid = households.pop()
        assert seen.setdefault(hid, key) == key, f"households {seen[hid]} and {key} merged"
        # nobody else from the ledger lives there
        digests = set(Resident.objects.filter(household_id=hid).values_list("id_digest", flat=True))
        ledger_digests = {id_digest(i) for i in run.truth.people}
        assert digests & ledger_digests == {id_digest(i) for i in ids}
    # two families at one door: one address, two households told apart by 户号
    for p in run.truth.with_trait("shared_door"):
        if p.status != "active":
            continue
        mine = stored(p.id_number).household
        assert mine.household_no == p.household_no
        others = Household.objects.filter(grid=mine.grid, address=mine.address).exclude(pk=mine.pk)
        assert others.exists(), p


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_spellings_land_in_one_building_and_existing_residents_stay(world, tmp_path, fmt):
    run = run_import(world, tmp_path, fmt=fmt)
    for p in run.truth.by_status("active"):
        r = stored(p.id_number)
        h = r.household
        grid = run.grids[p.compound]
        assert (h.grid_id, h.building.name, h.unit.name, h.door_number) == (
            grid.pk,
            p.building,
            p.unit,
            p.door,
        ), (p.row, p.raw.get("楼栋号"), p.raw.get("单元"), p.raw.get("门牌号"))
        assert h.household_no == p.household_no
    for grid in run.grids.values():
        names = list(Building.objects.filter(grid=grid).values_list("name", flat=True))
        assert len(names) == len(set(names)) and all(
            n.endswith("号楼") and n[:-2].isdigit() for n in names
        ), names
    assert Building.objects.filter(grid=world.g1a, name=EXISTING_BUILDING).count() == 1
    assert run.truth.with_trait("building_spellings") and run.truth.with_trait("combined_door")
    # residents the system already knew stay in their flat, whatever spelling the file uses
    for number, resident in run.seeded.items():
        now = stored(number)
        assert now.household_id == resident.household_id, run.truth.people[number].raw
        assert Residence.objects.filter(resident=now, moved_out_on__isnull=True).count() == 1
        assert now.household.household_no == run.truth.people[number].household_no  # the file numbered it
    spelled = [p for p in run.truth.with_trait("building_spellings") if p.id_number in run.seeded]
    assert spelled, "some seeded residents must be spelled 3#/3栋/三号楼 in the file"


# --- people ---------------------------------------------------------------------------------------------------------


def test_hidden_rows_and_deceased_marks_are_never_active(world, tmp_path):
    run = run_import(world, tmp_path)
    gone = run.truth.by_status("moved_out", "deceased")
    assert run.truth.with_trait("hidden_rows") and run.truth.with_trait("deceased_names")
    for p in gone:
        r = stored(p.id_number)
        assert r is None or r.status != "active", (p.row, p.raw_name)
        if r is not None:
            assert r.name == p.name and "已故" not in r.name
    warned = {e.row for e in run.result.warnings}
    assert {p.row for p in gone} <= warned


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_padded_names_are_stored_without_spaces(world, tmp_path, fmt):
    run = run_import(world, tmp_path, fmt=fmt)
    padded = [p for p in run.truth.with_trait("name_padding") if p.status == "active"]
    assert padded
    for p in padded:
        assert stored(p.id_number).name == p.name, p.raw_name
    assert Resident.objects.filter(name__contains="\u3000").count() == 0
    assert not Resident.objects.filter(name__contains=" ").exists()


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_vocabularies_and_phones_are_stored_canonical(world, tmp_path, fmt):
    run = run_import(world, tmp_path, fmt=fmt)
    checked = 0
    for p in run.truth.by_status("active"):
        r = stored(p.id_number)
        assert (r.relation, r.residence_type, r.political_status, r.ethnicity) == (
            p.relation,
            p.residence_type,
            p.political_status,
            p.ethnicity,
        ), (p.row, p.raw.get("与户主关系"), p.raw.get("人员类别"), p.raw.get("政治面貌"), p.raw.get("民族"))
        assert (r.sex, r.birth_date) == (p.sex, p.birth_date)
        tags = set(r.key_groups.exclude(code="veteran").values_list("code", flat=True))
        assert tags == set(p.key_groups), (p.row, p.raw.get("重点人群"))
        if p.phone:
            assert r.phone_masked == f"{p.phone[:3]}****{p.phone[-4:]}", (p.row, p.raw.get("联系电话"))
        elif p.id_number not in run.seeded:
            assert r.phone_masked == "", (p.row, p.raw.get("联系电话"))
        if p.moved_in_on and p.id_number not in run.seeded:
            residence = Residence.objects.get(resident=r, moved_out_on__isnull=True)
            assert residence.moved_in_on == p.moved_in_on, (p.row, p.raw.get("入住时间"))
        checked += 1
    assert checked > ROWS * 0.8


def test_unreadable_optional_fields_leave_a_warning_and_import_the_person(world, tmp_path):
    run = run_import(world, tmp_path)
    warned = [p for p in run.truth.by_status("active") if p.warnings]
    assert {t for p in warned for t in p.traits} >= {
        "unreadable_optional",
        "phone_forms",
        "partial_dates",
        "sheet_disagrees",
    }
    for p in warned:
        r = stored(p.id_number)
        assert r is not None and r.status == "active", p.row
        for header in p.warnings:
            assert issue_on(run.result.warnings, p.row, header, run.truth), (p.row, header, p.raw.get(header))
        assert p.row not in {e.row for e in run.result.errors}
    # 出生日期 1956年3月 and 入住时间 2015年: accepted; the birth date comes from the ID number
    for p in run.truth.with_trait("partial_dates"):
        if p.status == "active":
            assert stored(p.id_number).birth_date == p.birth_date


# --- ID numbers -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_excel_damaged_ids_are_rejected_and_old_ids_converted(world, tmp_path, fmt):
    run = run_import(world, tmp_path, fmt=fmt)
    damaged = run.truth.with_trait("excel_damage")
    assert len(damaged) >= 2
    excel_rows = rows_with(run.result.errors, text="Excel")
    for p in damaged:
        assert p.row in excel_rows, (p.row, p.cell_id)
        assert stored(p.id_number) is None
        text = str(p.cell_id)
        if len(text) == 18 and text.isdigit():  # the damaged number passes the check digit: still refused
            assert stored(text) is None
    assert any(isinstance(p.cell_id, float) for p in damaged) == (fmt == "xlsx")
    for p in run.truth.with_trait("old_ids"):
        if p.status == "active":
            assert stored(p.id_number) is not None, p.cell_id
            assert issue_on(run.result.warnings, p.row, "公民身份号码", run.truth)
    for p in run.truth.with_trait("id_noise"):
        if p.status == "active":
            assert stored(p.id_number) is not None, repr(p.cell_id)


# --- sheets and the report ------------------------------------------------------------------------------------------


def test_second_sheet_with_data_gives_a_warning(world, tmp_path):
    run = run_import(world, tmp_path)
    assert any(OTHER_SHEET in w for w in run.result.file_warnings), run.result.file_warnings
    assert any(OTHER_SHEET in w for w in run.dry.preview_dict()["file_warnings"])
    for p in run.truth.by_status("not_read"):
        assert stored(p.id_number) is None
    assert run.result.sheet == SHEET


def test_report_names_people_and_groups_problems(world, tmp_path):
    from openpyxl import load_workbook

    from linli.registry.ledger_import import write_report

    run = run_import(world, tmp_path)
    out = write_report(run.result, tmp_path / "report.xlsx")
    wb = load_workbook(out)
    assert {"汇总", "问题明细"} <= set(wb.sheetnames)
    detail = wb["问题明细"]
    header = [c.value for c in detail[1]]
    assert {"行号", "列", "姓名", "原值", "问题", "级别"} <= set(header)
    assert detail.freeze_panes is not None
    col = {h: i for i, h in enumerate(header)}
    lines = list(detail.iter_rows(min_row=2, values_only=True))
    damaged = run.truth.with_trait("excel_damage")[0]
    mine = [r for r in lines if r[col["行号"]] == damaged.row and "Excel" in str(r[col["问题"]])]
    assert mine and mine[0][col["姓名"]] in (damaged.name, damaged.raw_name)
    assert mine[0][col["原值"]] not in (None, "")
    summary = [[v for v in r if v is not None] for r in wb["汇总"].iter_rows(values_only=True)]
    texts = [" ".join(str(v) for v in r) for r in summary]
    wife = [
        r for r, t in zip(summary, texts, strict=True) if "与户主关系" in t and "“妻”" in t and "配偶" in t
    ]
    assert wife, texts[:20]
    wives = sum(1 for p in run.truth.people.values() if p.raw.get("与户主关系") == "妻")
    assert any(isinstance(v, int) and 2 <= v <= wives for v in wife[0]), wife  # one line for all those rows
    # grouped: one line per kind of damage (text …000, number cell), its row count covering every damaged row
    # lines name the file's own column (身份信息/公民身份号码), not the platform's (证件号码)
    excel = [r for r, t in zip(summary, texts, strict=True) if "公民身份号码" in t and "Excel" in t]
    assert 1 <= len(excel) <= 2
    counts = [next(v for v in r if isinstance(v, int)) for r in excel]
    assert sum(counts) == len(run.truth.with_trait("excel_damage")), excel


# --- never overwrite from absence; conflicts -------------------------------------------------------------------------


def test_columns_absent_from_the_file_keep_stored_values(world, tmp_path):
    run = run_import(world, tmp_path, omit=("联系电话", "政治面貌", "民族"))
    assert "联系电话" not in run.truth.columns
    for number, before in run.seeded.items():
        r = stored(number)
        assert (r.phone_masked, r.political_status, r.ethnicity) == (
            before.phone_masked,
            "cpc_member",
            "回族",
        )
        assert r.phone_digest == before.phone_digest
        assert r.relation == run.truth.people[number].relation
    seeded_rows = {run.truth.people[n].row for n in run.seeded}
    changes = [c for c in run.dry.preview_dict()["changes"] if c["row"] in seeded_rows]
    assert changes  # 与户主关系 or key groups may change; the absent columns may not
    for change in changes:
        assert not {"phone_masked", "political_status", "ethnicity"} & set(change["after"]), change


@pytest.mark.parametrize("replace_empty", [False, True])
def test_empty_key_group_cell_keeps_tags_unless_replace_empty(world, tmp_path, replace_empty):
    run = run_import(world, tmp_path, replace_empty=replace_empty)
    empty = [n for n in run.seeded if not run.truth.people[n].raw.get("重点人群")]
    tagged = [n for n in run.seeded if run.truth.people[n].raw.get("重点人群")]
    assert empty
    for number in empty:
        codes = set(stored(number).key_groups.values_list("code", flat=True))
        assert codes == (set() if replace_empty else {"veteran"})
    for number in tagged:
        codes = set(stored(number).key_groups.values_list("code", flat=True))
        assert codes >= set(run.truth.people[number].key_groups)


@pytest.mark.parametrize("allow_renames", [False, True])
def test_existing_id_with_another_name_is_a_conflict(world, tmp_path, allow_renames):
    renamed: dict[str, str] = {}

    def prepare(truth: Truth, seeded: dict[str, Resident]) -> None:
        for number in list(seeded)[:3]:
            Resident.objects.filter(pk=seeded[number].pk).update(name="旧名字")
            renamed[number] = truth.people[number].name

    run = run_import(world, tmp_path, allow_renames=allow_renames, prepare=prepare)
    errors = {e.row for e in run.result.errors}
    for number, name in renamed.items():
        p: Person = run.truth.people[number]
        r = stored(number)
        if allow_renames:
            assert r.name == name and p.row not in errors
        else:
            assert r.name == "旧名字" and p.row in errors
            assert r.household_id == run.seeded[number].household_id


def test_without_create_places_new_places_are_refused_and_previewed(world, tmp_path):
    run = run_import(world, tmp_path, create_places=False)
    assert _counts()["buildings"] == run.before["buildings"]
    assert _counts()["units"] == run.before["units"]
    assert _counts()["households"] == run.before["households"]
    new = run.truth.new_buildings
    assert new
    for p in run.truth.by_status("active"):
        if (p.compound, p.building) in new:
            assert stored(p.id_number) is None
            assert p.row in {e.row for e in run.result.errors}
    preview = run.dry.preview_dict()
    listed = {p["name"] for p in preview["new_places"] if p["kind"] == "building"}
    assert listed == {b for _, b in new}
    for number, resident in run.seeded.items():  # known places still import
        assert stored(number).household_id == resident.household_id


def test_partial_dates_are_checked_against_birth(world, tmp_path):
    run = run_import(world, tmp_path, rows=200)
    for p in run.truth.by_status("active"):
        r = stored(p.id_number)
        residence = Residence.objects.filter(resident=r, moved_out_on__isnull=True).first()
        assert residence is not None and residence.moved_in_on >= r.birth_date
        assert residence.moved_in_on <= dt.date.today()  # noqa: DTZ011
