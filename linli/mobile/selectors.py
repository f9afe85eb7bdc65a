"""Reads for the mobile pages. What a resident sees through a QR code or a tracking link is public: no reporter
data, no staff names (a role or a department at most), no internal notes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from linli.cases import categories, feedback, supporters
from linli.cases import selectors as case_selectors
from linli.cases.choices import (
    ACCEPT_CLOCK,
    CALLBACK,
    HANDLING,
    OPEN,
    Action,
    Activity,
    Channel,
    HandlingLevel,
    Satisfaction,
    Status,
    SystemAction,
)
from linli.cases.models import Attachment, AttachmentPurpose, Case, CaseEvent, Category, Feedback
from linli.core.scope import Scope
from linli.org.models import Post
from linli.registry.models import Building, Grid

BUILDING_OPEN_LIMIT = 20
# Timeline entries a resident sees; for the kinds in ``_PUBLIC_NOTES`` the note is shown too (it is written for
# the resident: a result, a reason, a supervision notice). Staff notes and triage reasons stay internal.
_PUBLIC_KINDS = frozenset(
    {
        CaseEvent.CREATE,
        Action.TRIAGE,
        Action.ASSIGN,
        Action.ACCEPT,
        Action.START,
        Action.PAUSE,
        Action.RESUME,
        Action.RESOLVE,
        Action.REQUEST_CALLBACK,
        Action.CONFIRM,
        Action.REOPEN,
        Action.CLOSE_NO_RESPONSE,
        Action.REJECT,
        Action.MERGE,
        SystemAction.SUPERVISE,
        SystemAction.ESCALATE,
        Activity.WHISTLE,
        Activity.WHISTLE_REPORT,
        Activity.WHISTLE_FINISH,
        Activity.EXTENSION_APPROVE,
        Activity.FEEDBACK,
        Activity.OUTCOME,
    }
)
_PUBLIC_NOTES = frozenset(
    {
        Action.PAUSE,
        Action.RESOLVE,
        Action.REJECT,
        SystemAction.SUPERVISE,
        SystemAction.ESCALATE,
        Activity.OUTCOME,
    }
)


def active_categories() -> list[Category]:
    return list(Category.objects.filter(active=True).order_by("sort", "id"))


def problem_categories() -> list[Category]:
    """The categories a problem is reported under: not the wish box's 心愿建议."""
    return categories.problem_categories()


def category_by_code(code: str) -> Category | None:
    return Category.objects.filter(code=code, active=True).first()


def place_label(grid: Grid, building: Building | None = None) -> list[str]:
    """Community / compound / building names, top first (the grid's community and street are loaded)."""
    parts = []
    community = grid.community
    if community.parent_id and community.parent is not None:
        parts.append(community.parent.name)
    parts += [community.name, grid.name]
    if building is not None:
        parts.append(building.name)
    return parts


@dataclass(frozen=True)
class OpenProblem:
    case: Case
    supporters: int


def building_open_problems(building: Building) -> list[OpenProblem]:
    """Open, non-anonymous cases reported for ``building`` (the public "me too" list), newest first."""
    cases = list(
        Case.objects.filter(
            grid_id=building.grid_id,
            building=building,
            anonymous=False,
            status__in=list(OPEN),
        )
        .exclude(channel=Channel.WISH_BOX)
        .only("id", "number", "title", "status", "created_at", "grid_id", "building_id")
        .order_by("-id")[:BUILDING_OPEN_LIMIT]
    )
    counts = supporters.supporter_counts([c.pk for c in cases]) if cases else {}
    return [OpenProblem(c, counts.get(c.pk, 0)) for c in cases]


def open_problem(building: Building, pk: int) -> Case | None:
    return (
        Case.objects.filter(
            pk=pk, grid_id=building.grid_id, building=building, anonymous=False, status__in=list(OPEN)
        )
        .exclude(channel=Channel.WISH_BOX)
        .first()
    )


# ------------------------------------------------------------------------------------------------ tracking


@dataclass(frozen=True)
class Deadline:
    label: str
    due: dt.datetime | None
    state: str  # "", "running", "soon", "overdue", "ontime", "late", "paused"
    state_label: str


def deadlines_of(case: Case, now: dt.datetime | None = None) -> list[Deadline]:
    """The accept and resolve deadlines with a plain-words state (colour is decided by the template)."""
    now = now or timezone.now()
    soon = now + case_selectors.DUE_SOON
    out = []
    # 受理时限
    due = case.accept_due_at
    if case.accepted_at is not None or case.accept_overdue is not None:
        late = bool(case.accept_overdue)
        out.append(
            Deadline(
                _("受理时限"), due, "late" if late else "ontime", _("超时受理") if late else _("按时受理")
            )
        )
    elif case.status in ACCEPT_CLOCK and due is not None:
        out.append(_running(_("受理时限"), due, now, soon))
    else:
        out.append(Deadline(_("受理时限"), due, "", ""))
    # 办结时限
    due = case.resolve_due_at
    if case.resolved_at is not None:
        late = bool(case.resolve_overdue)
        out.append(
            Deadline(
                _("办结时限"), due, "late" if late else "ontime", _("超时办结") if late else _("按时办结")
            )
        )
    elif case.status == Status.PAUSED:
        out.append(Deadline(_("办结时限"), due, "paused", _("已暂停，时限顺延")))
    elif (case.status in HANDLING or case.status in ACCEPT_CLOCK) and due is not None:
        out.append(_running(_("办结时限"), due, now, soon))
    else:
        out.append(Deadline(_("办结时限"), due, "", ""))
    # 回访时限: after it, an unanswered callback closes as "no response" — the resident should know when.
    if case.status in CALLBACK and case.callback_due_at is not None:
        out.append(
            Deadline(_("回访时限"), case.callback_due_at, "running", _("请在此之前评价，逾期视为未应答"))
        )
    return out


def _running(label: str, due: dt.datetime, now: dt.datetime, soon: dt.datetime) -> Deadline:
    if now > due:
        return Deadline(label, due, "overdue", _("已超时"))
    if due <= soon:
        return Deadline(label, due, "soon", _("即将到期"))
    return Deadline(label, due, "running", _("办理中"))


@dataclass(frozen=True)
class PublicEvent:
    at: dt.datetime
    label: str
    who: str
    note: str


def _roles(user_ids: set[int]) -> dict[int, str]:
    """A role or department per staff user (never a name): a department wins over a post title."""
    roles: dict[int, str] = {}
    posts = (
        Post.objects.filter(user_id__in=user_ids).select_related("department").order_by("-started_on", "id")
    )
    for post in posts:
        uid = post.user_id
        if uid is None:
            continue
        if post.department is not None:
            roles[uid] = post.department.name
        elif uid not in roles:
            roles[uid] = str(post.get_kind_display())
    return roles


def public_timeline(case: Case) -> list[PublicEvent]:
    events = [e for e in case_selectors.case_events(case) if e.kind in _PUBLIC_KINDS]
    roles = _roles({e.actor_id for e in events if e.actor_id})
    out = []
    for e in events:
        if e.kind == CaseEvent.CREATE:
            who = (
                _("群众反映")
                if case.channel in (Channel.QR_RESIDENT, Channel.WISH_BOX)
                else _("工作人员登记")
            )
        elif e.actor_id:
            who = roles.get(e.actor_id, _("工作人员"))
        elif e.kind in (Action.CONFIRM, Action.REOPEN):
            who = _("反映人")
        else:
            who = _("系统")
        label = e.kind_label
        if e.kind in (Action.CONFIRM, Action.REOPEN) and e.data.get("satisfaction"):
            label = f"{label}（{Satisfaction(e.data['satisfaction']).label}）"
        note = e.note if e.kind in _PUBLIC_NOTES else ""
        out.append(PublicEvent(e.at, label, who, note))
    return out


def result_of(case: Case) -> str:
    """The latest result text (办理结果) of a resolved case."""
    event = CaseEvent.objects.filter(case=case, kind=Action.RESOLVE).order_by("-id").first()
    return event.note if event else ""


def photos_of(case: Case, purpose: str) -> list[Attachment]:
    return list(Attachment.objects.filter(case=case, purpose=purpose).order_by("id"))


def tracked_photo(case: Case, pk: int, target: Case | None = None) -> Attachment | None:
    """A photo the tracking link may show: any photo of the case, or a result photo of the case it was merged
    into (``target``)."""
    q = Q(case=case)
    if target is not None:
        q |= Q(case=target, purpose=AttachmentPurpose.RESULT)
    return Attachment.objects.filter(q, pk=pk).first()


def feedback_given(source: Case) -> Feedback | None:
    return Feedback.objects.filter(source_case=source).order_by("-id").first()


def merge_target(case: Case) -> Case | None:
    """The case a merged case's problem is handled in (following merges of merges)."""
    if case.status != Status.MERGED or not case.merged_into_id:
        return None
    return feedback.final_target(case)


def can_answer_merged(target: Case) -> bool:
    return target.status in feedback.ANSWERABLE and target.resolved_at is not None


# ------------------------------------------------------------------------------------------- grid workers


def grid_counts(scope: Scope, grids: list[Grid]) -> dict[int, dict[str, int]]:
    """Open and overdue cases per grid (one grouped query)."""
    if not grids or scope.empty:
        return {}
    now = timezone.now()
    overdue = Q(status__in=list(ACCEPT_CLOCK), accept_due_at__lt=now) | Q(
        status__in=list(HANDLING), resolve_due_at__lt=now
    )
    rows = (
        scope.apply(Case.objects.filter(grid_id__in=[g.pk for g in grids], status__in=list(OPEN)))
        .values("grid_id")
        .annotate(open=Count("id"), overdue=Count("id", filter=overdue))
    )
    return {r["grid_id"]: {"open": r["open"], "overdue": r["overdue"]} for r in rows}


def my_open_cases(user: Any, scope: Scope, limit: int = 50) -> list[Case]:
    """Cases the user handles, plus the ones waiting for a handler in their grids, deadline first."""
    mine = Q(handler_user_id=user.pk) | Q(
        handler_user__isnull=True,
        status=Status.ASSIGNED,
        handling_level__in=[HandlingLevel.BUILDING, HandlingLevel.GRID],
    )
    return list(
        scope.apply(Case.objects.filter(mine, status__in=list(OPEN)))
        .select_related("category", "grid", "building")
        .order_by("resolve_due_at", "id")[:limit]
    )
