"""每月一题: a month's top issues in a community or street, from the platform's own appeals.

The month's appeals (reported in that calendar month, local time; not merged into another, not rejected) inside the
caller's scope and the chosen region are clustered by their text with ``linli.triage.clusters``; clusters whose
appeals were linked to the same emerging issue (未诉先办), or share a category in one building, are one issue. Each
issue is ranked by

1. **count**: its appeals;
2. **households affected**: distinct reporters, counted by household where the appeal names one, else by the
   reporting resident, else by the reporter's phone digest; an appeal with none of these (anonymous, wish box)
   counts as a household of its own. Appeals merged into the issue's appeals (any month) add their reporters too,
   so merging duplicates never lowers the count of households;
3. **likes**: the "我也遇到了 (+1)" supporters (``Supporter`` rows) of its appeals;

then the earliest report first. The heat of ``clusters`` is given as well, for reference.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass
from typing import IO, Any, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.cases.choices import Status
from linli.cases.models import Case
from linli.cases.supporters import supporter_counts
from linli.core.errors import LinliError
from linli.core.scope import Scope, code_range
from linli.registry.ledger import guard
from linli.registry.models import Region
from linli.triage import clusters
from linli.triage.models import EmergingIssueCase

MAX_CASES = 20_000  # one month of one street is far below this; a whole province's month is not
DEFAULT_LIMIT = 20
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


@dataclass(frozen=True)
class Month:
    first: dt.date

    @property
    def label(self) -> str:
        return self.first.strftime("%Y-%m")

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as aware datetimes in the platform's time zone."""
        tz = ZoneInfo(settings.TIME_ZONE)
        nxt = (self.first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return dt.datetime.combine(self.first, dt.time(), tz), dt.datetime.combine(nxt, dt.time(), tz)


def parse_month(text: str | None, today: dt.date | None = None) -> Month:
    """``YYYY-MM`` → ``Month``; empty = this month. Raises ``LinliError(field="month")``."""
    text = (text or "").strip()
    if not text:
        return Month((today or timezone.localdate()).replace(day=1))
    match = _MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise LinliError(_("月份格式应为 YYYY-MM，例如 2025-11"), field="month")
    return Month(dt.date(int(match.group(1)), int(match.group(2)), 1))


@dataclass
class Issue:
    rank: int
    label: str
    terms: list[str]
    cases: list[Case]  # oldest first
    households: int
    likes: int
    merged: int  # appeals merged into these ones
    first: dt.datetime
    last: dt.datetime
    category: str  # the most common category among the appeals
    heat: float
    likes_by_case: dict[int, int]

    @property
    def count(self) -> int:
        return len(self.cases)

    @property
    def appeals(self) -> list[tuple[Case, int]]:
        """Each appeal with its likes (for the page)."""
        return [(c, self.likes_by_case.get(c.pk, 0)) for c in self.cases]


@dataclass
class TopIssues:
    month: Month
    region: Region | None
    cases: int  # appeals considered
    issues: list[Issue]


def household_key(case: Case) -> str:
    """Who an appeal speaks for (see the module docstring); empty when unknown."""
    if case.household_id:
        return f"h{case.household_id}"
    if case.resident_id:
        return f"r{case.resident_id}"
    if case.reporter_phone_digest:
        return f"p{case.reporter_phone_digest}"
    return ""


def month_cases(scope: Scope, month: Month, region: Region | None = None) -> list[Case]:
    start, end = month.bounds()
    qs = scope.apply(
        Case.objects.filter(created_at__gte=start, created_at__lt=end, merged_into__isnull=True).exclude(
            status=Status.REJECTED
        )
    )
    if region is not None:
        qs = qs.filter(region_code__range=code_range(region.code, region.level))
    qs = qs.select_related("category").order_by("id")
    found = list(qs[: MAX_CASES + 1])
    if len(found) > MAX_CASES:
        raise LinliError(_("该月诉求超过 %(n)d 件，请选择更小的范围") % {"n": MAX_CASES}, field="region")
    return found


def _merged_reporters(case_ids: list[int]) -> dict[int, list[str]]:
    """target case id → the household keys of the appeals merged into it."""
    out: dict[int, list[str]] = {}
    rows = Case.objects.filter(merged_into_id__in=case_ids).only(
        "id", "merged_into_id", "household_id", "resident_id", "reporter_phone_digest"
    )
    for c in rows.order_by("id"):
        assert c.merged_into_id is not None
        out.setdefault(c.merged_into_id, []).append(household_key(c) or f"#{c.pk}")
    return out


def _place_keys(cases: dict[int, Case]) -> dict[int, set[tuple[Any, ...]]]:
    """case id → what ties it to other appeals regardless of wording: the emerging issue(s) it is linked to, and
    its category in its building (one building's appeals of one category in one month are one problem to act on:
    "电梯坏了" and "3号楼电梯又停运了" share too few characters for the text alone)."""
    keys: dict[int, set[tuple[Any, ...]]] = {pk: set() for pk in cases}
    for pk, c in cases.items():
        if c.building_id is not None:
            keys[pk].add(("place", c.category_id, c.building_id))
    links = EmergingIssueCase.objects.filter(case_id__in=list(cases)).values_list("case_id", "issue_id")
    for case_id, issue_id in links:
        keys[case_id].add(("issue", issue_id))
    return keys


def joined(groups: list[clusters.Cluster], cases: dict[int, Case]) -> list[list[clusters.Cluster]]:
    """The text clusters, joined where their appeals share a place key (``_place_keys``); each joined set in the
    clusters' order (hottest first), the sets in the order of their hottest cluster."""
    parent = list(range(len(groups)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[tuple[Any, ...], int] = {}
    keys = _place_keys(cases)
    for n, group in enumerate(groups):
        for item in group.items:
            for key in keys.get(cast(int, item.key), ()):
                if key in owner:
                    a, b = root(owner[key]), root(n)
                    parent[max(a, b)] = min(a, b)
                else:
                    owner[key] = n
    sets: dict[int, list[clusters.Cluster]] = {}
    for n, group in enumerate(groups):
        sets.setdefault(root(n), []).append(group)
    return [sets[r] for r in sorted(sets)]


def top_issues(
    scope: Scope,
    month: Month,
    region: Region | None = None,
    *,
    limit: int = DEFAULT_LIMIT,
    threshold: float = clusters.THRESHOLD,
) -> TopIssues:
    """The month's issues in ``region`` (or the whole scope), ranked; at most ``limit`` of them."""
    if scope.empty:
        return TopIssues(month, region, 0, [])
    cases = month_cases(scope, month, region)
    by_id = {c.pk: c for c in cases}
    likes = supporter_counts(list(by_id))
    merged = _merged_reporters(list(by_id))
    items = [
        clusters.Item(
            key=c.pk,
            title=c.title,
            body=c.description,
            at=c.created_at,
            reporter=household_key(c),
            likes=likes.get(c.pk, 0),
        )
        for c in cases
    ]
    issues = []
    for groups in joined(clusters.cluster(items, threshold=threshold), by_id):
        group = groups[0]  # the hottest of the joined clusters names the issue
        members = sorted(
            (by_id[cast(int, i.key)] for g in groups for i in g.items), key=lambda c: (c.created_at, c.pk)
        )
        keys = {clusters.reporter_key(i) for g in groups for i in g.items}
        extra = [k for c in members for k in merged.get(c.pk, [])]
        categories = Counter(c.category.name for c in members)
        issues.append(
            Issue(
                rank=0,
                label=group.label,
                terms=group.terms,
                cases=members,
                households=len(keys | set(extra)),
                likes=sum(g.likes for g in groups),
                merged=len(extra),
                first=members[0].created_at,
                last=members[-1].created_at,
                category=sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))[0][0],
                heat=group.heat,
                likes_by_case={c.pk: likes.get(c.pk, 0) for c in members},
            )
        )
    issues.sort(key=lambda i: (-i.count, -i.households, -i.likes, i.first, i.cases[0].pk))
    issues = issues[: max(0, limit)]
    for n, issue in enumerate(issues, 1):
        issue.rank = n
    return TopIssues(month, region, len(cases), issues)


# ---------------------------------------------------------------------------------------------- export


def headers() -> list[str]:
    return [
        _("排名"),
        _("问题"),
        _("共同词"),
        _("诉求件数"),
        _("涉及户数"),
        _("附议数"),
        _("合并件数"),
        _("主要分类"),
        _("首次上报"),
        _("最近上报"),
        _("诉求编号"),
    ]


def _local(value: dt.datetime) -> str:
    return value.astimezone(ZoneInfo(settings.TIME_ZONE)).strftime("%Y-%m-%d %H:%M")


def export_xlsx(report: TopIssues, out: str | IO[bytes], *, scope_label: str = "") -> int:
    """The report as a workbook (sheet 1: one row per issue; sheet 2: its appeals); returns the issue rows.
    Text cells are guarded against formula injection (titles are residents' words)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("每月一题"))

    def cell(value: Any) -> Any:
        if isinstance(value, str):
            c = WriteOnlyCell(ws, value=guard(value))
            c.data_type = "s"
            return c
        return value

    ws.append([cell(_("月份")), cell(report.month.label), cell(_("范围")), cell(scope_label)])
    ws.append([cell(h) for h in headers()])
    for issue in report.issues:
        ws.append(
            [
                issue.rank,
                cell(issue.label),
                cell("、".join(issue.terms)),
                issue.count,
                issue.households,
                issue.likes,
                issue.merged,
                cell(issue.category),
                cell(_local(issue.first)),
                cell(_local(issue.last)),
                cell("、".join(c.number for c in issue.cases)),
            ]
        )
    detail = wb.create_sheet(_("诉求明细"))
    detail.append([cell(h) for h in (_("排名"), _("编号"), _("标题"), _("状态"), _("上报时间"), _("附议数"))])
    for issue in report.issues:
        for c in issue.cases:
            detail.append(
                [
                    issue.rank,
                    cell(c.number),
                    cell(c.title),
                    cell(str(c.get_status_display())),
                    cell(_local(c.created_at)),
                    issue.likes_by_case.get(c.pk, 0),
                ]
            )
    wb.save(out)
    return len(report.issues)
