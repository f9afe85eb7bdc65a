"""REST endpoint for 每月一题: ``GET /api/v1/top-issues?region=&month=``.

Thin: the scope comes from ``linli.org.access`` (``Cap.CASE_VIEW``), the region check from ``linli.metrics.selectors``
(a street or community the scope covers whole), the issues from ``linli.triage.top_issues`` (ranked by appeals,
households affected, then likes).
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from linli.api.schemas import FieldErrorOut
from linli.core.errors import LinliError
from linli.metrics import selectors as metric_selectors
from linli.org import access
from linli.org.access import Cap
from linli.triage import top_issues
from linli.triage.top_issues import Issue

router = Router(tags=["top-issues"])


class TopIssueCaseOut(Schema):
    id: int
    number: str
    title: str
    status: str
    created_at: dt.datetime
    likes: int = Field(description="“我也遇到了 (+1)” supporters")


class TopIssueOut(Schema):
    rank: int
    label: str = Field(description="the title nearest the issue's centroid")
    terms: list[str] = Field(description="strings most of its titles share")
    count: int = Field(description="appeals in the issue (reported this month, not merged, not rejected)")
    households: int = Field(description="distinct households / reporters, those of merged appeals included")
    likes: int
    merged: int = Field(description="appeals merged into the issue's appeals")
    category: str
    first: dt.datetime
    last: dt.datetime
    heat: float
    cases: list[TopIssueCaseOut]


class TopIssuesOut(Schema):
    month: str = Field(description="YYYY-MM")
    region: str | None
    cases: int = Field(description="appeals considered")
    issues: list[TopIssueOut]


class TopIssuesQuery(Schema):
    month: str | None = Field(default=None, description="YYYY-MM (default: this month)")
    region: str | None = Field(default=None, description="a street or community code inside your scope")
    limit: int = Field(default=top_issues.DEFAULT_LIMIT, ge=1, le=100)


def _issue(issue: Issue) -> TopIssueOut:
    return TopIssueOut(
        rank=issue.rank,
        label=issue.label,
        terms=issue.terms,
        count=issue.count,
        households=issue.households,
        likes=issue.likes,
        merged=issue.merged,
        category=issue.category,
        first=issue.first,
        last=issue.last,
        heat=issue.heat,
        cases=[
            TopIssueCaseOut(
                id=c.pk, number=c.number, title=c.title, status=c.status, created_at=c.created_at, likes=n
            )
            for c, n in issue.appeals
        ],
    )


@router.get(
    "/top-issues",
    response={200: TopIssuesOut, 400: FieldErrorOut, 403: FieldErrorOut},
    summary="每月一题: a month's appeals in a street or community clustered into issues, ranked by appeals, "
    "households affected and likes",
)
def top_issues_list(request: HttpRequest, q: Query[TopIssuesQuery]) -> TopIssuesOut | Status[FieldErrorOut]:
    scope = access.scope_for(request.user, Cap.CASE_VIEW)
    if scope.empty:
        return Status(403, FieldErrorOut(detail="您没有查看诉求的权限（需要诉求查看岗位）"))
    region = None
    try:
        month = top_issues.parse_month(q.month, timezone.localdate())
        if q.region:
            region = metric_selectors.region_in_scope(scope, q.region)
            if region is None:
                raise LinliError(f"街道或社区 {q.region} 不存在或不在您的管辖范围内", field="region")
        report = top_issues.top_issues(scope, month, region, limit=q.limit)
    except LinliError as exc:
        return Status(400, FieldErrorOut(detail=str(exc), field=exc.field))
    return TopIssuesOut(
        month=month.label,
        region=region.code if region else None,
        cases=report.cases,
        issues=[_issue(i) for i in report.issues],
    )
