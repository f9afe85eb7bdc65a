"""The metrics table as .xlsx: one row per group plus the total, rates as percentages next to the counts they come
from, and a second sheet with the definitions. Every text cell is written as text and guarded against formula
injection (group names are user-entered place and department names)."""

from __future__ import annotations

from typing import IO, Any

from django.utils.translation import gettext as _

from linli.metrics.definitions import COHORT_NOTE, MEDIAN_FORMULA, NO_RESPONSE_FORMULA, RATES
from linli.metrics.selectors import GROUP_LABELS, Report, Row
from linli.registry.ledger import guard

PERCENT = "0.0%"


def headers(group_by: str) -> list[str]:
    return [
        str(GROUP_LABELS[group_by]),
        _("有效诉求"),
        _("不予受理"),
        _("已合并"),
        _("在办"),
        _("响应率"),
        _("按时受理"),
        _("应计受理"),
        _("按时办结率"),
        _("按时办结"),
        _("应计办结"),
        _("办结率"),
        _("已办结"),
        _("满意率"),
        _("满意"),
        _("基本满意"),
        _("不满意"),
        _("回访无应答"),
        _("无应答占比"),
        _("返工率"),
        _("返工件数"),
        _("办结过的诉求"),
        _("办理时长中位数（小时）"),
    ]


def row_values(row: Row) -> list[Any]:
    """The cells of one row: counts as integers, rates as fractions (``None`` = nothing to rate, left empty)."""
    c, r = row.counts, row.rates
    median = row.median
    return [
        row.label,
        c.cases,
        c.rejected,
        c.merged,
        c.open,
        r["response"].value,
        c.accept_on_time,
        c.accept_counted,
        r["on_time"].value,
        c.resolve_on_time,
        c.resolve_counted,
        r["resolution"].value,
        c.resolved,
        r["satisfaction"].value,
        c.satisfied,
        c.basically,
        c.unsatisfied,
        c.no_response,
        row.no_response.value,
        r["rework"].value,
        c.reworked,
        c.ever_resolved,
        None if median.hours is None else round(median.hours, 1),
    ]


RATE_COLUMNS = {5, 8, 11, 13, 18, 19}  # 0-based columns holding a share


def export_report(report: Report, out: str | IO[bytes], *, scope_label: str = "") -> int:
    """Write ``report`` as a workbook; returns the number of group rows."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(_("三率统计"))

    def cell(value: Any, column: int) -> Any:
        if isinstance(value, str):
            c = WriteOnlyCell(ws, value=guard(value))
            c.data_type = "s"  # never a formula, whatever the first character
            return c
        if column in RATE_COLUMNS and value is not None:
            c = WriteOnlyCell(ws, value=value)
            c.number_format = PERCENT
            return c
        return value

    ws.append(headers(report.group_by))
    for row in [*report.rows, report.total]:
        ws.append([cell(v, i) for i, v in enumerate(row_values(row))])

    notes = wb.create_sheet(_("口径说明"))
    period = f"{report.period.start.isoformat()} ~ {report.period.end.isoformat()}"
    text_rows: list[tuple[str, str]] = [
        (_("统计期（上报日期）"), period),
        (_("统计范围"), scope_label or _("本人岗位所辖范围")),
        (_("统计口径"), str(COHORT_NOTE)),
    ]
    text_rows += [(str(d.label), str(d.formula)) for d in RATES]
    text_rows += [(_("无应答占比"), str(NO_RESPONSE_FORMULA)), (_("办理时长中位数"), str(MEDIAN_FORMULA))]
    for name, text in text_rows:
        notes.append([cell(name, -1), cell(text, -1)])
    wb.save(out)
    return len(report.rows)
