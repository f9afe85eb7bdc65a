"""物业服务 appeals and the compound's property manager (物业经理, issue #12 item 5).

A category marked ``Category.property_service`` (the default set marks 物业服务, 公共设施报修 and 电梯故障) is
handled by the property company of the compound where it was reported, when the compound (a grid) has a property
manager post:

* at intake the system assigns the appeal to that manager (the least loaded one when there are several), and the
  manager is told through the inbox like any handler (``route_new_case``);
* the manager is one of the case's candidates while it stays at a compound level (building or grid), so the
  community may assign such a case to the manager by hand, and fair assignment prefers the manager
  (``linli.cases.assignment``);
* the manager's post grants ``cases.view`` and ``cases.handle`` only over the cases of its compound handed to them
  (``linli.org.access.HANDLED_ONLY``: one scoping layer, ``Scope.handled``) — never the grid's other cases.

The community sees and supervises these cases as any other of its area (deadlines, supervision, callback).
"""

from __future__ import annotations

from linli.cases.choices import HandlingLevel, Status
from linli.cases.models import Case, Category
from linli.org.choices import PostKind

# The levels at which a compound's own people handle a case (the grid's workers, and for these categories its
# property manager); above them (community, street, department) the property manager is not a candidate.
COMPOUND_LEVELS = frozenset({HandlingLevel.BUILDING, HandlingLevel.GRID})
MANAGER_KIND = PostKind.PROPERTY_MANAGER
# Statuses in which a new case may still be routed (reported, or triaged by the classifier, and nobody assigned).
ROUTABLE = frozenset({Status.SUBMITTED, Status.TRIAGED})
ROUTE_NOTE = "物业服务类诉求，已自动派给本小区物业经理办理"


def is_property_category(category: Category) -> bool:
    return bool(category.property_service)


def handled_by_property(case: Case) -> bool:
    """Whether the compound's property manager may handle ``case``: a property-service category at a compound
    level (building or grid)."""
    return is_property_category(case.category) and case.handling_level in COMPOUND_LEVELS


def route_new_case(case: Case, *, filed_as: Category, source: str) -> bool:
    """Assign a new property-service appeal to its compound's property manager (the system acts; the manager gets
    the usual 派单 message). True when it was routed; False when the case is not one, is already assigned, the
    compound has no property manager, or smart triage moved it to its category (``filed_as`` is the category it
    was reported under: a classifier's guess is not handed to a company outside; staff triage it) — then it waits
    for triage like any other case."""
    if case.status not in ROUTABLE or case.handler_user_id is not None or case.category_id != filed_as.pk:
        return False
    if not handled_by_property(case):
        return False
    from linli.cases import assignment

    manager = assignment.pick_handler(case, kinds=(MANAGER_KIND,))
    if manager is None:
        return False
    assignment.assign_to(
        case=case, user=manager, actor=None, version=case.version, note=ROUTE_NOTE, source=source
    )
    return True
