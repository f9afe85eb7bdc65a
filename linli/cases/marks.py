"""The supervision marks (``accept_alert``, ``resolve_alert``) when a step's due time moves.

A mark records that the yellow (80 %) or red (overdue) notice of a step was issued, and the due-time sweeps skip a
marked step. So when a step gets a new deadline — triage into another category, undoing an automatic triage,
reopening, an approved extension — a mark issued for the old deadline must not keep the new one unsupervised
(issue #10 item 4). ``reset_supervision_marks`` is the one rule every such place applies (ADR 0025):

* the due time did not move: the mark stays;
* the new deadline lies in the future: the mark goes back to none, and the sweeps warn again for it (yellow at
  once if its 80 % point has passed already, red when it passes);
* the new deadline has passed already: the mark stays (a red notice issued stands for this lateness; escalating
  the case a second time for the same overdue step would punish the re-routing, not the delay).

Resuming a paused case also shifts the resolve deadline, by exactly the paused time: every mark issued before the
pause is still true of the shifted times, so resume keeps the marks and does not use this helper.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from linli.cases.choices import ALERT_NONE
from linli.cases.deadlines import Deadlines


def reset_supervision_marks(
    case: Any, step: str, *, due_at: dt.datetime | None, now: dt.datetime
) -> dict[str, Any]:
    """The column values to write with ``step``'s new ``due_at``: ``{"<step>_alert": ALERT_NONE}`` when the mark
    must be cleared, else nothing. ``case`` is the row as it was before the move (its old due time and mark)."""
    if due_at is None or due_at == getattr(case, f"{step}_due_at") or due_at <= now:
        return {}
    return {f"{step}_alert": ALERT_NONE}


def moved_clocks(case: Any, due: Deadlines, now: dt.datetime) -> dict[str, Any]:
    """The column values of a recomputed clock (``deadlines.Deadlines``) for both steps, marks reset by the rule above."""
    values: dict[str, Any] = {
        "accept_due_at": due.accept_due_at,
        "resolve_due_at": due.resolve_due_at,
        "accept_soon_at": due.accept_soon_at,
        "resolve_soon_at": due.resolve_soon_at,
    }
    for step in ("accept", "resolve"):
        values |= reset_supervision_marks(case, step, due_at=values[f"{step}_due_at"], now=now)
    return values
