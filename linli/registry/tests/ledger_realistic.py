"""A seeded generator of realistic community ledgers (居民信息登记表) and the truth behind them.

``make_ledger`` writes a ledger laid out the way community offices keep theirs — a title row, a 填报单位/填报日期 row,
a two-level merged header, households with a 户主 first, continuation cells (merged, blank, 〃, 同上), building
spellings (3#, 3栋, 三号楼 …), hidden rows for people who moved out, names marked （已故）, padded names, messy phones
and dates, Excel-damaged and 15-digit ID numbers and a second sheet — and returns a ``Truth``: for every ID number
the outcome the import must store. Synthetic data only: every ID number is invented (valid check digit).

Traits (``traits=None`` means all of them; a trait left out is written in its plain, canonical form):
``merged_address`` (xlsx), ``continuation``, ``shared_door``, ``building_spellings``, ``combined_door``,
``hidden_rows`` (xlsx), ``deceased_names``, ``name_padding``, ``vocab``, ``phone_forms``, ``partial_dates``,
``unreadable_optional``, ``excel_damage``, ``old_ids``, ``id_noise``, ``second_sheet`` (xlsx), ``sheet_disagrees``
(a 性别 or 出生日期 cell contradicting the ID number: the ID wins, with a warning).
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linli.core.idcard import check_digit, make_id_number

TRAITS = frozenset(
    {
        "merged_address",
        "continuation",
        "shared_door",
        "building_spellings",
        "combined_door",
        "hidden_rows",
        "deceased_names",
        "name_padding",
        "vocab",
        "phone_forms",
        "partial_dates",
        "unreadable_optional",
        "excel_damage",
        "old_ids",
        "id_noise",
        "second_sheet",
        "sheet_disagrees",
    }
)
XLSX_ONLY = frozenset({"merged_address", "hidden_rows", "second_sheet"})

REGION6 = "371702"
SHEET = "居民信息"
OTHER_SHEET = "流动人口"
HEADER_TOP, HEADER_LEAF, FIRST_DATA_ROW = 3, 4, 5
BIRTH_LIMIT = dt.date(2023, 12, 31)

# (group header or "", leaf header); a leaf with group "" is merged vertically over both header rows.
LAYOUT: tuple[tuple[str, str], ...] = (
    ("", "序号"),
    ("", "户号"),
    ("", "姓名"),
    ("", "与户主关系"),
    ("身份信息", "性别"),
    ("身份信息", "民族"),
    ("身份信息", "出生日期"),
    ("身份信息", "公民身份号码"),
    ("", "年龄"),
    ("现住址", "小区名称"),
    ("现住址", "楼栋号"),
    ("现住址", "单元"),
    ("现住址", "门牌号"),
    ("", "人员类别"),
    ("", "政治面貌"),
    ("", "联系电话"),
    ("", "入住时间"),
    ("", "所属网格"),
    ("", "重点人群"),
    ("", "备注"),
)
REQUIRED_HEADERS = frozenset({"姓名", "公民身份号码", "门牌号", "小区名称"})
PLACE_HEADERS = ("小区名称", "楼栋号", "单元", "门牌号")

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢龙"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂玉华建国淑珍凤德志红梅海燕文辉春"
CN_DIGITS = "零一二三四五六七八九十"

# Relation words as ledgers write them → choice code (Relation in choices.py); plain label when "vocab" is off.
RELATION_CODES = {
    "本人": "head",
    "户主": "head",
    "妻": "spouse",
    "夫": "spouse",
    "配偶": "spouse",
    "长子": "child",
    "次子": "child",
    "长女": "child",
    "次女": "child",
    "子女": "child",
    "儿媳": "other",
    "女婿": "other",
    "其他": "other",
    "孙女": "grandchild",
    "孙子": "grandchild",
    "孙子女": "grandchild",
    "父亲": "parent",
    "母亲": "parent",
    "父母": "parent",
    "弟": "sibling",
    "妹": "sibling",
    "兄弟姐妹": "sibling",
}
PLAIN_RELATION = {
    "head": "户主",
    "spouse": "配偶",
    "child": "子女",
    "other": "其他",
    "grandchild": "孙子女",
    "parent": "父母",
    "sibling": "兄弟姐妹",
}
RESIDENCE_CODES = {"户籍": "registered", "常住": "registered", "户籍人口": "registered", "流动": "floating"}
PLAIN_RESIDENCE = {"registered": "户籍人口", "floating": "流动人口"}
POLITICAL_CODES = {"党员": "cpc_member", "团员": "youth_league", "无": "masses", "群众": "masses"}
PLAIN_POLITICAL = {"cpc_member": "中共党员", "youth_league": "共青团员", "masses": "群众"}
ETHNICITY = {"汉": "汉族", "汉族": "汉族", "回族": "回族", "回": "回族", "满族": "满族"}
KEY_GROUP_CODES = {
    "低保": "low_income",
    "残疾": "disabled",
    "独居": "alone",
    "空巢": "empty_nest",
    "孤寡": "extreme_poverty",
    "低保户": "low_income",
    "残疾人": "disabled",
}
PLAIN_KEY_GROUP = {
    "low_income": "低保户",
    "disabled": "残疾人",
    "alone": "独居老人",
    "empty_nest": "空巢老人",
    "extreme_poverty": "特困人员",
}


# words only a ledger uses (the "vocab" trait): the import must store their canonical values
_LOCAL_WORDS = (set(RELATION_CODES) - set(PLAIN_RELATION.values())) | {
    "户籍",
    "常住",
    "流动",
    "党员",
    "团员",
    "无",
    "汉",
    "回",
    "男性",
    "女性",
}


@dataclass(frozen=True)
class LedgerWorld:
    """What the ledger talks about: the community, its compounds (each a grid named like it), the 所属网格 text per
    compound (defaults to the compound name) and the (compound, building, unit) places that already exist."""

    community: str
    compounds: tuple[str, ...]
    grid_labels: dict[str, str] = field(default_factory=dict)
    existing_units: frozenset[tuple[str, str, str]] = frozenset()

    def grid_label(self, compound: str) -> str:
        return self.grid_labels.get(compound, compound)

    @property
    def existing_buildings(self) -> frozenset[tuple[str, str]]:
        return frozenset((c, b) for c, b, _ in self.existing_units)


@dataclass
class Person:
    """One person of the ledger and the outcome the import must store for them."""

    id_number: str  # canonical 18-digit number (the key)
    cell_id: Any  # the 公民身份号码 cell as written (str, or float for an Excel-damaged number)
    name: str  # as it must be stored
    raw_name: str
    row: int  # spreadsheet row
    sheet: str
    compound: str
    building: str  # canonical: 3号楼
    unit: str  # canonical: 1单元
    door: str  # canonical: 301
    household_no: str
    household: str  # key of ``Truth.households``
    relation: str  # Relation code
    residence_type: str
    political_status: str | None  # None: the column is not in the file
    ethnicity: str | None
    sex: str
    birth_date: dt.date
    phone: str | None  # canonical digits, None = nothing readable / column absent
    key_groups: frozenset[str]
    moved_in_on: dt.date | None
    status: str  # active | moved_out | deceased | rejected | not_read
    rejection: str = ""  # a text the row's error must contain
    warnings: frozenset[str] = frozenset()  # leaf headers whose cell must leave a warning on this row
    traits: frozenset[str] = frozenset()
    raw: dict[str, Any] = field(default_factory=dict)  # leaf header → cell as written

    @property
    def hidden(self) -> bool:
        return "hidden_rows" in self.traits


@dataclass
class Truth:
    path: Path
    fmt: str
    seed: int
    world: LedgerWorld
    columns: dict[str, str]  # leaf header → column letter (main sheet)
    people: dict[str, Person] = field(default_factory=dict)
    households: dict[str, list[str]] = field(default_factory=dict)  # household key → ID numbers in row order
    rows: int = 0
    new_buildings: set[tuple[str, str]] = field(default_factory=set)
    new_units: set[tuple[str, str, str]] = field(default_factory=set)
    other_sheet: str = ""
    other_sheet_rows: int = 0

    def with_trait(self, trait: str) -> list[Person]:
        return [p for p in self.people.values() if trait in p.traits]

    def by_status(self, *statuses: str) -> list[Person]:
        return [p for p in self.people.values() if p.status in statuses]

    def active_households(self) -> dict[str, set[str]]:
        """Household key → the IDs that must live there, active people only."""
        out: dict[str, set[str]] = {}
        for key, ids in self.households.items():
            members = {i for i in ids if self.people[i].status == "active"}
            if members:
                out[key] = members
        return out

    def trait_rows(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for p in self.people.values():
            for t in p.traits:
                out.setdefault(t, []).append(p.row)
        return out


# --- building blocks ------------------------------------------------------------------------------------------------


def cn_number(n: int) -> str:
    """1..99 in Chinese numerals: 3 → 三, 12 → 十二, 30 → 三十."""
    if n < 11:
        return CN_DIGITS[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else CN_DIGITS[tens]) + "十" + (CN_DIGITS[ones] if ones else "")


def letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


@dataclass
class Door:
    compound: str
    building: int
    unit: int
    door: str

    @property
    def canonical(self) -> tuple[str, str, str]:
        return f"{self.building}号楼", f"{self.unit}单元", self.door


class Ids:
    """Unique valid ID numbers; never ending in 000 (that is how Excel damage looks)."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.used: set[str] = set()

    def make(self, birth: dt.date, sex: str) -> str:
        while True:
            seq = self.rnd.randrange(1, 999)
            if seq % 100 == 0 or (seq % 2 == 1) != (sex == "M"):
                continue
            number = make_id_number(REGION6, birth, seq)
            if number not in self.used:
                self.used.add(number)
                return number

    def damaged_passing(self, birth: dt.date, sex: str) -> tuple[str, str]:
        """(real number, the 18-digit text Excel leaves: first 15 digits + 000) where the damaged text happens to
        pass the check digit, so only the trailing zeros give it away."""
        day = birth
        while True:
            number = self.make(day, sex)
            damaged = number[:15] + "000"
            if check_digit(damaged[:17]) == "0":
                return number, damaged
            self.used.discard(number)
            day += dt.timedelta(days=1)


def _birth(rnd: random.Random, lo: int, hi: int) -> dt.date:
    start = dt.date(lo, 1, 1)
    end = min(dt.date(hi, 12, 28), BIRTH_LIMIT)
    return start + dt.timedelta(days=rnd.randrange(max(1, (end - start).days)))


def _name(rnd: random.Random, surname: str | None = None) -> str:
    given = rnd.choice(GIVEN) if rnd.random() < 0.35 else rnd.choice(GIVEN) + rnd.choice(GIVEN)
    return (surname or rnd.choice(SURNAMES)) + given


def _phone(rnd: random.Random) -> str:
    return f"1{rnd.choice('3589')}{rnd.randrange(10**9):09d}"


# --- households -----------------------------------------------------------------------------------------------------


@dataclass
class Member:
    relation_word: str
    relation: str
    sex: str
    birth: dt.date
    name: str


def _members(rnd: random.Random, vocab: bool) -> list[Member]:
    """A household: its 户主 first, then spouse, children, in-laws, grandchildren, parents."""
    head_sex = "M" if rnd.random() < 0.7 else "F"
    head_birth = _birth(rnd, 1935, 1995)
    surname = rnd.choice(SURNAMES)
    out = [
        Member(
            "本人" if vocab and rnd.random() < 0.6 else "户主",
            "head",
            head_sex,
            head_birth,
            _name(rnd, surname),
        )
    ]
    if rnd.random() < 0.8:
        sex = "F" if head_sex == "M" else "M"
        word = ("妻" if sex == "F" else "夫") if vocab else "配偶"
        out.append(
            Member(word, "spouse", sex, _birth(rnd, head_birth.year - 3, head_birth.year + 4), _name(rnd))
        )
    for k in range(rnd.choice((0, 1, 1, 2, 2, 3))):
        sex = rnd.choice("MF")
        child_year = head_birth.year + rnd.randrange(22, 36)
        if child_year > BIRTH_LIMIT.year:
            break
        word = (
            (("长子", "次子")[min(k, 1)] if sex == "M" else ("长女", "次女")[min(k, 1)]) if vocab else "子女"
        )
        child = Member(word, "child", sex, _birth(rnd, child_year, child_year), _name(rnd, surname))
        out.append(child)
        if child_year < 1990 and rnd.random() < 0.4:
            in_law_sex = "F" if sex == "M" else "M"
            word = ("儿媳" if in_law_sex == "F" else "女婿") if vocab else "其他"
            out.append(
                Member(word, "other", in_law_sex, _birth(rnd, child_year - 2, child_year + 3), _name(rnd))
            )
            grand_year = child_year + rnd.randrange(22, 34)
            if grand_year <= BIRTH_LIMIT.year and rnd.random() < 0.6:
                g_sex = rnd.choice("MF")
                word = ("孙子" if g_sex == "M" else "孙女") if vocab else "孙子女"
                out.append(Member(word, "grandchild", g_sex, _birth(rnd, grand_year, grand_year), _name(rnd)))
    if head_birth.year > 1960 and rnd.random() < 0.15:
        sex = rnd.choice("MF")
        word = ("父亲" if sex == "M" else "母亲") if vocab else "父母"
        out.append(
            Member(word, "parent", sex, _birth(rnd, head_birth.year - 30, head_birth.year - 22), _name(rnd))
        )
    if rnd.random() < 0.05:
        sex = rnd.choice("MF")
        word = ("弟" if sex == "M" else "妹") if vocab else "兄弟姐妹"
        out.append(
            Member(word, "sibling", sex, _birth(rnd, head_birth.year + 1, head_birth.year + 8), _name(rnd))
        )
    return out


# --- the generator --------------------------------------------------------------------------------------------------


class _Builder:
    """Writes rows into a grid of cells (``cells[row][col]``) and the truth beside them."""

    def __init__(
        self,
        *,
        seed: int,
        rows: int,
        fmt: str,
        world: LedgerWorld,
        traits: frozenset[str],
        omit: frozenset[str],
        path: Path,
    ) -> None:
        self.rnd = random.Random(seed)
        self.ids = Ids(self.rnd)
        self.rows, self.fmt, self.world, self.traits = rows, fmt, world, traits
        self.layout = [(g, h) for g, h in LAYOUT if h not in omit]
        self.col = {h: i for i, (_, h) in enumerate(self.layout)}
        self.truth = Truth(
            path=path,
            fmt=fmt,
            seed=seed,
            world=world,
            columns={h: letter(i) for h, i in self.col.items()},
        )
        self.data: list[list[Any]] = []  # data rows of the main sheet
        self.hidden_rows: set[int] = set()
        self.merges: list[tuple[int, int, int]] = []  # (column index, first row, last row)
        self.doors = self._doors()
        self.household_count = 0
        self.seen: dict[str, int] = {}  # trait → people showing it so far
        self.damaged = 0

    def on(self, trait: str) -> bool:
        return trait in self.traits

    def chance(self, trait: str, p: float) -> bool:
        """Seeded coin for a trait; a trait not seen by a fifth of the rows is forced, so small ledgers have all."""
        if not self.on(trait):
            return False
        wanted = 2 if trait == "excel_damage" else 1  # both forms: the text and the number cell
        overdue = self.seen.get(trait, 0) < wanted and len(self.data) >= self.rows // 5
        return overdue or self.rnd.random() < p

    def _doors(self) -> Iterator[Door]:
        """Doors in ledger order: building 1 of every compound, then building 2 …; each building has two units of
        four floors with two doors (a small ledger reaches 3号楼 after some 70 households)."""
        for b in itertools.count(1):
            for compound in self.world.compounds:
                for u in range(1, 3):
                    for floor in range(1, 5):
                        for d in range(1, 3):
                            yield Door(compound, b, u, f"{floor}0{d}")

    # --- cells ---------------------------------------------------------------------------------------------------

    def build(self) -> Truth:
        previous: Door | None = None
        while len(self.data) < self.rows:
            share = previous is not None and self.chance("shared_door", 0.05)
            door = previous if share and previous else next(self.doors)
            combined = self._household(door, shared=share)
            previous = None if combined else door  # a door written as 1-2-301 is not shared below
        del self.data[self.rows :]
        self._drop_overflow()
        self._places()
        self.truth.rows = len(self.data)
        return self.truth

    def _drop_overflow(self) -> None:
        last = FIRST_DATA_ROW + self.rows - 1
        for number in [n for n, p in self.truth.people.items() if p.sheet == SHEET and p.row > last]:
            person = self.truth.people.pop(number)
            self.truth.households[person.household].remove(number)
            if not self.truth.households[person.household]:
                del self.truth.households[person.household]
        self.merges = [(c, a, min(b, last)) for c, a, b in self.merges if a < last]
        self.hidden_rows = {r for r in self.hidden_rows if r <= last}

    def _places(self) -> None:
        existing_b, existing_u = self.world.existing_buildings, self.world.existing_units
        for p in self.truth.people.values():
            if p.sheet != SHEET or p.status in ("rejected", "not_read"):
                continue
            if (p.compound, p.building) not in existing_b:
                self.truth.new_buildings.add((p.compound, p.building))
            if (p.compound, p.building, p.unit) not in existing_u:
                self.truth.new_units.add((p.compound, p.building, p.unit))

    def _household(self, door: Door, *, shared: bool) -> bool:
        self.household_count += 1
        number = f"{self.household_count:03d}"
        building, unit, door_no = door.canonical
        key = f"{door.compound}|{building}|{unit}|{door_no}|{number}"
        members = _members(self.rnd, self.on("vocab"))
        first_row = FIRST_DATA_ROW + len(self.data)
        style = self._address_style()
        combined = not shared and self.chance("combined_door", 0.04)
        residence = self.rnd.choice(("户籍", "户籍", "常住", "流动")) if self.on("vocab") else None
        moved_in = dt.date(1990, 1, 1) + dt.timedelta(days=self.rnd.randrange(12000))
        self.truth.households[key] = []
        for k, m in enumerate(members):
            row = FIRST_DATA_ROW + len(self.data)
            cells: list[Any] = [None] * len(self.layout)
            person_traits: set[str] = set()
            self._place_cells(cells, door, number, k, style, shared, combined, person_traits)
            person = self._person(cells, m, k, row, door, number, key, residence, moved_in, person_traits)
            self.truth.people[person.id_number] = person
            self.truth.households[key].append(person.id_number)
            self.data.append(cells)
            for t in person.traits:
                self.seen[t] = self.seen.get(t, 0) + 1
        last_row = FIRST_DATA_ROW + len(self.data) - 1
        if style == "merged" and last_row > first_row:
            for h in ("户号", *PLACE_HEADERS, "所属网格"):
                if h in self.col:
                    self.merges.append((self.col[h], first_row, last_row))
        return combined

    def _address_style(self) -> str:
        if self.fmt == "xlsx" and self.chance("merged_address", 0.4):
            return "merged"
        if self.chance("continuation", 0.6):
            return "continued"
        return "repeated"

    def _set(self, cells: list[Any], header: str, value: Any) -> None:
        if header in self.col:
            cells[self.col[header]] = value

    def _place_cells(
        self,
        cells: list[Any],
        door: Door,
        number: str,
        k: int,
        style: str,
        shared: bool,
        combined: bool,
        traits: set[str],
    ) -> None:
        if k == 0 and shared:
            # the second family at a door: the address is "same as above", only its own 户号 tells them apart
            traits.add("shared_door")
            mark = self.rnd.choice(("〃", "同上", "")) if self.on("continuation") else None
            for h in PLACE_HEADERS:
                self._set(
                    cells, h, mark if mark is not None else self._spelled(h, door, traits, combined=False)
                )
            self._set(cells, "户号", number)
            self._set(cells, "所属网格", self.world.grid_label(door.compound))
            if mark is not None:
                traits.add("continuation")
            return
        if k == 0 or style == "repeated":
            for h in PLACE_HEADERS:
                self._set(cells, h, self._spelled(h, door, traits, combined=combined))
            if combined:
                traits.add("combined_door")
            self._set(cells, "户号", number)
            self._set(cells, "所属网格", self.world.grid_label(door.compound))
            return
        if style == "merged":
            traits.add("merged_address")
            return  # cells stay empty below the anchor; the range is merged when the household is complete
        traits.add("continuation")
        for h in (*PLACE_HEADERS, "户号", "所属网格"):
            self._set(cells, h, self.rnd.choice(("〃", "同上", "", "", "〃〃")))

    def _spelled(self, header: str, door: Door, traits: set[str], *, combined: bool) -> Any:
        b, u, d = door.building, door.unit, door.door
        if header == "小区名称":
            return door.compound
        if combined:
            return f"{b}-{u}-{d}" if header == "门牌号" else None
        spell = self.on("building_spellings")
        if header == "楼栋号":
            forms = (f"{b}#", f"{b}#楼", f"{b}栋", f"{cn_number(b)}号楼", f"{b}号楼", str(b))
            value = self.rnd.choice(forms) if spell else f"{b}号楼"
        elif header == "单元":
            value = self.rnd.choice((str(u), f"{u}单元", str(u))) if spell else f"{u}单元"
            if spell and self.fmt == "xlsx" and value == str(u) and self.rnd.random() < 0.5:
                return u  # a number cell
        else:
            value = self.rnd.choice((d, f"{d}室", d)) if spell else d
        if spell and value not in (f"{b}号楼", f"{u}单元", d):
            traits.add("building_spellings")
        return value

    def _person(
        self,
        cells: list[Any],
        m: Member,
        k: int,
        row: int,
        door: Door,
        number: str,
        key: str,
        residence: str | None,
        moved_in: dt.date,
        traits: set[str],
    ) -> Person:
        warnings: set[str] = set()
        status, rejection = "active", ""
        id_number, cell_id = self._id_cell(m, k, traits, warnings)
        if "excel_damage" in traits:
            status, rejection = "rejected", "Excel"
        raw_name, name = self._name_cells(m, k, traits)
        if "deceased_names" in traits and status == "active":
            status = "deceased"
        if k > 0 and status == "active" and self.fmt == "xlsx" and self.chance("hidden_rows", 0.03):
            self.hidden_rows.add(row)
            traits.add("hidden_rows")
            status = "moved_out"
            self._set(cells, "备注", "已迁出")
        building, unit, door_no = door.canonical
        self._set(cells, "序号", row - FIRST_DATA_ROW + 1)
        self._set(cells, "姓名", raw_name)
        self._set(cells, "公民身份号码", cell_id)
        self._set(cells, "与户主关系", m.relation_word)
        self._set(cells, "性别", self._sex_word(m.sex, traits, warnings))
        self._set(cells, "年龄", BIRTH_LIMIT.year - m.birth.year)
        self._set(cells, "出生日期", self._birth_cell(m.birth, traits, warnings))
        ethnicity = self._ethnicity_cell(cells)
        residence_code = self._residence_cell(cells, k, residence, traits)
        political = self._political_cell(cells, m)
        phone = self._phone_cell(cells, k, traits, warnings)
        moved_in_on = self._moved_in_cell(cells, moved_in, m.birth, traits, warnings)
        groups = self._groups_cell(cells, m)
        if "备注" in self.col and cells[self.col["备注"]] is None and self.rnd.random() < 0.05:
            self._set(cells, "备注", self.rnd.choice(("租住", "外出务工", "常年在外地", "房屋出租")))
        raw = {h: cells[i] for h, i in self.col.items()}
        local = (m.relation_word, raw.get("人员类别"), raw.get("政治面貌"), raw.get("民族"), raw.get("性别"))
        if self.on("vocab") and set(local) & _LOCAL_WORDS:
            traits.add("vocab")
        return Person(
            id_number=id_number,
            cell_id=cell_id,
            name=name,
            raw_name=raw_name,
            row=row,
            sheet=SHEET,
            compound=door.compound,
            building=building,
            unit=unit,
            door=door_no,
            household_no=number,
            household=key,
            relation=m.relation,
            residence_type=residence_code,
            political_status=political,
            ethnicity=ethnicity,
            sex=m.sex,
            birth_date=m.birth,
            phone=phone,
            key_groups=groups,
            moved_in_on=moved_in_on,
            status=status,
            rejection=rejection,
            warnings=frozenset(warnings),
            traits=frozenset(traits),
            raw=raw,
        )

    def _id_cell(self, m: Member, k: int, traits: set[str], warnings: set[str]) -> tuple[str, Any]:
        if k > 0 and self.chance("excel_damage", 0.012):
            traits.add("excel_damage")
            number, damaged = self.ids.damaged_passing(m.birth, m.sex)
            self.damaged += 1
            if self.damaged % 2 == 1:
                cell: Any = damaged
            elif self.fmt == "xlsx":
                cell = float(damaged)  # the number cell Excel keeps: 15 significant digits
            else:
                cell = f"{float(damaged):.5E}".replace("E+", "E+")  # what Excel writes to CSV: 3.71702E+17
            return number, cell
        number = self.ids.make(m.birth, m.sex)
        if m.birth.year < 2000 and self.chance("old_ids", 0.02):
            traits.add("old_ids")
            warnings.add("公民身份号码")
            return number, number[:6] + number[8:17]
        if self.chance("id_noise", 0.03):
            traits.add("id_noise")
            return number, self.rnd.choice(("'" + number, number + "\u200b", " " + number + " "))
        if number.endswith("X") and self.rnd.random() < 0.5:
            return number, number[:-1] + "x"
        return number, number

    def _name_cells(self, m: Member, k: int, traits: set[str]) -> tuple[str, str]:
        name = m.name
        if len(name) == 2 and self.chance("name_padding", 0.3):
            traits.add("name_padding")
            return name[0] + self.rnd.choice(("\u3000", " ", "  ")) + name[1], name
        if k > 0 and m.birth.year < 1950 and self.chance("deceased_names", 0.25):
            traits.add("deceased_names")
            return name + self.rnd.choice(("（已故）", "(已故)")), name
        return name, name

    def _sex_word(self, sex: str, traits: set[str], warnings: set[str]) -> str:
        if self.chance("sheet_disagrees", 0.01):  # the ID number is right, the 性别 cell is not
            traits.add("sheet_disagrees")
            warnings.add("性别")
            sex = "F" if sex == "M" else "M"
        if self.on("vocab") and self.rnd.random() < 0.2:
            return "男性" if sex == "M" else "女性"
        return "男" if sex == "M" else "女"

    def _birth_cell(self, birth: dt.date, traits: set[str], warnings: set[str]) -> Any:
        if self.chance("partial_dates", 0.05):
            traits.add("partial_dates")
            return f"{birth.year}年{birth.month}月"
        if "sheet_disagrees" not in traits and self.chance("sheet_disagrees", 0.01):
            traits.add("sheet_disagrees")
            warnings.add("出生日期")
            birth = birth.replace(day=28) if birth.day != 28 else birth.replace(day=27)
        if self.fmt == "xlsx" and self.rnd.random() < 0.5:
            return dt.datetime(birth.year, birth.month, birth.day)
        return self.rnd.choice(
            (birth.isoformat(), f"{birth.year}年{birth.month}月{birth.day}日", f"{birth:%Y.%m.%d}")
        )

    def _ethnicity_cell(self, cells: list[Any]) -> str | None:
        if "民族" not in self.col:
            return None
        word = self.rnd.choice(("汉族", "汉族", "汉族", "汉", "回族", "回", "满族"))
        if not self.on("vocab"):
            word = ETHNICITY[word]
        self._set(cells, "民族", word)
        return ETHNICITY[word]

    def _residence_cell(self, cells: list[Any], k: int, residence: str | None, traits: set[str]) -> str:
        if residence is None:
            self._set(cells, "人员类别", "户籍人口")
            return "registered"
        if k > 0 and self.chance("continuation", 0.3):
            traits.add("continuation")
            self._set(cells, "人员类别", self.rnd.choice(("〃", "同上")))
        else:
            self._set(cells, "人员类别", residence)
        return RESIDENCE_CODES[residence]

    def _political_cell(self, cells: list[Any], m: Member) -> str | None:
        if "政治面貌" not in self.col:
            return None
        age = BIRTH_LIMIT.year - m.birth.year
        code = "masses"
        if age >= 18 and self.rnd.random() < 0.12:
            code = "cpc_member"
        elif 14 <= age <= 28 and self.rnd.random() < 0.4:
            code = "youth_league"
        if self.on("vocab"):
            word = {"cpc_member": "党员", "youth_league": "团员"}.get(code) or self.rnd.choice(("无", "群众"))
        else:
            word = PLAIN_POLITICAL[code]
        self._set(cells, "政治面貌", word)
        return code

    def _phone_cell(self, cells: list[Any], k: int, traits: set[str], warnings: set[str]) -> str | None:
        if "联系电话" not in self.col or (k > 1 and self.rnd.random() < 0.6):
            return None
        phone = _phone(self.rnd)
        if self.chance("unreadable_optional", 0.02):
            traits.add("unreadable_optional")
            warnings.add("联系电话")
            self._set(cells, "联系电话", "电话停机")
            return None
        if self.on("phone_forms"):
            form = self.rnd.random()
            if form < 0.15:
                traits.add("phone_forms")
                self._set(cells, "联系电话", f"{phone[:3]}-{phone[3:7]}-{phone[7:]}")
                return phone
            if form < 0.2:
                traits.add("phone_forms")
                warnings.add("联系电话")
                self._set(cells, "联系电话", phone + self.rnd.choice(("/", "、", " ")) + _phone(self.rnd))
                return phone
            if form < 0.25:
                traits.add("phone_forms")
                self._set(cells, "联系电话", "无")
                return None
        self._set(cells, "联系电话", int(phone) if self.fmt == "xlsx" and self.rnd.random() < 0.5 else phone)
        return phone

    def _moved_in_cell(
        self, cells: list[Any], moved_in: dt.date, birth: dt.date, traits: set[str], warnings: set[str]
    ) -> dt.date | None:
        day = max(moved_in, birth)
        if self.chance("unreadable_optional", 0.01):
            traits.add("unreadable_optional")
            warnings.add("入住时间")
            self._set(cells, "入住时间", f"{day.year}年13月")
            return None
        if self.chance("partial_dates", 0.05):
            traits.add("partial_dates")
            warnings.add("入住时间")
            year = (
                day.year + 1 if day.year == birth.year else day.year
            )  # 1 January must not be before the birth
            self._set(cells, "入住时间", f"{year}年")
            return dt.date(year, 1, 1)
        if self.fmt == "xlsx" and self.rnd.random() < 0.4:
            self._set(cells, "入住时间", dt.datetime(day.year, day.month, day.day))
        else:
            self._set(
                cells, "入住时间", self.rnd.choice((day.isoformat(), f"{day.year}年{day.month}月{day.day}日"))
            )
        return day

    def _groups_cell(self, cells: list[Any], m: Member) -> frozenset[str]:
        age = BIRTH_LIMIT.year - m.birth.year
        words: list[str] = []
        if self.rnd.random() < 0.06:
            words.append("低保")
        if self.rnd.random() < 0.04:
            words.append("残疾")
        if age >= 65 and self.rnd.random() < 0.15:
            words.append(self.rnd.choice(("独居", "空巢", "孤寡")))
        codes = frozenset(KEY_GROUP_CODES[w] for w in words)
        if not self.on("vocab"):
            words = [PLAIN_KEY_GROUP[KEY_GROUP_CODES[w]] for w in words]
        self._set(cells, "重点人群", "、".join(words) or None)
        return codes

    # --- the second sheet ------------------------------------------------------------------------------------------

    def other_sheet(self) -> list[list[Any]]:
        if not (self.fmt == "xlsx" and self.on("second_sheet")):
            return []
        out: list[list[Any]] = [["序号", "姓名", "性别", "公民身份号码", "现住址", "联系电话", "登记日期"]]
        count = max(5, self.rows // 40)
        compound = self.world.compounds[0]
        for i in range(count):
            sex = self.rnd.choice("MF")
            birth = _birth(self.rnd, 1970, 2000)
            number = self.ids.make(birth, sex)
            name = _name(self.rnd)
            address = f"{compound}{1 + i % 4}号楼{1 + i % 3}单元{1 + i % 6}0{1 + i % 2}室"
            out.append(
                [i + 1, name, "男" if sex == "M" else "女", number, address, _phone(self.rnd), "2023-05-01"]
            )
            self.truth.people[number] = Person(
                id_number=number,
                cell_id=number,
                name=name,
                raw_name=name,
                row=i + 2,
                sheet=OTHER_SHEET,
                compound=compound,
                building="",
                unit="",
                door="",
                household_no="",
                household="",
                relation="",
                residence_type="floating",
                political_status=None,
                ethnicity=None,
                sex=sex,
                birth_date=birth,
                phone=None,
                key_groups=frozenset(),
                moved_in_on=None,
                status="not_read",
                traits=frozenset({"second_sheet"}),
            )
        self.truth.other_sheet = OTHER_SHEET
        self.truth.other_sheet_rows = count
        return out


# --- writing --------------------------------------------------------------------------------------------------------


def _title_rows(world: LedgerWorld, width: int) -> list[list[Any]]:
    title = [f"{world.community}居民信息登记表"] + [None] * (width - 1)
    filled = [f"填报单位：{world.community}居民委员会"] + [None] * (width - 1)
    filled[max(1, width - 4)] = "填报日期：2024年3月15日"
    return [title, filled]


def _header_rows(layout: Sequence[tuple[str, str]]) -> tuple[list[Any], list[Any]]:
    top: list[Any] = []
    leaf: list[Any] = []
    previous_group = ""
    for group, header in layout:
        if group:
            top.append(group if group != previous_group else None)
            leaf.append(header)
        else:
            top.append(header)
            leaf.append(None)
        previous_group = group
    return top, leaf


def _write_xlsx(path: Path, b: _Builder, other: list[list[Any]]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    width = len(b.layout)
    for row in _title_rows(b.world, width):
        ws.append(row)
    top, leaf = _header_rows(b.layout)
    ws.append(top)
    ws.append(leaf)
    for row in b.data:
        ws.append(row)
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=max(1, width - 5))
    ws["A1"].font = Font(size=16, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    _merge_headers(ws, b.layout)
    for col, first, last in b.merges:
        if last > first:
            ws.merge_cells(start_row=first, start_column=col + 1, end_row=last, end_column=col + 1)
    for r in sorted(b.hidden_rows):
        ws.row_dimensions[r].hidden = True
    if "年龄" in b.col:
        ws.column_dimensions[letter(b.col["年龄"])].hidden = True
    ws.freeze_panes = f"A{FIRST_DATA_ROW}"
    if other:
        ws2 = wb.create_sheet(OTHER_SHEET)
        for row in other:
            ws2.append(row)
    wb.save(path)


def _merge_headers(ws: Any, layout: Sequence[tuple[str, str]]) -> None:
    i = 0
    while i < len(layout):
        group = layout[i][0]
        if not group:
            ws.merge_cells(start_row=HEADER_TOP, start_column=i + 1, end_row=HEADER_LEAF, end_column=i + 1)
            i += 1
            continue
        j = i
        while j + 1 < len(layout) and layout[j + 1][0] == group:
            j += 1
        if j > i:
            ws.merge_cells(start_row=HEADER_TOP, start_column=i + 1, end_row=HEADER_TOP, end_column=j + 1)
        i = j + 1


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    return "" if value is None else value


def _write_csv(path: Path, b: _Builder) -> None:
    top, leaf = _header_rows(b.layout)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        for row in (*_title_rows(b.world, len(b.layout)), top, leaf, *b.data):
            writer.writerow([_csv_cell(v) for v in row])


def make_ledger(
    path: Path,
    *,
    seed: int,
    rows: int = 2000,
    fmt: str = "xlsx",
    world: LedgerWorld,
    traits: Iterable[str] | None = None,
    omit: Iterable[str] = (),
) -> Truth:
    """Write a realistic ledger of ``rows`` data rows to ``path`` and return what its import must store.

    ``traits``: the traits to put in (None = all; xlsx-only traits are dropped for csv). ``omit``: leaf headers left
    out of the file (e.g. {"联系电话", "政治面貌", "民族"}); the required ones cannot be left out."""
    if fmt not in ("xlsx", "csv"):
        raise ValueError(f"fmt must be xlsx or csv, not {fmt!r}")
    chosen = TRAITS if traits is None else frozenset(traits)
    unknown = chosen - TRAITS
    if unknown:
        raise ValueError(f"unknown traits: {sorted(unknown)}")
    if fmt == "csv":
        chosen -= XLSX_ONLY
    omitted = frozenset(omit)
    if omitted & REQUIRED_HEADERS:
        raise ValueError(f"cannot omit required columns: {sorted(omitted & REQUIRED_HEADERS)}")
    builder = _Builder(seed=seed, rows=rows, fmt=fmt, world=world, traits=chosen, omit=omitted, path=path)
    truth = builder.build()
    other = builder.other_sheet()
    if fmt == "xlsx":
        _write_xlsx(path, builder, other)
    else:
        _write_csv(path, builder)
    return truth
