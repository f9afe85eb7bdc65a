"""Hotspots (未诉先办): similar appeals piling up in one place and time window raise an emerging issue.

What is looked at: appeals reported within the last ``LINLI_HOTSPOT_WINDOW_HOURS`` (default 48), not merged and
not rejected, and not linked to an issue yet. The place is the building, or the grid for appeals without one.

Similar: two appeals of one place share their category, or their text similarity (``duplicates.similarity``:
character 1–2-gram cosine over title + description, with the building and grid names left out so that the place
itself makes nothing similar) is at least ``LINLI_HOTSPOT_MIN_SIMILARITY`` (default 0.3).

Each run, per community (one transaction, the community's row locked so several monitors never raise an issue
twice):

1. A new appeal similar to an appeal of an emerging issue of its place that is still open or acknowledged, and
   reported at most one window after that issue's latest appeal, is linked to it: the issue *grows* (a "grew"
   event; counts, terms and ``last_at`` follow). With several such issues the one sharing the category, then the
   most similar text, wins.
2. The other new appeals of a place are grouped (similarity is followed transitively: connected components).
   A group from at least ``LINLI_HOTSPOT_MIN_HOUSEHOLDS`` (default 3) distinct households *raises* an issue
   (a "raised" event) and the community's secretary and community workers get an inbox message (best effort).

Re-running is idempotent: linked appeals are never looked at again, so an issue that was handled or dismissed is
not raised anew from the same appeals.

Distinct households: two appeals are from one household when they share any of: the registry household (the
appeal's own, or its reporting resident's), the reporter's phone (its keyed digest; a unit adds nothing to a phone),
the reporting resident. An appeal with none of these (anonymous, or entered without a reporter) counts as a
household of its own. "+1" supporters (``cases.Supporter``) are not counted: their digest is a keyed hash of a user
id or a browser token, which names neither a household nor a phone; the issue pages show how many there are.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from linli.cases import services as case_services
from linli.cases.choices import Status
from linli.cases.models import Case, Category
from linli.notifications import services as notifications
from linli.notifications.inbox import InboxKind
from linli.org.choices import PostKind
from linli.registry.models import Building, Grid, Region
from linli.triage import words
from linli.triage.duplicates import cosine, grams
from linli.triage.model import join_text
from linli.triage.models import (
    ACTIVE_ISSUE_STATUSES,
    EmergingIssue,
    EmergingIssueCase,
    EmergingIssueEvent,
    IssueEventKind,
)

logger = logging.getLogger("linli.triage.hotspots")

TERMS_SHOWN = 5
TITLE_MAX = 200
NOT_COUNTED = [Status.MERGED.value, Status.REJECTED.value]
NOTIFIED_POSTS: list[str] = [PostKind.SECRETARY.value, PostKind.COMMUNITY_WORKER.value]
_FIELDS = (
    "id",
    "number",
    "title",
    "description",
    "category_id",
    "grid_id",
    "building_id",
    "region_code",
    "household_id",
    "resident_id",
    "resident__household_id",
    "reporter_phone_digest",
    "created_at",
)


def window_hours() -> int:
    return int(getattr(settings, "LINLI_HOTSPOT_WINDOW_HOURS", 48))


def min_households() -> int:
    return max(1, int(getattr(settings, "LINLI_HOTSPOT_MIN_HOUSEHOLDS", 3)))


def min_similarity() -> float:
    return float(getattr(settings, "LINLI_HOTSPOT_MIN_SIMILARITY", 0.3))


# ---------------------------------------------------------------------------------------------- appeals


Place = tuple[int | None, int | None]  # (grid id, building id or None)


@dataclass
class Appeal:
    """What the detection needs of one case (read with ``values()``: no model instances)."""

    id: int
    number: str
    category_id: int
    place: Place
    region_code: int
    created_at: dt.datetime
    identities: tuple[str, ...]
    grams: Counter[str] = field(repr=False)
    norm: float = field(repr=False)
    words: Counter[str] = field(repr=False, default_factory=Counter)


def identities(row: dict[str, Any]) -> tuple[str, ...]:
    """The household keys of one appeal (see the module doc); never empty."""
    keys = [f"household:{h}" for h in {row["household_id"], row["resident__household_id"]} if h]
    if row["reporter_phone_digest"]:
        keys.append(f"phone:{row['reporter_phone_digest']}")
    if row["resident_id"]:
        keys.append(f"resident:{row['resident_id']}")
    return tuple(sorted(keys)) or (f"case:{row['id']}",)


def count_households(appeals: Iterable[Appeal]) -> int:
    """Distinct households: appeals sharing any household key are one household (union-find over the keys)."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        parent.setdefault(key, key)
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    firsts = []
    for appeal in appeals:
        first = root(appeal.identities[0])
        for other in appeal.identities[1:]:
            parent[root(other)] = first
        firsts.append(appeal.identities[0])
    return len({root(k) for k in firsts})


def _strip(text: str, names: Iterable[str]) -> str:
    for name in names:
        if name:
            text = text.replace(name, " ")
    return text


def _appeals(rows: list[dict[str, Any]]) -> list[Appeal]:
    """Rows of cases → appeals, their text without the names of their building and grid."""
    building_names = dict(
        Building.objects.filter(pk__in={r["building_id"] for r in rows if r["building_id"]}).values_list(
            "id", "name"
        )
    )
    grid_names = dict(Grid.objects.filter(pk__in={r["grid_id"] for r in rows}).values_list("id", "name"))
    out = []
    for row in rows:
        names = (building_names.get(row["building_id"], ""), grid_names.get(row["grid_id"], ""))
        text = _strip(join_text(row["title"], row["description"]), names)
        counts = grams(text)
        out.append(
            Appeal(
                id=row["id"],
                number=row["number"],
                category_id=row["category_id"],
                place=(row["grid_id"], row["building_id"]),
                region_code=row["region_code"],
                created_at=row["created_at"],
                identities=identities(row),
                grams=counts,
                norm=math.sqrt(sum(v * v for v in counts.values())),
                words=words.word_counts(text),
            )
        )
    return out


def similar(a: Appeal, b: Appeal, threshold: float | None = None) -> bool:
    cut = min_similarity() if threshold is None else threshold
    return a.category_id == b.category_id or cosine(a.grams, b.grams, a.norm, b.norm) >= cut


def groups(appeals: list[Appeal], threshold: float | None = None) -> list[list[Appeal]]:
    """The connected components of "similar" among appeals of one place, each oldest first, in order of their
    oldest appeal."""
    parent = list(range(len(appeals)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(appeals):
        for j in range(i + 1, len(appeals)):
            if root(i) != root(j) and similar(a, appeals[j], threshold):
                parent[root(j)] = root(i)
    found: dict[int, list[Appeal]] = defaultdict(list)
    for i, a in enumerate(appeals):
        found[root(i)].append(a)
    out = [sorted(g, key=lambda x: (x.created_at, x.id)) for g in found.values()]
    return sorted(out, key=lambda g: (g[0].created_at, g[0].id))


def common_terms(appeals: list[Appeal], limit: int = TERMS_SHOWN) -> list[str]:
    """Words (``linli.triage.words``: dictionary words, never fragments such as "梯故") most of the appeals use (at
    least two of them, at least half), most shared first, then most used, then longer."""
    seen: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for a in appeals:
        seen.update(a.words.keys())
        total.update(a.words)
    need = max(2, (len(appeals) + 1) // 2)
    ranked = sorted(
        (k for k, n in seen.items() if n >= need), key=lambda k: (-seen[k], -total[k], -len(k), k)
    )
    return ranked[:limit]


def _main_category(appeals: list[Appeal]) -> int:
    counts = Counter(a.category_id for a in appeals)
    return max(counts, key=lambda c: (counts[c], -min(a.id for a in appeals if a.category_id == c)))


def _title(place_name: str, category: Category | None, terms: list[str]) -> str:
    title = f"{place_name}：{category.name if category else '同类诉求'}"
    if terms:
        title += f"（{'、'.join(terms[:3])}）"
    return title[:TITLE_MAX]


# ---------------------------------------------------------------------------------------------- detection


@dataclass
class Outcome:
    raised: list[EmergingIssue] = field(default_factory=list)
    grown: list[EmergingIssue] = field(default_factory=list)

    @property
    def acted(self) -> int:
        return len(self.raised) + len(self.grown)


@dataclass
class _Active:
    """An issue that may still grow, with its linked appeals."""

    issue: EmergingIssue
    appeals: list[Appeal]
    added: list[Appeal] = field(default_factory=list)

    def match(self, appeal: Appeal, window: dt.timedelta) -> tuple[bool, float] | None:
        """(same category, best text similarity) when ``appeal`` belongs here, else None."""
        if appeal.created_at - self.issue.last_at > window:
            return None
        sims = [cosine(appeal.grams, a.grams, appeal.norm, a.norm) for a in self.appeals]
        same = any(a.category_id == appeal.category_id for a in self.appeals)
        best = max(sims, default=0.0)
        return (same, best) if same or best >= min_similarity() else None


def detect(now: dt.datetime | None = None) -> Outcome:
    """One pass over the window ending at ``now`` (see the module doc)."""
    now = now or timezone.now()
    window = dt.timedelta(hours=window_hours())
    by_community: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in _window_rows(now, window):
        by_community[row["region_code"]].append(row)
    growing = set(
        EmergingIssue.objects.filter(status__in=ACTIVE_ISSUE_STATUSES, last_at__gte=now - 2 * window)
        .values_list("region_code", flat=True)
        .distinct()
    )
    outcome = Outcome()
    for code in sorted(by_community):
        if code in growing or _may_raise(by_community[code]):
            _detect_in_community(code, by_community[code], now, window, outcome)
    return outcome


def _may_raise(rows: list[dict[str, Any]]) -> bool:
    """Whether some place has enough appeals to raise an issue at all (else, with no issue that may grow, the
    community is left alone: no lock, no further query)."""
    per_place = Counter((r["grid_id"], r["building_id"]) for r in rows)
    return max(per_place.values(), default=0) >= min_households()


def _window_rows(now: dt.datetime, window: dt.timedelta) -> list[dict[str, Any]]:
    return list(
        Case.objects.filter(created_at__gte=now - window, created_at__lte=now, merged_into__isnull=True)
        .exclude(status__in=NOT_COUNTED)
        .values(*_FIELDS)
        .order_by("id")
    )


def _detect_in_community(
    code: int, rows: list[dict[str, Any]], now: dt.datetime, window: dt.timedelta, outcome: Outcome
) -> None:
    with transaction.atomic():
        community = Region.objects.select_for_update(skip_locked=True).filter(code=str(code)).first()
        if community is None:  # another monitor holds it (or the region is gone): its run does the work
            return
        linked = set(
            EmergingIssueCase.objects.filter(case_id__in=[r["id"] for r in rows]).values_list(
                "case_id", flat=True
            )
        )
        fresh = _appeals([r for r in rows if r["id"] not in linked])
        if not fresh:
            return
        active = _active_issues(code, {a.place for a in fresh}, now - 2 * window)
        waiting: dict[Place, list[Appeal]] = defaultdict(list)
        for appeal in fresh:
            target = _best_issue(appeal, active.get(appeal.place, []), window)
            if target is None:
                waiting[appeal.place].append(appeal)
            else:
                target.appeals.append(appeal)
                target.added.append(appeal)
        for item in (i for items in active.values() for i in items if i.added):
            if _grow(item, now):
                outcome.grown.append(item.issue)
        for place, appeals in sorted(waiting.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1] or 0)):
            for group in groups(appeals):
                if count_households(group) >= min_households():
                    outcome.raised.append(_raise(community, place, group, now))


def _active_issues(code: int, places: set[Place], since: dt.datetime) -> dict[Place, list[_Active]]:
    issues = list(
        EmergingIssue.objects.filter(region_code=code, status__in=ACTIVE_ISSUE_STATUSES, last_at__gte=since)
        .select_related("grid", "building")
        .order_by("id")
    )
    issues = [i for i in issues if (i.grid_id, i.building_id) in places]
    if not issues:
        return {}
    links = EmergingIssueCase.objects.filter(issue__in=issues).values_list("issue_id", "case_id")
    by_case: dict[int, int] = {case_id: issue_id for issue_id, case_id in links}
    appeals = _appeals(list(Case.objects.filter(pk__in=list(by_case)).values(*_FIELDS).order_by("id")))
    found: dict[Place, list[_Active]] = defaultdict(list)
    for issue in issues:
        mine = [a for a in appeals if by_case[a.id] == issue.pk]
        found[(issue.grid_id, issue.building_id)].append(_Active(issue, mine))
    return found


def _best_issue(appeal: Appeal, candidates: list[_Active], window: dt.timedelta) -> _Active | None:
    best: tuple[tuple[bool, float, int], _Active] | None = None
    for item in candidates:
        fit = item.match(appeal, window)
        if fit is None:
            continue
        key = (fit[0], fit[1], item.issue.pk)
        if best is None or key > best[0]:
            best = (key, item)
    return best[1] if best else None


def _place_name(grid: Grid | None, building: Building | None) -> str:
    if building is not None:
        return f"{grid.name} {building.name}" if grid is not None else building.name
    return grid.name if grid is not None else ""


def _link(issue: EmergingIssue, appeals: list[Appeal], now: dt.datetime) -> None:
    EmergingIssueCase.objects.bulk_create(
        [EmergingIssueCase(issue=issue, case_id=a.id, added_at=now) for a in appeals]
    )


def _raise(community: Region, place: Place, group: list[Appeal], now: dt.datetime) -> EmergingIssue:
    grid_id, building_id = place
    grid = Grid.objects.filter(pk=grid_id).first() if grid_id else None
    building = Building.objects.filter(pk=building_id).first() if building_id else None
    category = Category.objects.filter(pk=_main_category(group)).first()
    terms = common_terms(group)
    households = count_households(group)
    issue = EmergingIssue.objects.create(
        community=community,
        region_code=int(community.code),
        grid=grid,
        building=building,
        category=category,
        title=_title(_place_name(grid, building), category, terms),
        first_at=group[0].created_at,
        last_at=max(a.created_at for a in group),
        households=households,
        cases_count=len(group),
        terms=terms,
        created_at=now,
        updated_at=now,
    )
    _link(issue, group, now)
    EmergingIssueEvent.objects.create(
        issue=issue,
        at=now,
        kind=IssueEventKind.RAISED,
        note=f"{window_hours()} 小时内 {households} 户反映同类问题（{len(group)} 件诉求）",
        data={"cases": [a.number for a in group], "households": households, "terms": terms},
    )
    notify_raised(issue)
    return issue


def _grow(item: _Active, now: dt.datetime) -> bool:
    """Link ``item.added`` to its issue and refresh its counts, unless staff settled it meanwhile."""
    issue, everything = item.issue, item.appeals
    households = count_households(everything)
    terms = common_terms(everything)
    last_at = max(a.created_at for a in everything)
    grew = EmergingIssue.objects.filter(pk=issue.pk, status__in=ACTIVE_ISSUE_STATUSES).update(
        households=households, cases_count=len(everything), terms=terms, last_at=last_at, updated_at=now
    )
    if not grew:
        return False
    issue.households, issue.cases_count, issue.terms, issue.last_at = (
        households,
        len(everything),
        terms,
        last_at,
    )
    _link(issue, item.added, now)
    EmergingIssueEvent.objects.create(
        issue=issue,
        at=now,
        kind=IssueEventKind.GREW,
        note=f"新增 {len(item.added)} 件同类诉求，累计 {households} 户",
        data={"added": [a.number for a in item.added], "households": households, "cases": len(everything)},
    )
    return True


# ---------------------------------------------------------------------------------------------- notices


def notify_raised(issue: EmergingIssue) -> int:
    """Tell the community's secretary and community workers (inbox), once per issue and person. Best effort: a
    failure is logged and leaves the issue raised. Returns how many messages were written."""
    sent = 0
    try:
        with transaction.atomic():  # a savepoint: a failed notice must not undo the issue
            for user in case_services.access_holders(kinds=NOTIFIED_POSTS, region_id=issue.community_id):
                message = notifications.notify(
                    channel="inbox",
                    recipient=user,
                    subject=f"【未诉先办】{issue.title}",
                    body=(
                        f"{window_hours()} 小时内有 {issue.households} 户居民反映同类问题"
                        f"（{issue.cases_count} 件诉求），请及早处置，避免居民再次投诉。"
                    ),
                    payload={"issue": issue.pk, "kind": InboxKind.HOTSPOT},
                    dedupe_key=f"hotspot:{issue.pk}:raised:u{user.pk}",
                )
                sent += message is not None
    except Exception:
        logger.exception("could not notify the community of emerging issue %s", issue.pk)
        return 0
    return sent


def hotspots_sweep() -> int:
    """The monitor's entry point: issues raised or grown in this run."""
    return detect(timezone.now()).acted
