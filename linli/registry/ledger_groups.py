"""Key groups (重点人群) as a ledger names them: the platform's names and codes, plus local wording (低保 → 低保户)."""

from __future__ import annotations

from dataclasses import dataclass

from linli.registry import ledger_values as lv
from linli.registry.models import KeyGroup


@dataclass
class KeyGroups:
    by_label: dict[str, int]  # name or code → id (active, not age-derived)
    by_code: dict[str, int]
    derived: set[str]  # labels of age-derived groups: accepted, not stored
    names: dict[int, str]  # every group's id → name, for history

    @classmethod
    def load(cls) -> KeyGroups:
        by_label: dict[str, int] = {}
        by_code: dict[str, int] = {}
        derived: set[str] = set()
        names: dict[int, str] = {}
        for g in KeyGroup.objects.all():
            names[g.pk] = g.name
            if not g.active:
                continue
            if g.min_age:
                derived.update({g.name, g.code})
            else:
                by_label[g.name] = by_label[g.code] = by_code[g.code] = g.pk
        return cls(by_label, by_code, derived, names)

    def resolve(self, labels: list[str]) -> tuple[list[int], list[str], list[tuple[str, str]]]:
        """(ids, unknown labels, translations made as (label, group name))."""
        ids: list[int] = []
        unknown: list[str] = []
        translated: list[tuple[str, str]] = []
        for label in labels:
            gid = self.by_label.get(label)
            if gid is None:
                code = lv.key_group_code(label)
                gid = self.by_code.get(code) if code else None
                if gid is not None:
                    translated.append((label, self.names[gid]))
            if gid is not None:
                if gid not in ids:
                    ids.append(gid)
            elif label not in self.derived and lv.key_group_code(label) not in self.derived:
                unknown.append(label)
        return ids, unknown, translated

    def tick_ids(self, ticks: dict[str, bool]) -> dict[int, bool]:
        """Tick columns (group code → ticked) as group ids; codes of inactive or unknown groups are dropped."""
        return {self.by_code[code]: ticked for code, ticked in ticks.items() if code in self.by_code}
