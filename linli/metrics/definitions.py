"""What the metrics count, in one place: the per-case counters (as filters on ``Case``), the handling-time buckets
and the rates built from them. The rollup refresh and the plain-SQL aggregate both count with ``counters(now)``, so the
two can only agree; the page, the API and the .xlsx export show the ``RATES`` texts as the definitions.

Cohorts are the cases *reported* on a local day (``Asia/Shanghai``). Merged cases are left out (they count in the
case they were merged into); rejected cases (不予受理) are counted on their own and left out of every rate.
Whether a step was late is the flag frozen on the case when the step was done (``accept_overdue`` /
``resolve_overdue``); a step not done yet counts as late once its deadline has passed at the moment of counting
(``now``). The rollup keeps, per day, the next moment one of its deadlines passes, and the refresh re-counts the
day then, so the rollup always equals a count made now (within one refresh interval).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any

from django.db.models import Aggregate, Count, F, Min, Q
from django.utils.translation import gettext_lazy as _

from linli.cases.choices import OPEN, Satisfaction, Status

# Handling-time histogram: upper edges in hours of buckets 0..N-2; the last bucket is open (≥ 30 days).
BUCKET_EDGES_HOURS: tuple[int, ...] = (1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 360, 720)
BUCKETS = len(BUCKET_EDGES_HOURS) + 1
HIST_FIELDS = tuple(f"h{i:02d}" for i in range(BUCKETS))

VALID = ~Q(status__in=[Status.REJECTED, Status.MERGED])
RESOLVED = Q(resolved_at__isnull=False)


def _bucket_q(i: int) -> Q:
    """Resolved cases whose handling time (resolved_at − created_at) falls into bucket ``i``."""
    q = VALID & RESOLVED
    if i > 0:
        q &= Q(resolved_at__gte=F("created_at") + dt.timedelta(hours=BUCKET_EDGES_HOURS[i - 1]))
    if i < BUCKETS - 1:
        q &= Q(resolved_at__lt=F("created_at") + dt.timedelta(hours=BUCKET_EDGES_HOURS[i]))
    return q


def _accept_pending(now: dt.datetime) -> Q:
    """Not accepted yet and past the accept deadline at ``now``."""
    return Q(accept_overdue__isnull=True, accept_due_at__lt=now)


def _resolve_pending(now: dt.datetime) -> Q:
    """Not resolved yet and past the resolve deadline at ``now``; a paused case's clock stands still, so it is late
    only if the deadline had passed before it was paused."""
    running = ~Q(status=Status.PAUSED) & Q(resolve_due_at__lt=now)
    paused = Q(status=Status.PAUSED, resolve_due_at__lt=F("paused_at"))
    return Q(resolve_overdue__isnull=True) & (running | paused)


def counters(now: dt.datetime) -> dict[str, Q]:
    """Counter name → which cases of a cohort it counts at ``now``. Order = column order of the rollup table."""
    return {
        "cases": VALID,
        "rejected": Q(status=Status.REJECTED),
        "merged": Q(status=Status.MERGED),
        "open": VALID & Q(status__in=[str(s) for s in OPEN]),
        # Accepted at least once (the frozen flag is set then) or past the accept deadline without acceptance.
        "accept_counted": VALID & (Q(accept_overdue__isnull=False) | _accept_pending(now)),
        "accept_on_time": VALID & Q(accept_overdue=False),
        # Resolved at least once (frozen flag) or past the resolve deadline without resolution.
        "resolve_counted": VALID & (Q(resolve_overdue__isnull=False) | _resolve_pending(now)),
        "resolve_on_time": VALID & Q(resolve_overdue=False),
        # Resolved now (resolved, awaiting callback or closed after the callback); a reopened case is not.
        "resolved": VALID & RESOLVED,
        "closed": VALID & Q(status=Status.CLOSED),
        # Resolved at least once: resolved now, or reopened (reopening starts from a resolved case).
        "ever_resolved": VALID & (RESOLVED | Q(reopened_count__gt=0)),
        "reworked": VALID & Q(reopened_count__gt=0),
        # The latest callback answer of the case's own reporter.
        "satisfied": VALID & Q(satisfaction=Satisfaction.SATISFIED),
        "basically": VALID & Q(satisfaction=Satisfaction.BASICALLY),
        "unsatisfied": VALID & Q(satisfaction=Satisfaction.UNSATISFIED),
        "no_response": VALID & Q(satisfaction=Satisfaction.NO_RESPONSE),
        **{name: _bucket_q(i) for i, name in enumerate(HIST_FIELDS)},
    }


COUNTER_FIELDS = tuple(counters(dt.datetime(2000, 1, 1, tzinfo=dt.UTC)))
SCALAR_FIELDS = tuple(name for name in COUNTER_FIELDS if name not in HIST_FIELDS)


def case_aggregates(now: dt.datetime) -> dict[str, Aggregate]:
    """``annotate``/``aggregate`` arguments counting every counter over ``Case`` rows at ``now``."""
    return {name: Count("id", filter=q) for name, q in counters(now).items()}


def next_due_aggregates(now: dt.datetime) -> dict[str, Aggregate]:
    """The earliest deadline still ahead of ``now`` whose passing would change a counter (None: none)."""
    return {
        "next_accept_due": Min(
            "accept_due_at", filter=VALID & Q(accept_overdue__isnull=True, accept_due_at__gte=now)
        ),
        "next_resolve_due": Min(
            "resolve_due_at",
            filter=VALID
            & Q(resolve_overdue__isnull=True, resolve_due_at__gte=now)
            & ~Q(status=Status.PAUSED),
        ),
    }


@dataclass
class Counts:
    """Summed counters of one group (any number of rollup rows or cases)."""

    cases: int = 0
    rejected: int = 0
    merged: int = 0
    open: int = 0
    accept_counted: int = 0
    accept_on_time: int = 0
    resolve_counted: int = 0
    resolve_on_time: int = 0
    resolved: int = 0
    closed: int = 0
    ever_resolved: int = 0
    reworked: int = 0
    satisfied: int = 0
    basically: int = 0
    unsatisfied: int = 0
    no_response: int = 0
    hist: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Counts:
        return cls(
            **{name: int(row.get(name) or 0) for name in SCALAR_FIELDS},
            hist=[int(row.get(name) or 0) for name in HIST_FIELDS],
        )

    def add(self, other: Counts) -> None:
        for f in fields(self):
            if f.name == "hist":
                self.hist = [a + b for a, b in zip(self.hist, other.hist, strict=True)]
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {name: getattr(self, name) for name in SCALAR_FIELDS}
        out["hist"] = list(self.hist)
        return out

    # Derived counts named in the definitions.
    @property
    def answered(self) -> int:
        return self.satisfied + self.basically + self.unsatisfied

    @property
    def content(self) -> int:
        return self.satisfied + self.basically


@dataclass(frozen=True)
class Ratio:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """The share in 0..1, or ``None`` when nothing was counted (shown as "—", never as 0 %)."""
        return self.numerator / self.denominator if self.denominator else None

    @property
    def percent(self) -> str:
        value = self.value
        return "—" if value is None else f"{value * 100:.1f}%"


@dataclass(frozen=True)
class RateDef:
    key: str
    label: Any  # lazy translation
    formula: Any
    numerator: str  # attribute of Counts
    denominator: str
    higher_is_better: bool = True

    def of(self, counts: Counts) -> Ratio:
        return Ratio(getattr(counts, self.numerator), getattr(counts, self.denominator))


RATES: tuple[RateDef, ...] = (
    RateDef(
        "response",
        _("响应率"),
        _(
            "在受理时限内受理的诉求 ÷（已受理的诉求 + 已超过受理时限仍未受理的诉求）。"
            "是否按时以受理当时冻结的“受理超时”标记为准，之后重新办理也不改变。"
        ),
        "accept_on_time",
        "accept_counted",
    ),
    RateDef(
        "on_time",
        _("按时办结率"),
        _(
            "在办结时限内办结的诉求 ÷（办结过的诉求 + 已超过办结时限仍未办结的诉求）。"
            "是否按时以首次办结时冻结的“办结超时”标记为准；暂停期间时限顺延，批准的延期计入时限。"
        ),
        "resolve_on_time",
        "resolve_counted",
    ),
    RateDef(
        "resolution",
        _("办结率"),
        _("已办结（含待回访、已回访关闭）的诉求 ÷ 全部有效诉求。被重新办理的诉求在再次办结前不计为已办结。"),
        "resolved",
        "cases",
    ),
    RateDef(
        "satisfaction",
        _("满意率"),
        _(
            "（满意 + 基本满意）÷ 作出评价的回访（满意、基本满意、不满意）。回访无应答不计为满意，单独显示占比。"
        ),
        "content",
        "answered",
    ),
    RateDef(
        "rework",
        _("返工率"),
        _("至少被重新办理过一次的诉求 ÷ 办结过的诉求（回访不满意即重新办理，计为返工）。"),
        "reworked",
        "ever_resolved",
        higher_is_better=False,
    ),
)
RATE_BY_KEY = {r.key: r for r in RATES}
NO_RESPONSE_FORMULA = _("回访无应答 ÷（作出评价的回访 + 回访无应答）。")
COHORT_NOTE = _(
    "统计口径：按诉求的上报日期（北京时间）归入统计期；被合并的重复诉求计入合并后的诉求，不单独统计；"
    "不予受理的诉求单独计数，不计入任何比率的分母。"
)
MEDIAN_FORMULA = _(
    "已办结诉求从上报到办结所用时间（自然时间）的中位数。由分段直方图估算：各区间为 0–1、1–2、2–4、4–8、8–12、"
    "12–24、24–36、36–48、48–72、72–96、96–120、120–168、168–240、240–360、360–720 小时和 720 小时以上，"
    "在中位数所在区间内按线性插值，误差不超过该区间宽度。"
)


@dataclass(frozen=True)
class Median:
    hours: float | None  # the interpolated estimate; None when nothing was resolved
    low: float | None  # the bucket it fell in, [low, high) hours; high None = the open last bucket
    high: float | None
    count: int

    @property
    def open_ended(self) -> bool:
        return self.hours is not None and self.high is None


def median_from_hist(hist: list[int]) -> Median:
    """The median handling time estimated from the bucket counts by linear interpolation inside its bucket."""
    total = sum(hist)
    if not total:
        return Median(None, None, None, 0)
    half = total / 2
    seen = 0
    for i, n in enumerate(hist):
        if n and seen + n >= half:
            low = 0.0 if i == 0 else float(BUCKET_EDGES_HOURS[i - 1])
            if i == BUCKETS - 1:
                return Median(low, low, None, total)
            high = float(BUCKET_EDGES_HOURS[i])
            return Median(low + (high - low) * (half - seen) / n, low, high, total)
        seen += n
    raise AssertionError("unreachable: the half lies inside the histogram")  # pragma: no cover
