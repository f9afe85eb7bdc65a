"""The home page (工作台) of each role: what waits for the user's decision in their area, each count linking to the
list it counts, today's and this month's 三率, and for a street or county the open and overdue cases by community.

The numbers come from ``linli.cases.dashboard`` (appeals), ``linli.registry.population`` (the ledger) and the
metrics rollups; this module only picks what a role needs and where each count leads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from linli.cases import dashboard, selectors
from linli.cases.extensions import pending_to_decide
from linli.core.scope import Scope
from linli.metrics import selectors as metrics
from linli.metrics.definitions import Counts
from linli.org import access
from linli.org.access import Cap
from linli.triage.models import EmergingIssue, IssueStatus

MAP_TABLE_ROWS = 30  # the table beside the map lists the communities with the most overdue cases


@dataclass
class Tile:
    key: str
    label: str
    count: int
    url: str
    hint: str = ""
    alert: str = ""  # "warn" or "bad": how the tile looks while its count is not zero

    @property
    def tone(self) -> str:
        return self.alert if self.count else ""


def cases_url(**params: Any) -> str:
    return reverse("console:cases") + "?" + urlencode(params)


def area_tiles(user: Any, scope: Scope, counts: dashboard.AreaCounts) -> list[Tile]:
    """What waits for a triaging role (community, street, county, city) in its area."""
    extensions = pending_to_decide(user).count()
    whistles = selectors.case_count_for(scope, selectors.CaseFilter(whistle_waiting=True))
    issues = scope.apply(EmergingIssue.objects.filter(status=IssueStatus.OPEN)).count()
    return [
        Tile(
            "submitted",
            _("待分流"),
            counts.submitted,
            cases_url(status="submitted"),
            _("分级分流，确定承办 →"),
        ),
        Tile(
            "triaged", _("待派单"), counts.triaged, cases_url(status="triaged"), _("已分流，待派给承办人 →")
        ),
        Tile(
            "assigned",
            _("待受理"),
            counts.assigned,
            cases_url(status="assigned"),
            _("已派单，承办人尚未受理 →"),
        ),
        Tile("overdue", _("已超时"), counts.overdue, cases_url(overdue=1), _("超过受理或办结时限 →"), "bad"),
        Tile(
            "extensions",
            _("延期待审批"),
            extensions,
            cases_url(extension=1),
            _("承办人申请延期，由您审批 →"),
            "warn",
        ),
        Tile(
            "whistles", _("吹哨待报到"), whistles, cases_url(whistle=1), _("已吹哨，部门尚未报到 →"), "warn"
        ),
        Tile(
            "issues",
            _("新发现问题"),
            issues,
            reverse("console:hotspots") + "?status=open",
            _("多户反映的同类问题（未诉先办）→"),
            "warn",
        ),
        Tile("callback", _("待回访"), counts.callback, cases_url(callback=1), _("已办结，待回访居民 →")),
    ]


def queue_tiles(queue: selectors.Queue) -> list[Tile]:
    """The user's own queue: assigned to them, or their departments' cases nobody has taken yet."""
    return [
        Tile(
            "mine_open", _("在办"), queue.open, cases_url(mine=1, open=1), _("派给我或本部门的未办结诉求 →")
        ),
        Tile(
            "mine_due_soon",
            _("即将到期"),
            queue.due_soon,
            cases_url(mine=1, due_soon=1),
            _("24小时内到期") if queue.due_soon else _("暂无"),
            "warn",
        ),
        Tile(
            "mine_overdue",
            _("已超时"),
            queue.overdue,
            cases_url(mine=1, overdue=1),
            _("请尽快办理") if queue.overdue else _("暂无"),
            "bad",
        ),
        Tile(
            "mine_callback",
            _("待回访"),
            queue.awaiting_callback,
            cases_url(mine=1, callback=1),
            _("办结后回访居民 →"),
        ),
    ]


def handler_tiles(scope: Scope) -> list[Tile]:
    """What waits for a handling role besides its own queue: a department's whistles to report to."""
    if not scope.department_ids:
        return []
    whistles = selectors.case_count_for(scope, selectors.CaseFilter(whistle_waiting=True))
    return [
        Tile(
            "whistles",
            _("吹哨待报到"),
            whistles,
            cases_url(whistle=1),
            _("社区吹哨，本部门须按时报到 →"),
            "warn",
        )
    ]


def rates_today(scope: Scope, today: dt.date) -> list[tuple[str, Any]]:
    """Today's and this month's 三率 of the area, from one read of the rollups the monitor keeps (by day: today's
    row and the month's total)."""
    report = metrics.rates(scope, (today.replace(day=1), today), "day")
    today_row = next((row for row in report.rows if row.key == today), None)
    return [(_("今日"), today_row or metrics.Row(today, "", Counts())), (_("本月"), report.total)]


def map_context(communities: list[dashboard.CommunityCount]) -> dict[str, Any]:
    """The map's points (JSON for ``area_map.js``) and the table beside it, the most overdue first."""
    cases = reverse("console:cases")
    points = [
        {
            "name": c.name,
            "lat": c.lat,
            "lng": c.lng,
            "open": c.open,
            "overdue": c.overdue,
            "url": f"{cases}?open=1&region={c.region_id}",
        }
        for c in communities
        if c.lat is not None and c.lng is not None
    ]
    ranked = sorted(communities, key=lambda c: (-c.overdue, -c.open, c.code))
    return {
        "communities": communities,
        "communities_sorted": ranked[:MAP_TABLE_ROWS],
        "community_points": points,
        "map_tiles": settings.LINLI_MAP_TILE_URL,
    }


def home_context(user: Any) -> dict[str, Any]:
    """Everything the home page shows about appeals: the area's decisions (triaging roles), the user's own
    queue (``queue``: None without case duties), a department's whistles, the 三率 and the map."""
    now = timezone.now()
    triage = access.scope_for(user, Cap.CASE_TRIAGE)
    view = access.scope_for(user, Cap.CASE_VIEW)
    ctx: dict[str, Any] = {"now": now, "queue": None}
    if not triage.empty:
        counts, ctx["queue"] = dashboard.area_and_queue(triage, user, now)
        ctx["area"] = counts
        ctx["area_tiles"] = area_tiles(user, triage, counts)
        if triage.everything or any(hi > lo for lo, hi in triage.region_ranges):  # wider than a community
            ctx.update(map_context(dashboard.community_counts(triage)))
    elif not view.empty:
        if view.department_ids:  # a department's untaken cases come from the monitor's counts
            ctx["queue"] = dashboard.department_queue(user, view.department_ids, now)
            ctx["queue_counted_at"] = dashboard.last_counted_at()
        else:
            ctx["queue"] = selectors.my_queue(user, now)
        ctx["handler_tiles"] = handler_tiles(view)
    if ctx["queue"] is not None:
        ctx["queue_tiles"] = queue_tiles(ctx["queue"])
    if view.covers_places:  # a property manager's handed cases have no 三率 of their own
        ctx["rates"] = rates_today(view, timezone.localdate())
    return ctx
