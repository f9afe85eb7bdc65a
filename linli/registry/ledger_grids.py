"""Which grid (compound) a ledger row belongs to, by platform code or by the names a community's ledger uses.

Real ledgers do not know platform grid codes: they name the compound (小区名称), the grid (所属网格) and sometimes the
community. Names are resolved only among the grids the importing user may write (their scope); an unknown or
ambiguous name is a row error that lists what the user could have meant.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from linli.core.scope import Scope
from linli.registry.ledger_rows import PlaceSay

_SUFFIXES = re.compile(r"(小区|社区|网格|居委会|村委会|院落|片区)$")


@dataclass(frozen=True)
class GridInfo:
    id: int
    code: str
    name: str
    region_code: int
    community: str = ""


def name_key(name: str) -> str:
    """A name compared loosely: NFKC, no spaces, without a trailing 小区/社区/网格… word."""
    value = "".join(unicodedata.normalize("NFKC", name or "").split())
    return _SUFFIXES.sub("", value) or value


class GridResolver:
    """Resolves ``PlaceSay`` to a grid; loads the user's grids once, on the first row that names one."""

    def __init__(self, scope: Scope, *, default_grid: GridInfo | None = None) -> None:
        self.scope = scope
        self.default_grid = default_grid
        self._by_name: dict[str, list[GridInfo]] | None = None
        self._all: list[GridInfo] = []
        self._memo: dict[tuple[str, str, str], tuple[GridInfo | None, str]] = {}

    def load(self) -> None:
        if self._by_name is not None:
            return
        from linli.registry.selectors import grids_in_scope

        self._by_name = {}
        rows = grids_in_scope(scope=self.scope).values_list(
            "id", "code", "name", "region_code", "community__name"
        )
        for gid, code, name, region_code, community in rows:
            info = GridInfo(gid, code, name, region_code, community or "")
            self._all.append(info)
            self._by_name.setdefault(name_key(name), []).append(info)

    def only_grid(self) -> GridInfo | None:
        """The user's one grid when their scope holds exactly one (a file without any place-name column)."""
        self.load()
        return self._all[0] if len(self._all) == 1 else None

    def resolve(self, place: PlaceSay) -> tuple[GridInfo | None, str]:
        """(grid, "") or (None, the reason for the user)."""
        key = (place.community, place.compound, place.grid_name)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._resolve(*key)
        return hit

    def _resolve(self, community: str, compound: str, grid_name: str) -> tuple[GridInfo | None, str]:
        if not (compound or grid_name):
            if self.default_grid is not None:
                return self.default_grid, ""
            only = self.only_grid()
            if only is not None:
                return only, ""
            return None, "未填写小区名称或所属网格：请补充，或在导入时选择网格"
        self.load()
        assert self._by_name is not None
        reasons: list[str] = []
        for name in (compound, grid_name):
            if not name:
                continue
            found = self._candidates(name, community)
            if len(found) == 1:
                return found[0], ""
            if len(found) > 1:
                where = "、".join(sorted({g.community or g.code for g in found}))
                return None, f"“{name}”在您的管辖范围内有多个（{where}）：请增加“社区”列或在导入时选择网格"
            reasons.append(name)
        if self.default_grid is not None and not compound:
            return self.default_grid, ""  # a 所属网格 like “第3网格” that names no compound: the chosen grid
        known = "、".join(sorted({g.name for g in self._all})[:10])
        hint = f"您范围内的小区/网格有：{known}" if known else "您的管辖范围内还没有网格，请先建立"
        return None, f"在您的管辖范围内找不到小区/网格“{'”或“'.join(reasons)}”：{hint}"

    def _candidates(self, name: str, community: str) -> list[GridInfo]:
        assert self._by_name is not None
        found = list(self._by_name.get(name_key(name), []))
        if not found:
            found = [g for g in self._all if g.code == name]
        if community and len(found) > 1:
            ckey = name_key(community)
            found = [g for g in found if name_key(g.community) == ckey] or found
        return found
