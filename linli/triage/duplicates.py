"""Duplicate detection: which open appeals nearby in place and time say much the same as this one.

Candidates are open, not merged appeals reported within ``LINLI_DUPLICATE_WINDOW_DAYS`` of the case (either side) in
the same building, the same grid, or within ``LINLI_DUPLICATE_RADIUS_M`` metres (both with coordinates: a bounding
box in SQL, then the haversine distance in Python). At most ``CANDIDATES`` of them are read: the case's grid first
(its building's cases ahead of the rest, then newest first), then the radius in its community.

Text similarity is the cosine of character 1–2-gram counts over the title and the first ``TEXT_CHARS`` characters
of the description (punctuation dropped; no training). The score raises it by the place (same building > same grid
> within the radius) and a shared category: ``1 - (1 - similarity) × (1 - boost)``, so a boost never lifts
unrelated text far and never passes 1. Matches below ``LINLI_DUPLICATE_MIN_SCORE`` are left out.

Speed (``LINLI_BENCH_PARTS=duplicates linli bench triage``: 100,000 open appeals with real residents' texts,
~440 candidates per check, two loaded cores): comparing whole texts one candidate at a time in Python
(``grams``/``cosine``) took a p95 of 238 ms (p50 113 ms), nearly all of it counting grams. Now the candidates are
read as plain rows holding only what the score needs (the description cut to ``TEXT_CHARS`` in SQL; ``Case``
instances are built for the matches only, their description deferred), and ``similarities`` scores them at once:
every gram of every candidate an integer key in one numpy array (a code point, or a pair of them above every code
point; no hashing, no fitting), the dot products by a lookup in the case's own sorted keys, and exact norms (one
sort) only for the candidates whose bound (a text's norm is at least the square root of its gram count) can still
reach the score's threshold: the same cosine as ``similarity``, to the last bit. p95 78 ms, p50 42 ms in that run;
what is left is mostly the two queries (the grid's through the partial index ``case_open_grid_created``, ~2 ms;
the radius's through ``case_open_region`` and a bitmap of the window, ~7–11 ms, as no index holds the points).

Why the head of the description only: what residents write first names the problem (the title and its first
sentences); long texts add history and pleas, and the unigram counts of any two long Chinese texts look alike. On
400 random pairs of different messages of the data set, 41 reached the similarity a same-building, same-category
match needs (0.286) with whole texts, 3 with the head; of 100 real repeated reports (same title, another body)
97 are still found (100 with whole texts) and far fewer unrelated appeals are offered.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Case as CaseWhen
from django.db.models import Q, When
from django.db.models.functions import Left
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.cases.choices import OPEN_INDEX_STATUSES
from linli.cases.models import Case
from linli.triage import words
from linli.triage.model import join_text

CANDIDATES = 500
TEXT_CHARS = 160  # the description's first characters compared (with the whole title)
EARTH_RADIUS_M = 6_371_000.0
METRES_PER_DEGREE = 111_320.0

BUILDING, GRID, RADIUS = "building", "grid", "radius"
PLACE_BOOST = {BUILDING: 0.2, GRID: 0.1, RADIUS: 0.05}
CATEGORY_BOOST = 0.1
TERMS_SHOWN = 5

_NOT_TEXT = re.compile(r"[\W_]+")
# The columns the score and the console need (and the scope check: region, grid, building, unit, department), in
# the model's field order (``Case.from_db`` builds the matches from them; the description stays deferred).
_NEEDED = {
    "id",
    "number",
    "title",
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
}
_FIELDS = tuple(f.attname for f in Case._meta.concrete_fields if f.attname in _NEEDED)
_HEAD = "head"  # the cut description of a candidate row

_BMP = 0x10000
_PAIR_SHIFT = (
    21  # every code point fits in 21 bits: a bigram's key (first + 1) << 21 | second lies above them all
)
_DOC_SHIFT = 43  # bigram keys fit in 43 bits: (text index) << 43 | key keys a gram within one text


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


def shared_terms(text_a: str, text_b: str, limit: int = TERMS_SHOWN) -> list[str]:
    """The words (``linli.triage.words``: dictionary words, never a fragment of two) both texts use, most used (in
    the rarer of the two) first, then longer first."""
    a, b = words.word_counts(text_a), words.word_counts(text_b)
    common = [(min(a[k], b[k]), k) for k in a if k in b]
    common.sort(key=lambda x: (-x[0], -len(x[1]), x[1]))
    return [k for _n, k in common[:limit]]


@functools.cache
def _letter_table() -> np.ndarray:
    """Whether each code point of the Basic Multilingual Plane is a letter or a digit: what ``grams`` counts (the
    others, ``[\\W_]``, split the text)."""
    return np.array([chr(c).isalnum() for c in range(_BMP)], dtype=bool)


def _letters(codes: np.ndarray) -> np.ndarray:
    letter = _letter_table()[np.minimum(codes, _BMP - 1)]
    beyond = codes >= _BMP
    if beyond.any():
        for c in np.unique(codes[beyond]).tolist():
            letter[codes == c] = chr(c).isalnum()
    return letter


def _keys(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(text index, gram key) of every unigram and bigram ``grams`` counts in each of ``texts`` (a unigram's key
    is its code point, a bigram's is above all of those). The texts are joined by a space, which ``grams`` never
    counts nor pairs across."""
    lowered = [t.lower() for t in texts]
    joined = " ".join(lowered).encode("utf-32-le", "surrogatepass")
    codes = np.frombuffer(joined, dtype=np.uint32).astype(np.int64)
    doc = np.repeat(np.arange(len(lowered), dtype=np.int64), [len(t) + 1 for t in lowered])[: len(codes)]
    letter = _letters(codes)
    pair = letter[:-1] & letter[1:]
    keys = np.concatenate([codes[letter], ((codes[:-1][pair] + 1) << _PAIR_SHIFT) | codes[1:][pair]])
    return np.concatenate([doc[letter], doc[:-1][pair]]), keys


def similarities(text: str, others: Sequence[str], floor: float | np.ndarray | None = None) -> np.ndarray:
    """``similarity(text, other)`` for each of ``others``, all at once (the same cosine of the same counts).

    With ``floor`` (one for all or one per text), a text whose cosine cannot reach its floor gets a value below it
    instead (an upper bound of its cosine): a text's norm is at least the square root of its number of grams, so
    the dot product alone rules most texts out, and only the others' counts are sorted out for their norms."""
    n = len(others)
    out = np.zeros(n)
    if not n:
        return out
    mine, counts = np.unique(_keys([text])[1], return_counts=True)
    if not len(mine):
        return out
    my_norm = math.sqrt(float(np.dot(counts, counts)))
    docs, keys = _keys(others)
    at = np.searchsorted(mine, keys).clip(max=len(mine) - 1)
    hit = mine[at] == keys
    dots = np.bincount(docs[hit], weights=counts[at[hit]].astype(np.float64), minlength=n)
    exact = dots > 0
    if floor is not None:
        lengths = np.bincount(docs, minlength=n).astype(np.float64)
        np.divide(dots, my_norm * np.sqrt(lengths), out=out, where=exact)
        exact &= out >= floor
    if exact.any():
        keep = exact[docs]
        both, per = np.unique((docs[keep] << _DOC_SHIFT) | keys[keep], return_counts=True)
        squares = per.astype(np.float64) ** 2
        norms = np.sqrt(np.bincount(both >> _DOC_SHIFT, weights=squares, minlength=n))
        out[exact] = dots[exact] / (my_norm * norms[exact])
    return np.minimum(out, 1.0)


def _text(title: str, description: str) -> str:
    return join_text(title, description[:TEXT_CHARS])


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


def candidates(case: Case, *, limit: int = CANDIDATES) -> list[Any]:
    """Open, not merged cases in the case's window and place (at most two queries), as rows: the columns of
    ``_FIELDS`` and ``head`` (the description's first ``TEXT_CHARS`` characters).

    The same grid (which holds the same building) is read through the partial index of open cases by grid and
    report time, the case's building first, then newest first; cases within the radius are looked for in the same
    community (its open cases' ``(region_code, …)`` index) inside a bounding box, so a search never walks the
    whole city's window."""
    window = dt.timedelta(days=window_days())
    at = case.created_at or timezone.now()  # an unsaved case is compared as if reported now
    base = Case.objects.filter(
        status__in=OPEN_INDEX_STATUSES,
        merged_into__isnull=True,
        created_at__gte=at - window,
        created_at__lte=at + window,
    )
    if case.pk is not None:
        base = base.exclude(pk=case.pk)
    base = base.annotate(**{_HEAD: Left("description", TEXT_CHARS)})
    order: list[Any] = ["-id"]
    if case.building_id is not None:
        order.insert(0, CaseWhen(When(building_id=case.building_id, then=0), default=1))
    found = list(
        base.filter(grid_id=case.grid_id).order_by(*order).values_list(*_FIELDS, _HEAD, named=True)[:limit]
    )
    if _has_point(case) and radius_m() > 0 and len(found) < limit:
        box = _box(float(case.lat), float(case.lng), radius_m())  # type: ignore[arg-type]
        found += list(
            base.filter(box, region_code=case.region_code)
            .exclude(grid_id=case.grid_id)
            .order_by("-id")
            .values_list(*_FIELDS, _HEAD, named=True)[: limit - len(found)]
        )
    return found


def _instance(row: Any) -> Case:
    """The ``Case`` of a candidate row, as the database would load it with the description deferred."""
    return Case.from_db(Case.objects.db, _FIELDS, row[: len(_FIELDS)])


def _place(case: Case, other: Any) -> tuple[str | None, float | None]:
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


def _least_similarity(cut: float, place: str, same_category: bool) -> float:
    """The similarity below which ``score_of`` stays under ``cut`` (a hair lower, for rounding)."""
    boost = PLACE_BOOST[place] + (CATEGORY_BOOST if same_category else 0.0)
    return 1.0 - (1.0 - cut) / (1.0 - boost) - 1e-9


def possible_duplicates(case: Case, *, limit: int = 5, threshold: float | None = None) -> list[Match]:
    """The open cases most likely to report the same problem as ``case``, best first (at most ``limit``)."""
    if limit <= 0:
        return []
    cut = min_score() if threshold is None else threshold
    rows, places = [], []
    for row in candidates(case):
        place, distance = _place(case, row)
        if place is not None:
            rows.append(row)
            places.append((place, distance))
    mine = _text(case.title, case.description)
    floors = [
        _least_similarity(cut, place, row.category_id == case.category_id)
        for row, (place, _d) in zip(rows, places, strict=True)
    ]
    sims = similarities(mine, [f"{r.title} {getattr(r, _HEAD)}" for r in rows], np.array(floors))
    scored = []
    for row, (place, distance), sim in zip(rows, places, sims.tolist(), strict=True):
        same_category = row.category_id == case.category_id
        score = score_of(sim, place, same_category)
        if score >= cut:
            scored.append((round(score, 4), row, place, distance, same_category, sim))
    scored.sort(key=lambda x: (-x[0], -x[1].id))
    return [
        Match(
            case=_instance(row),
            score=score,
            similarity=round(sim, 4),
            place=place,
            distance_m=distance,
            same_category=same_category,
            terms=shared_terms(mine, _text(row.title, getattr(row, _HEAD))),
        )
        for score, row, place, distance, same_category, sim in scored[:limit]
    ]
