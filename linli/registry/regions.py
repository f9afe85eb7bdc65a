"""Loading the official statistical division codes (国家统计局 统计用区划代码, 2023 edition).

Reads the public CSV layout of ``china-division`` (``areas.csv`` / ``streets.csv`` / ``villages.csv``: a ``code``,
a ``name`` and the parent's code in ``cityCode`` / ``areaCode`` / ``streetCode``). Provinces and cities named by
those columns are created from ``provinces.csv`` / ``cities.csv`` when given, else with the code as a placeholder
name. Re-loading updates names and never duplicates.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from linli.registry.choices import RegionLevel
from linli.registry.models import Region

PACKAGED = Path(__file__).parent / "data"
HEZE_FILES = [PACKAGED / "heze_areas.csv", PACKAGED / "heze_streets.csv", PACKAGED / "heze_villages.csv"]
PROVINCE_NAMES = {"37": "山东省"}
CITY_NAMES = {"3717": "菏泽市"}
_LEVEL_BY_LEN = {
    2: RegionLevel.PROVINCE,
    4: RegionLevel.CITY,
    6: RegionLevel.COUNTY,
    9: RegionLevel.STREET,
    12: RegionLevel.COMMUNITY,
}


class RegionFileError(ValueError):
    pass


@dataclass
class RegionLoadResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def _rows(path: Path) -> Iterable[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "code" not in reader.fieldnames or "name" not in reader.fieldnames:
            raise RegionFileError(f"{path.name}: 缺少 code / name 列，不是区划代码文件")
        yield from reader


def _parent_code(row: dict[str, str], code: str) -> str | None:
    for key in ("streetCode", "areaCode", "cityCode", "provinceCode"):
        if row.get(key):
            return row[key]
    return {12: code[:9], 9: code[:6], 6: code[:4], 4: code[:2]}.get(len(code))


def load_regions(paths: Iterable[Path], *, names: dict[str, str] | None = None) -> RegionLoadResult:
    """Load the files (any order; parents are resolved after all rows are read) in one transaction."""
    entries: dict[str, tuple[str, str | None]] = {}
    for path in paths:
        for row in _rows(Path(path)):
            code = row["code"].strip()
            if len(code) not in _LEVEL_BY_LEN or not code.isdigit():
                raise RegionFileError(f"{Path(path).name}: 区划代码 {code!r} 不是 2/4/6/9/12 位数字")
            entries[code] = (row["name"].strip(), _parent_code(row, code))
    # Ancestors named only by parent columns (the province, the city) get created too.
    known = {**PROVINCE_NAMES, **CITY_NAMES, **(names or {})}
    for code, (_, parent) in list(entries.items()):
        while parent and parent not in entries:
            entries[parent] = (
                known.get(parent, parent),
                {4: parent[:2], 6: parent[:4], 9: parent[:6]}.get(len(parent)),
            )
            parent = entries[parent][1]
        _ = code
    result = RegionLoadResult()
    with transaction.atomic():
        existing = {r.code: r for r in Region.objects.filter(code__in=list(entries))}
        ids: dict[str, int] = {c: r.pk for c, r in existing.items()}
        for code in sorted(entries, key=lambda c: (len(c), c)):
            name, parent = entries[code]
            parent_id = ids.get(parent) if parent else None
            region = existing.get(code)
            if region is None:
                region = Region.objects.create(
                    code=code, name=name, level=_LEVEL_BY_LEN[len(code)], parent_id=parent_id
                )
                result.created += 1
            elif region.name != name or region.parent_id != parent_id:
                Region.objects.filter(pk=region.pk).update(name=name, parent_id=parent_id)
                result.updated += 1
            else:
                result.unchanged += 1
            ids[code] = region.pk
    return result
