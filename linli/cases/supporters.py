"""“我也遇到了” (+1): a public "me too" on a visible case instead of a duplicate report.

Who supported is kept only as a keyed hash (``cipher().digest(who, "supporter")``) unique per case, so one person
counts once and nobody can read back who it was; the timeline entry records that someone supported, never who.
Only open, non-anonymous cases that were not merged away take support (an anonymous case is not shown publicly).

Who a supporter is decides what a +1 costs (ADR 0021): a signed-in user (``user:<id>``) through the API, and on the
public QR page the client address (``addr:<IPv4 address or IPv6 /64>``, see ``address_who``) — not a browser
cookie, which anyone can throw away and get anew 200 times a minute. One address counts once per case; people
sharing an address (one household's Wi-Fi) count once together, which undercounts a little and never overcounts.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from linli.audit import services as audit
from linli.cases import services
from linli.cases.choices import OPEN, Activity
from linli.cases.models import Case, Supporter
from linli.core.crypto import cipher
from linli.core.errors import LinliError

WHO_MAX = 200


def address_who(network: str) -> str:
    """The supporter identity of a public +1: the client's address as the rate limits count it."""
    return f"addr:{network}"


def support(*, case: Case, who: str) -> bool:
    """Count ``who`` (e.g. ``f"user:{id}"``, ``f"phone:{digits}"``, ``address_who(network)``) as a supporter of
    ``case``. Returns True if this was new, False if they had supported it already."""
    who = (who or "").strip()
    if not who or len(who) > WHO_MAX:
        raise LinliError("无法识别支持者", field="who")
    if case.anonymous:
        raise LinliError("匿名诉求不接受附议", field="case")
    if case.merged_into_id is not None or case.status not in OPEN:
        raise LinliError(f"诉求当前为“{case.get_status_display()}”，不能再附议", field="case")
    now = timezone.now()
    try:
        with transaction.atomic():
            Supporter.objects.create(case=case, digest=cipher().digest(who, "supporter"), created_at=now)
            # Who it was appears nowhere: not on the timeline, not in the audit trail.
            services.record_event(case, kind=Activity.SUPPORT, actor=None, at=now)
            audit.change_record(
                actor=None,
                entity=services.CASE,
                entity_id=case.pk,
                action="update",
                after={"action": Activity.SUPPORT},
                source="public",
            )
    except IntegrityError:  # supported already (the unique (case, digest) index)
        return False
    return True


def supporter_counts(case_ids: list[int]) -> dict[int, int]:
    """case id → number of supporters, for a page of cases (one aggregate query; cases without any are left out)."""
    if not case_ids:
        return {}
    rows = (
        Supporter.objects.filter(case_id__in=list(case_ids))
        .values("case_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {r["case_id"]: r["n"] for r in rows}


def has_supported(case: Case, who: str) -> bool:
    """Whether ``who`` supported ``case`` already (to show the button as pressed)."""
    if not who:
        return False
    return Supporter.objects.filter(case_id=case.pk, digest=cipher().digest(who, "supporter")).exists()
