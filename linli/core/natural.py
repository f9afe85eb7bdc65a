"""Natural order for place names: 9号楼 before 10号楼, 301 before 3001, 2单元 before 10单元.

Names are compared chunk by chunk, digit runs by their value (full-width digits too) and text as text, so a
grid's buildings, a building's units and doors, the party tree and patrol records read in the order people count.
Every list that shows buildings, units or rooms sorts through :func:`natural_key` (the lists are bounded — one
grid's buildings, one building's rooms — and sorted after the query; no list pages through them in SQL)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

_CHUNKS = re.compile(r"(\d+)")

NaturalKey = tuple[tuple[int, int, str], ...]


def natural_key(value: object) -> NaturalKey:
    """A sort key: ``natural_key("10号楼") > natural_key("9号楼")``; equal numbers ("01", "1") fall back to the
    text so the order is total and stable."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value)).strip()
    parts: list[tuple[int, int, str]] = []
    for chunk in _CHUNKS.split(text):
        if not chunk:
            continue
        if chunk.isdigit():
            parts.append((0, int(chunk), ""))
        else:
            parts.append((1, 0, chunk))
    parts.append((-1, 0, text))  # the end: "1" before "1-2"; then "01" and "1" by their text
    return tuple(parts)


def natural_sorted(items: Iterable[T], *keys: Callable[[T], object]) -> list[T]:
    """``items`` in natural order of ``keys[0](item)``, then ``keys[1](item)`` …; without keys, of the item's
    text. ``natural_sorted(households, unit_name, door)`` orders a building's rooms unit by unit."""
    fns = keys or (str,)
    return sorted(items, key=lambda item: tuple(natural_key(fn(item)) for fn in fns))


def by_name(item: object) -> object:
    """Key for :func:`natural_sorted` over objects with a ``name`` (buildings, units, party organisations)."""
    return getattr(item, "name", "")


def _unit_name(household: object) -> object:
    unit = getattr(household, "unit", None)
    return getattr(unit, "name", "") if unit is not None else ""


def _door(household: object) -> object:
    return getattr(household, "door_number", "")


def natural_rooms(households: Iterable[T]) -> list[T]:
    """A building's households unit by unit, then by door (select the unit with the query)."""
    return natural_sorted(households, _unit_name, _door)
