"""Duplicate detection: which open appeals nearby in place and time say much the same as this one.

Candidates are open, not merged appeals reported within ``LINLI_DUPLICATE_WINDOW_DAYS`` of the case (either side) in
the same building, the same grid, or within ``LINLI_DUPLICATE_RADIUS_M`` metres (both with coordinates: a bounding
box in SQL, then the haversine distance in Python). One query fetches at most ``CANDIDATES`` of them, newest first.

Text similarity is the cosine of character 1–2-gram counts over title + description (punctuation dropped; no
training). The score raises it by the place (same building > same grid > within the radius) and a shared category:
``1 - (1 - similarity) × (1 - boost)``, so a boost never lifts unrelated text far and never passes 1. Matches
below ``LINLI_DUPLICATE_MIN_SCORE`` are left out.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.cases.choices import OPEN_INDEX_STATUSES
from linli.cases.models import Case
from linli.triage.model import join_text

CANDIDATES = 500
EARTH_RADIUS_M = 6_371_000.0
METRES_PER_DEGREE = 111_320.0

BUILDING, GRID, RADIUS = "building", "grid", "radius"
PLACE_BOOST = {BUILDING: 0.2, GRID: 0.1, RADIUS: 0.05}
CATEGORY_BOOST = 0.1
TERMS_SHOWN = 5

_NOT_TEXT = re.compile(r"[\W_]+")
# The columns the score and the console need (and the scope check: region, grid, building, unit, department).
_FIELDS = (
    "id",
    "number",
    "title",
    "description",
    "status",
    "category_id",
    "grid_id",
    "region_code",
    "building_id",
    "unit_id",
    "handler_department_id",
    "lat",
    "lng",
    "created_at",
)


def window_days() -> int:
    return int(getattr(settings, "LINLI_DUPLICATE_WINDOW_DAYS", 14))


def radius_m() -> float:
    return float(getattr(settings, "LINLI_DUPLICATE_RADIUS_M", 150.0))


def min_score() -> float:
    return float(getattr(settings, "LINLI_DUPLICATE_MIN_SCORE", 0.5))


@dataclass(frozen=True)
class Match:
    """Another open case that may report the same problem, with the score (0–1) and why."""

    case: Case
    score: float
    similarity: float
    place: str  # BUILDING, GRID or RADIUS: the closest way the two are related in place
    distance_m: float | None = None
    same_category: bool = False
    terms: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(self.score * 100)

    @property
    def reasons(self) -> list[str]:
        out = []
        if self.place == BUILDING:
            out.append(_("同一楼栋"))
        elif self.place == GRID:
            out.append(_("同一网格"))
        if self.distance_m is not None and self.place != BUILDING:
            out.append(_("相距 %(m)d 米") % {"m": round(self.distance_m)})
        if self.same_category:
            out.append(_("同一分类"))
        if self.terms:
            out.append(_("共同词：%(t)s") % {"t": "、".join(self.terms)})
        return out

    @property
    def why(self) -> str:
        return "；".join(self.reasons)


# ---------------------------------------------------------------------------------------------- text


def grams(text: str) -> Counter[str]:
    """Character unigram and bigram counts; punctuation and spaces split the text and are not counted."""
    counts: Counter[str] = Counter()
    for chunk in _NOT_TEXT.sub(" ", text.lower()).split():
        counts.update(chunk)
        counts.update(chunk[i : i + 2] for i in range(len(chunk) - 1))
    return counts


def _norm(counts: Counter[str]) -> float:
    return math.sqrt(sum(v * v for v in counts.values()))


def cosine(
    a: Counter[str], b: Counter[str], norm_a: float | None = None, norm_b: float | None = None
) -> float:
    na = _norm(a) if norm_a is None else norm_a
    nb = _norm(b) if norm_b is None else norm_b
    if not na or not nb:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    dot = sum(v * large.get(k, 0) for k, v in small.items())
    return min(1.0, dot / (na * nb))


def similarity(text_a: str, text_b: str) -> float:
    return cosine(grams(text_a), grams(text_b))


def shared_terms(a: Counter[str], b: Counter[str], limit: int = TERMS_SHOWN) -> list[str]:
    """The character bigrams both texts use, most used (in the rarer of the two) first."""
    common = [(min(a[k], b[k]), k) for k in a if len(k) == 2 and k in b]
    common.sort(key=lambda x: (-x[0], x[1]))
    return [k for _n, k in common[:limit]]


def _text(case: Case) -> str:
    return join_text(case.title, case.description)


# ---------------------------------------------------------------------------------------------- place


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _has_point(case: Case) -> bool:
    return case.lat is not None and case.lng is not None


def _box(lat: float, lng: float, metres: float) -> Q:
    dlat = metres / METRES_PER_DEGREE
    dlng = metres / (METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    return Q(lat__range=(lat - dlat, lat + dlat), lng__range=(lng - dlng, lng + dlng))


def candidates(case: Case, *, limit: int = CANDIDATES) -> list[Case]:
    """Open, not merged cases in the case's window and place, newest first (at most two queries).

    The same grid (which holds the same building) is read through the partial index of open cases by grid and
    report time; cases within the radius are looked for in the same community (its ``(region_code, id)`` index)
    inside a bounding box, so a search never walks the whole city's window."""
    window = dt.timedelta(days=window_days())
    at = case.created_at or timezone.now()  # an unsaved case is compared as if reported now
    base = (
        Case.objects.filter(
            status__in=OPEN_INDEX_STATUSES,
            merged_into__isnull=True,
            created_at__gte=at - window,
            created_at__lte=at + window,
        )
        .exclude(pk=case.pk)
        .only(*_FIELDS)
        .order_by("-id")
    )
    found = list(base.filter(grid_id=case.grid_id)[:limit])
    if _has_point(case) and radius_m() > 0 and len(found) < limit:
        box = _box(float(case.lat), float(case.lng), radius_m())  # type: ignore[arg-type]
        found += list(
            base.filter(box, region_code=case.region_code).exclude(grid_id=case.grid_id)[: limit - len(found)]
        )
    found.sort(key=lambda c: -c.pk)
    return found


def _place(case: Case, other: Case) -> tuple[str | None, float | None]:
    distance = None
    if _has_point(case) and _has_point(other):
        distance = haversine_m(case.lat, case.lng, other.lat, other.lng)  # type: ignore[arg-type]
    if case.building_id is not None and other.building_id == case.building_id:
        return BUILDING, distance
    if other.grid_id == case.grid_id:
        return GRID, distance
    if distance is not None and distance <= radius_m():
        return RADIUS, distance
    return None, distance


def score_of(sim: float, place: str, same_category: bool) -> float:
    boost = PLACE_BOOST[place] + (CATEGORY_BOOST if same_category else 0.0)
    return max(0.0, min(1.0, 1.0 - (1.0 - sim) * (1.0 - boost)))


def possible_duplicates(case: Case, *, limit: int = 5, threshold: float | None = None) -> list[Match]:
    """The open cases most likely to report the same problem as ``case``, best first (at most ``limit``)."""
    if limit <= 0:
        return []
    cut = min_score() if threshold is None else threshold
    mine = grams(_text(case))
    my_norm = _norm(mine)
    found: list[Match] = []
    for other in candidates(case):
        place, distance = _place(case, other)
        if place is None:
            continue
        theirs = grams(_text(other))
        sim = cosine(mine, theirs, my_norm)
        same_category = other.category_id == case.category_id
        score = score_of(sim, place, same_category)
        if score < cut:
            continue
        found.append(
            Match(
                case=other,
                score=round(score, 4),
                similarity=round(sim, 4),
                place=place,
                distance_m=distance,
                same_category=same_category,
                terms=shared_terms(mine, theirs),
            )
        )
    found.sort(key=lambda m: (-m.score, -m.case.pk))
    return found[:limit]
