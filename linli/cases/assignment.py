"""Fair assignment (equal open load): who could handle a case at its handling level, and who has the least on hand.

* ``candidates``: the users with an active post on the place that handles the case at its level — the grid's
  grid workers for building- and grid-level cases, the community's workers and secretary for community-level
  ones, the street's staff for street-level ones, the department's handlers for department-level ones — and whose
  post grants ``cases.handle`` (street staff triage but do not handle, so a street-level case gets its handler
  by hand or through a department).
* 物业服务 appeals at a compound level also have the compound's property manager as a candidate, preferred by
  ``pick_handler`` (``linli.cases.property_service``).
* ``pick_handler``: the candidate with the fewest open cases, counted in one aggregate query over the partial
  index of open cases per handler (``case_open_handler``). Ties go to the one whose newest open case is oldest
  (the longest since their last assignment, read from the same rows), then to the lowest user id: the same state
  always gives the same answer.
* ``auto_assign``: the ``assign`` transition to that person (optimistic on the case's version, like any action).
* ``is_candidate``: the eligibility rule every interface shares — a person made a case's handler (console, API,
  automatic) must be one of its candidates, checked by ``services.check_handler`` inside the transition.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, Q

from linli.cases import property_service, services
from linli.cases.choices import OPEN_INDEX_STATUSES, Action, HandlingLevel
from linli.cases.models import Case
from linli.core.errors import LinliError
from linli.org.access import ROLE_CAPS, Cap
from linli.org.choices import PostKind
from linli.org.models import Post
from linli.registry.models import Grid

# handling level → the post kinds that handle it, and on which place they sit.
LEVEL_POSTS: dict[str, tuple[str, ...]] = {
    HandlingLevel.BUILDING: (PostKind.GRID_WORKER,),
    HandlingLevel.GRID: (PostKind.GRID_WORKER,),
    HandlingLevel.COMMUNITY: (PostKind.COMMUNITY_WORKER, PostKind.SECRETARY),
    HandlingLevel.STREET: (PostKind.STREET_STAFF,),
    HandlingLevel.DEPARTMENT: (PostKind.DEPARTMENT_HANDLER,),
}


def _place(case: Case) -> Q | None:
    """Where the posts that handle ``case`` at its level sit (None: nowhere, e.g. no department routed)."""
    level = case.handling_level
    if level in (HandlingLevel.BUILDING, HandlingLevel.GRID):
        return Q(grid_id=case.grid_id)
    if level == HandlingLevel.DEPARTMENT:
        return Q(department_id=case.handler_department_id) if case.handler_department_id else None
    row = Grid.objects.filter(pk=case.grid_id).values_list("community_id", "community__parent_id").first()
    if row is None:
        return None
    community_id, street_id = row
    if level == HandlingLevel.COMMUNITY:
        return Q(region_id=community_id)
    if level == HandlingLevel.STREET and street_id:
        return Q(region_id=street_id)
    return None


def _level_kinds(case: Case) -> list[str]:
    """The post kinds that handle ``case`` at its level: the level's own, plus the compound's property manager for
    a 物业服务 appeal at a compound level (``property_service``)."""
    kinds = list(LEVEL_POSTS.get(case.handling_level, ()))
    if property_service.handled_by_property(case):
        kinds.append(property_service.MANAGER_KIND)
    return [k for k in kinds if Cap.CASE_HANDLE in ROLE_CAPS.get(k, ())]


def _candidate_posts(case: Case, only: tuple[str, ...] = ()) -> Any:
    """The active posts whose holders may handle ``case`` at its level and place (None: nobody); ``only``
    narrows them to some kinds."""
    kinds = [k for k in _level_kinds(case) if not only or k in only]
    place = _place(case)
    if not kinds or place is None:
        return None
    return Post.objects.active().filter(place, kind__in=kinds, user__isnull=False, user__is_active=True)


def is_candidate(case: Case, user: Any) -> bool:
    """Whether ``user`` is one of ``candidates(case)`` (one query)."""
    posts = _candidate_posts(case)
    return posts is not None and getattr(user, "pk", None) is not None and posts.filter(user=user).exists()


def candidates(case: Case, kinds: tuple[str, ...] = ()) -> list[Any]:
    """Users whose active posts (of ``kinds``, if given) can handle ``case`` at its level and place, by id (one
    or two queries)."""
    found_posts = _candidate_posts(case, kinds)
    if found_posts is None:
        return []
    posts = found_posts.select_related("user").order_by("user_id")
    found: dict[int, Any] = {}
    for post in posts:
        if post.user_id is not None:
            found.setdefault(post.user_id, post.user)
    return list(found.values())


def open_loads(user_ids: list[int]) -> dict[int, tuple[int, int]]:
    """user id → (open cases, id of their newest open case) in one aggregate query over the open-case index."""
    if not user_ids:
        return {}
    rows = (
        Case.objects.filter(handler_user_id__in=user_ids, status__in=OPEN_INDEX_STATUSES)
        .values("handler_user_id")
        .annotate(n=Count("id"), newest=Max("id"))
        .order_by()
    )
    return {r["handler_user_id"]: (r["n"], r["newest"]) for r in rows}


def candidates_with_load(case: Case) -> list[tuple[Any, int]]:
    """The candidates with their open load, fairest first (for a picker that shows the load)."""
    users = candidates(case)
    loads = open_loads([u.pk for u in users])
    return [(u, loads.get(u.pk, (0, 0))[0]) for u in sorted(users, key=lambda u: _rank(u, loads))]


def _rank(user: Any, loads: dict[int, tuple[int, int]]) -> tuple[int, int, int]:
    count, newest = loads.get(user.pk, (0, 0))
    return (count, newest, user.pk)


def pick_handler(case: Case, kinds: tuple[str, ...] = ()) -> Any | None:
    """The candidate with the least open cases (ties: longest since their last assignment, then id). A 物业服务
    appeal goes to the compound's property manager when there is one; ``kinds`` narrows the candidates."""
    users: list[Any] = []
    if not kinds and property_service.handled_by_property(case):
        users = candidates(case, (property_service.MANAGER_KIND,))
    users = users or candidates(case, kinds)
    if not users:
        return None
    loads = open_loads([u.pk for u in users])
    best = min(users, key=lambda u: _rank(u, loads))
    best._open_load = loads.get(best.pk, (0, 0))[0]
    return best


def assign_to(
    *, case: Case, user: Any, actor: Any, version: int, note: str = "", source: str = "console"
) -> Case:
    """The ``assign`` transition to ``user``, marked as a fair automatic assignment on the timeline."""
    return services.transition(
        case=case,
        action=Action.ASSIGN,
        actor=actor,
        version=version,
        note=note or f"按在办量均衡自动派单（当前在办 {getattr(user, '_open_load', 0)} 件）",
        source=source,
        handler_user=user,
        auto=True,
        open_load=getattr(user, "_open_load", None),
    )


def auto_assign(*, case: Case, actor: Any, version: int, note: str = "", source: str = "console") -> Case:
    """Assign ``case`` to the fairest candidate; LinliError (field ``handler_user``) when there is none."""
    services._authorize(actor, Cap.CASE_TRIAGE, case)
    user = pick_handler(case)
    if user is None:
        raise LinliError(
            f"“{HandlingLevel(case.handling_level).label}”层级没有可派单的承办人，请手动指定",
            field="handler_user",
        )
    return assign_to(case=case, user=user, actor=actor, version=version, note=note, source=source)
