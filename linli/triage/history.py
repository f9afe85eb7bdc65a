"""Learning from the platform's own history: labelled examples from staff triage, training from them, the
scheduled retrain, and which cases the classifier routed.

Labelled examples (``training_rows``): for every case whose category a person set or confirmed, its text
(``join_text(title, description)``) and the category of its **last triage by a person** (a triage event with an
actor; the classifier's own triage has none and is never a label). A staff triage that changed the category is a
correction, one that kept it a confirmation; an automatic triage that was undone and then triaged by staff counts
with the staff's category. Merged cases are left out (their text duplicates the case they went into), so are cases
never triaged by a person. Labels are category codes, so a model trained on them maps each label to itself.

The scheduled retrain (``retrain_if_due``, a monitor sweep) queues a training when at least
``LINLI_TRIAGE_RETRAIN_MIN_NEW`` cases got a staff triage since the reference version (the active one, else the
latest) was trained and ``LINLI_TRIAGE_RETRAIN_EVERY_HOURS`` have passed. The task (``linli.triage.tasks``) checks
again while holding the retrain's lease (``linli.triage.lease``: a row with an expiry, renewed while training), so
any number of monitors, workers and duplicate queue entries train once; a training from the command line takes the
same lease. Training runs outside any transaction (on SQLite a transaction that long would hold the write lock of
the whole site); only storing and activating the new version is one short transaction, which first checks that
the lease is still ours (ADR 0027).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from linli.cases.choices import Action, Status
from linli.cases.models import Case, CaseEvent, Category
from linli.core.errors import LinliError
from linli.triage import lease, services, taxonomy
from linli.triage.lease import Held
from linli.triage.model import join_text
from linli.triage.models import TriageModel

logger = logging.getLogger("linli.triage")

SOURCE = "history"
F1_TOLERANCE = (
    0.02  # a retrained version is activated unless its macro-F1 is worse than the active one's by more
)
LEASE = "triage.retrain"  # the name of the retrain's lease (``linli.triage.lease``)
CHUNK = 1000


def min_new() -> int:
    return int(getattr(settings, "LINLI_TRIAGE_RETRAIN_MIN_NEW", 50))


def every() -> dt.timedelta:
    return dt.timedelta(hours=float(getattr(settings, "LINLI_TRIAGE_RETRAIN_EVERY_HOURS", 24)))


# --------------------------------------------------------------------------------------------- labelled rows


def labelled_events() -> QuerySet[CaseEvent]:
    """Triage events by a person, of cases not merged away."""
    return CaseEvent.objects.filter(kind=Action.TRIAGE, actor__isnull=False).exclude(
        case__status=Status.MERGED
    )


def max_rows() -> int:
    return int(getattr(settings, "LINLI_TRIAGE_TRAIN_MAX_ROWS", 200_000))


def training_rows(limit: int | None = None) -> tuple[list[str], list[str]]:
    """(texts, category codes), one row per case labelled by a person, in case order (see the module doc): the
    newest ``limit`` (default ``LINLI_TRIAGE_TRAIN_MAX_ROWS``) such cases, so a city's years of history train in
    minutes, not hours, and on what residents write now."""
    limit = max_rows() if limit is None else limit
    last: dict[int, str] = {}
    events = labelled_events().order_by("-case_id", "-id").values_list("case_id", "data")
    for case_id, data in events.iterator():
        if case_id in last:
            continue  # newest event first: a case's first row here is its last staff triage
        if len(last) >= limit:
            break
        last[case_id] = str((data or {}).get("category") or "")
    last = {pk: code for pk, code in last.items() if code}
    ids = sorted(last)
    texts, labels = [], []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = Case.objects.filter(pk__in=chunk).values_list("pk", "title", "description")
        found = {pk: join_text(title, description) for pk, title, description in rows}
        for pk in chunk:
            if found.get(pk):
                texts.append(found[pk])
                labels.append(last[pk])
    return texts, labels


def reference() -> TriageModel | None:
    """The version new examples are counted against: the active one, else the latest."""
    rows = TriageModel.objects.defer("blob")
    return rows.filter(active=True).first() or rows.order_by("-version").first()


def new_examples(since: dt.datetime | None) -> int:
    """Cases that got a staff triage after ``since`` (all labelled cases when None)."""
    rows = labelled_events()
    if since is not None:
        rows = rows.filter(at__gt=since)
    return rows.values("case_id").distinct().count()


def retrain_due(now: dt.datetime | None = None) -> bool:
    ref = reference()
    now = now or timezone.now()
    if ref is not None and now - ref.created_at < every():
        return False
    return new_examples(ref.created_at if ref is not None else None) >= min_new()


# ------------------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class Trained:
    row: TriageModel
    activated: bool
    message: str


def category_descriptions() -> list[tuple[str, str]]:
    """Each active category's name, keywords and description, labelled with its code (``taxonomy.category_docs``)."""
    rows = Category.objects.filter(active=True).values_list("code", "name", "keywords", "description")
    return taxonomy.category_docs(rows.order_by("code"))


def lease_seconds() -> float:
    return float(getattr(settings, "LINLI_TRIAGE_RETRAIN_LEASE_SECONDS", 600))


def _train(held: Held, *, activate: bool, user: Any) -> Trained:
    """Train on ``training_rows`` outside any transaction; store (and activate) in one short one, if the lease is
    still ours."""
    texts, labels = training_rows()
    if not texts:
        raise LinliError("历史中还没有人工分流过的诉求，无法训练")
    fitted = services.fit_rows(
        texts, labels, label_map={code: code for code in set(labels)}, extra=category_descriptions()
    )
    new_f1 = float(fitted.metrics.get("macro_f1") or 0.0)
    current = services.active_model()
    old_f1 = float(current.metrics.get("macro_f1") or 0.0) if current is not None else None
    worse = old_f1 is not None and new_f1 < old_f1 - F1_TOLERANCE
    row = services.store(
        fitted, source=SOURCE, user=user, activate_now=activate and not worse, guard=held.check
    )
    if not activate:
        return Trained(row, False, f"v{row.version} stored (macro-F1 {new_f1:.4f}), not activated")
    if worse:
        assert current is not None
        return Trained(
            row,
            False,
            f"v{row.version} stored, NOT activated: macro-F1 {new_f1:.4f} is worse than the active "
            f"v{current.version}'s {old_f1:.4f} by more than {F1_TOLERANCE}",
        )
    return Trained(row, True, f"v{row.version} is active (macro-F1 {new_f1:.4f})")


def train_from_history(*, activate: bool = False, user: Any = None) -> Trained:
    """Train on ``training_rows`` and store the next version with its evaluation. With ``activate`` it becomes
    the active version unless its macro-F1 is worse than the active version's by more than ``F1_TOLERANCE``.
    Holds the retrain's lease: refused while another training from history runs."""
    with lease.held(LEASE, lease_seconds()) as mine:
        if mine is None:
            raise LinliError("另一次分拣模型训练正在进行，请稍后再试")
        return _train(mine, activate=activate, user=user)


def retrain_now_if_due() -> Trained | None:
    """Retrain from history (activating under the macro-F1 rule) if it is due; None when not due or busy."""
    with lease.held(LEASE, lease_seconds()) as mine:
        if mine is None or not retrain_due():
            return None
        try:
            done = _train(mine, activate=True, user=None)
        except LinliError as exc:
            logger.warning("scheduled triage retrain skipped: %s", exc)
            return None
    logger.info("scheduled triage retrain: %s", done.message)
    return done


def retrain_if_due() -> int:
    """The monitor's sweep: queue the retrain task when it is due (the task checks again under its lease)."""
    if not retrain_due():
        return 0
    from linli.triage.tasks import retrain_from_history

    retrain_from_history.enqueue()
    return 1


# ------------------------------------------------------------------------------------------- auto-routed cases


@dataclass(frozen=True)
class AutoRoute:
    """The classifier's triage of a case, as the console marks it."""

    event_id: int
    model: int | None
    confidence: float | None
    terms: list[str] = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round((self.confidence or 0.0) * 100)


def auto_routes(case_ids: list[int]) -> dict[int, AutoRoute]:
    """Of ``case_ids``, the cases whose category the classifier set and no person changed since (last triage
    automatic, not undone), with its mark: one query."""
    if not case_ids:
        return {}
    last: dict[int, tuple[int, str, dict[str, Any]]] = {}
    rows = (
        CaseEvent.objects.filter(case_id__in=case_ids, kind__in=[Action.TRIAGE, Action.UNDO_AUTO_TRIAGE])
        .order_by("case_id", "id")
        .values_list("case_id", "id", "kind", "data")
    )
    for case_id, event_id, kind, data in rows:
        last[case_id] = (event_id, kind, data or {})
    found: dict[int, AutoRoute] = {}
    for case_id, (event_id, kind, data) in last.items():
        mark = data.get("auto") if kind == Action.TRIAGE else None
        if mark:
            found[case_id] = AutoRoute(
                event_id=event_id,
                model=mark.get("model"),
                confidence=mark.get("confidence"),
                terms=list(mark.get("terms") or []),
            )
    return found
