"""Train, store, activate, roll back and use triage classifier versions."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from linli.cases.models import Category
from linli.core.crypto import cipher
from linli.core.errors import LinliError, PermissionDenied
from linli.org import access
from linli.triage.model import Params, Prediction, TextClassifier, cross_validate
from linli.triage.models import TriageModel

MAX_BLOB_BYTES = 50 * 1024 * 1024


def default_label_map(labels: Sequence[str]) -> dict[str, str]:
    """label → category code, for labels that equal a category's code or name."""
    by_code = {c.code: c.code for c in Category.objects.all()}
    by_name = {c.name: c.code for c in Category.objects.all()}
    return {
        label: by_code.get(label) or by_name[label]
        for label in labels
        if label in by_code or label in by_name
    }


SEAL_BYTES = 64  # hex of a keyed SHA-256 (or SM3) hash


def _mac(payload: bytes) -> bytes:
    return cipher().digest(hashlib.sha256(payload).hexdigest(), "triage-model").encode("ascii")


def seal(payload: bytes) -> bytes:
    """The pickled model, prefixed with a keyed hash under the platform's data key: a row written or changed by
    anyone without that key (say, through the database alone) is refused before pickle ever sees it."""
    return _mac(payload) + payload


def unseal(blob: bytes) -> bytes:
    mac, payload = blob[:SEAL_BYTES], blob[SEAL_BYTES:]
    if not hmac.compare_digest(mac, _mac(payload)):
        raise LinliError("模型数据校验失败（不是本平台写入的，或已被改动），拒绝加载")
    return payload


@dataclass(frozen=True)
class Fitted:
    """A classifier fitted and evaluated, not yet stored (``store``)."""

    labels: list[str]
    label_map: dict[str, str]
    metrics: dict[str, Any]
    blob: bytes


def fit_rows(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    label_map: dict[str, str] | None = None,
    params: Params | None = None,
    extra: Sequence[tuple[str, str]] = (),
    layout: dict[str, str] | None = None,
) -> Fitted:
    """Evaluate by seeded stratified cross-validation and fit on all rows: minutes of CPU on a city's history, and
    no write at all, so it runs outside any transaction (ADR 0027). ``extra``: label descriptions
    (``linli.triage.taxonomy``) that train beside the rows and are never scored; ``layout``: the columns of the file
    the rows came from, kept with the evaluation."""
    texts, labels = list(texts), [str(lab).strip() for lab in labels]
    if len(texts) != len(labels):
        raise LinliError("文本与类别的行数不一致")
    keep = [i for i, (t, lab) in enumerate(zip(texts, labels, strict=True)) if t.strip() and lab]
    texts, labels = [texts[i] for i in keep], [labels[i] for i in keep]
    if len(set(labels)) < 2 or min(labels.count(lab) for lab in set(labels)) < 2:
        raise LinliError("训练数据至少需要两个类别，且每个类别至少两条")
    metrics = cross_validate(texts, labels, make=lambda: TextClassifier(params), extra=extra)
    classifier = TextClassifier(params).fit(texts, labels, extra=extra)
    blob = seal(classifier.dumps())
    if len(blob) > MAX_BLOB_BYTES:
        raise LinliError(f"模型过大（{len(blob) // 1024 // 1024} MB > 50 MB）")
    metrics["train_rows"] = len(texts)
    if layout:
        metrics["layout"] = (
            layout  # the training file's columns: ``linli triage eval`` reads a file alike by default
        )
    metrics["label_descriptions"] = sum(1 for _, lab in extra if lab in set(classifier.labels))
    metrics["blob_bytes"] = len(blob)
    mapping = default_label_map(classifier.labels)
    mapping.update(label_map or {})
    return Fitted(labels=classifier.labels, label_map=mapping, metrics=metrics, blob=blob)


def store(
    fitted: Fitted,
    *,
    source: str = "",
    user: Any = None,
    activate_now: bool = False,
    guard: Callable[[], None] | None = None,
) -> TriageModel:
    """Store ``fitted`` as the next version (and activate it), in one short transaction. ``guard`` runs first in
    that transaction and may refuse (the retrain's lease check, ``linli.triage.lease.Held.check``)."""
    with transaction.atomic():
        if guard is not None:
            guard()
        latest = TriageModel.objects.select_for_update().aggregate(v=Max("version"))["v"] or 0
        row = TriageModel.objects.create(
            version=latest + 1,
            created_by=user if getattr(user, "pk", None) else None,
            labels=fitted.labels,
            label_map=fitted.label_map,
            metrics=fitted.metrics,
            source=source[:200],
            blob=fitted.blob,
        )
        if activate_now:
            row = activate(row.version)
    if activate_now:
        forget_active()  # again after the commit: no thread of this process caches the version it replaced
    return row


def train_from_rows(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    label_map: dict[str, str] | None = None,
    params: Params | None = None,
    source: str = "",
    user: Any = None,
    activate_now: bool = False,
    extra: Sequence[tuple[str, str]] = (),
    layout: dict[str, str] | None = None,
) -> TriageModel:
    """``fit_rows`` (outside any transaction), then ``store`` as the next version."""
    fitted = fit_rows(texts, labels, label_map=label_map, params=params, extra=extra, layout=layout)
    return store(fitted, source=source, user=user, activate_now=activate_now)


ACTIVE_TTL_SECONDS = 30.0
_active: dict[str, Any] = {"at": -1e9, "row": None}


def active_row() -> tuple[int, dict[str, str]] | None:
    """(version, label map) of the active model, read at most every ``ACTIVE_TTL_SECONDS`` per process: the hook
    runs on every new appeal and must not add a query to each (an activation reaches every process within 30 s)."""
    now = time.monotonic()
    if now - _active["at"] > ACTIVE_TTL_SECONDS:
        _active["row"] = TriageModel.objects.filter(active=True).values_list("version", "label_map").first()
        _active["at"] = now
    return _active["row"]


def forget_active() -> None:
    _active["at"] = -1e9


def activate(version: int) -> TriageModel:
    with transaction.atomic():
        row = TriageModel.objects.select_for_update().filter(version=version).first()
        if row is None:
            raise LinliError(f"没有版本 v{version}")
        TriageModel.objects.filter(active=True).exclude(pk=row.pk).update(active=False)
        row.active = True
        row.activated_at = timezone.now()
        row.save(update_fields=["active", "activated_at"])
    forget_active()
    return row


def rollback() -> TriageModel:
    """Re-activate the version that was active before the current one (the most recently activated other one)."""
    current = active_model()
    if current is None:
        raise LinliError("当前没有启用的模型")
    previous = (
        TriageModel.objects.exclude(pk=current.pk)
        .filter(activated_at__isnull=False)
        .order_by("-activated_at", "-version")
        .first()
    )
    if previous is None:
        previous = TriageModel.objects.filter(version__lt=current.version).order_by("-version").first()
    if previous is None:
        raise LinliError(f"v{current.version} 之前没有可回滚的版本")
    return activate(previous.version)


def can_manage(actor: Any) -> bool:
    """Activating and rolling back versions is installation-wide, like editing categories: ``Cap.CONFIGURE``."""
    return access.can_configure(actor)


def require_manager(actor: Any) -> None:
    if not can_manage(actor):
        raise PermissionDenied("只有县（区）、市管理员可以启用或回滚分拣模型")


def active_model() -> TriageModel | None:
    return TriageModel.objects.filter(active=True).defer("blob").first()


# --- use (cached per process, keyed by version) ---------------------------------------------------------------

_cache: dict[int, TextClassifier] = {}
_lock = threading.Lock()


def load(version: int) -> TextClassifier:
    """Version ``version``'s classifier, unpickled once per process (one at a time: concurrent requests on a cold
    cache wait for that one rather than each unpickling the blob). Callers run it outside write transactions."""
    found = _cache.get(version)
    if found is not None:
        return found
    with _lock:
        found = _cache.get(version)
        if found is None:
            blob = TriageModel.objects.filter(version=version).values_list("blob", flat=True).first()
            if blob is None:
                raise LinliError(f"没有版本 v{version}")
            found = TextClassifier.loads(unseal(bytes(blob)))
            _cache.clear()  # keep one model in memory
            _cache[version] = found
    return found


def classify(text: str, explain: int = 5) -> tuple[str, float, list[tuple[str, float]]] | None:
    """(label, confidence, explain terms) from the active model; None when no model is active."""
    row = TriageModel.objects.filter(active=True).values_list("version", flat=True).first()
    if row is None:
        return None
    p: Prediction = load(row).classify(text, explain)
    return p.label, p.confidence, p.explain
