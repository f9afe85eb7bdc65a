"""What the resident page adds beside the ledger fields (issue #12): the person's appeals, as far as the viewer may
see cases, and who saw their full ID number or phone (the reveal log), to those who may reveal them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from linli.audit import services as audit
from linli.cases import selectors as case_selectors
from linli.cases.models import Case
from linli.org import access
from linli.org.access import Cap
from linli.registry import services as registry_services
from linli.registry.models import Resident

APPEALS_SHOWN = 20
REVEALS_SHOWN = 20
FIELD_LABELS = {"id_number": _("证件号码"), "phone": _("联系电话")}


@dataclass(frozen=True)
class Reveal:
    at: Any
    actor: str
    field: str
    reason: str


def appeals(user: Any, resident: Resident) -> list[Case] | None:
    """The newest cases this resident reported, within the viewer's case scope; None: the viewer sees no cases."""
    scope = access.scope_for(user, Cap.CASE_VIEW)
    if scope.empty:
        return None
    return case_selectors.case_list_for(
        scope, case_selectors.CaseFilter(resident_id=resident.pk), limit=APPEALS_SHOWN
    )


def reveals(user: Any, resident: Resident) -> list[Reveal] | None:
    """The reveal log of this resident's personal values; None unless the viewer may reveal them."""
    if not access.can(user, Cap.REVEAL, resident):
        return None
    rows = audit.access_log_for(registry_services.RESIDENT, resident.pk, limit=REVEALS_SHOWN)
    return [Reveal(r.at, str(r.actor), str(FIELD_LABELS.get(r.field, r.field)), r.reason) for r in rows]


def record_context(user: Any, resident: Resident) -> dict[str, Any]:
    return {"appeals": appeals(user, resident), "reveals": reveals(user, resident)}
