"""``linli import regions FILE…`` and ``linli import residents FILE [--dry-run] [--report OUT] [--user NAME]
[--create-places] [--mapping MAP.json] [--sheet NAME] [--replace-empty] [--allow-renames] [--grid CODE]``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from linli.core.errors import LinliError
from linli.core.scope import Scope


class Command(BaseCommand):
    help = "导入区划代码（regions）或居民台账（residents，.xlsx / .csv）。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["regions", "residents"], help="regions 或 residents")
        parser.add_argument("files", nargs="*", help="文件；regions 不给文件时载入内置的菏泽市区划表")
        parser.add_argument("--dry-run", action="store_true", help="试导入：检查并统计将发生的变化，不写入")
        parser.add_argument("--report", metavar="OUT", help="把问题行写入报告（.xlsx 或 .csv）")
        parser.add_argument(
            "--user", metavar="USERNAME", help="以该用户的权限导入（默认：系统导入，不限范围）"
        )
        parser.add_argument(
            "--create-places", action="store_true", help="新建文件中出现而系统中没有的楼栋、单元、住户"
        )
        parser.add_argument(
            "--mapping",
            metavar="MAP.json",
            help='列对应关系：JSON 对象，表头 → 字段代码或中文名称，如 {"身份证": "id_number", "座号": "楼栋"}；"" 为忽略该列',
        )
        parser.add_argument("--sheet", metavar="NAME", help="导入的工作表（默认：第一个有表头的工作表）")
        parser.add_argument(
            "--replace-empty", action="store_true", help="空白单元格清空原有值（默认保留原有值）"
        )
        parser.add_argument(
            "--allow-renames",
            action="store_true",
            help="同一证件号码姓名不同时按文件更名（默认作为冲突列出）",
        )
        parser.add_argument("--grid", metavar="CODE", help="文件中没有网格或小区列时，所有行导入到该网格")
        parser.add_argument("--template", metavar="OUT.xlsx", help="写出空白台账模板后退出")
        parser.add_argument("--no-progress", action="store_true", help="不显示进度条")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["kind"] == "regions":
            self._regions([Path(f) for f in opts["files"]])
            return
        if opts["template"]:
            from linli.registry.ledger import write_template

            write_template(opts["template"])
            self.stdout.write(f"已写出台账模板：{opts['template']}")
            return
        if len(opts["files"]) != 1:
            raise CommandError("请给出一个台账文件：linli import residents FILE")
        self._residents(Path(opts["files"][0]), opts)

    def _regions(self, files: list[Path]) -> None:
        from linli.registry.regions import HEZE_FILES, RegionFileError, load_regions

        try:
            result = load_regions(files or HEZE_FILES)
        except (RegionFileError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"区划：新增 {result.created}，更新 {result.updated}，未变 {result.unchanged}")

    def _scope(self, username: str | None) -> tuple[Any, Scope]:
        if not username:
            return None, Scope(everything=True)
        from django.contrib.auth import get_user_model

        from linli.org.access import Cap, scope_for

        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户 {username} 不存在")
        scope = scope_for(user, Cap.IMPORT)
        if scope.empty:
            raise CommandError(f"用户 {username} 没有导入居民台账的权限")
        return user, scope

    def _mapping(self, source: str | None) -> dict[str, str]:
        """MAP.json: header → field key, or the field's Chinese label (as listed by ``field_choices``)."""
        if not source:
            return {}
        from linli.registry import ledger_columns

        try:
            data = json.loads(Path(source).read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"无法读取列对应文件 {source}：{exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise CommandError(f"列对应文件 {source} 应为 JSON 对象：表头 → 字段代码或中文名称")
        choices = [(str(k), str(v)) for k, v in ledger_columns.field_choices()]
        by_label = {label: k for k, label in choices} | {"忽略": ""}
        mapping: dict[str, str] = {}
        unknown: list[str] = []
        for header, target in data.items():
            target = target.strip()
            key = target if ledger_columns.valid_key(target) else by_label.get(target)
            if key is None:
                unknown.append(f"{header} → {target}")
                continue
            mapping[ledger_columns.normalise_header(str(header))] = key
        if unknown:
            raise CommandError(
                "列对应文件中有无法识别的字段："
                + "；".join(unknown)
                + "（可用的字段："
                + "、".join(label for k, label in choices if k)
                + "）"
            )
        return mapping

    def _grid_id(self, code: str | None, scope: Scope) -> int | None:
        if not code:
            return None
        from linli.registry import selectors
        from linli.registry.models import Grid

        grid = Grid.objects.filter(code=code).first()
        if grid is None:
            raise CommandError(f"网格 {code} 不存在")
        if not scope.everything and not selectors.grids_in_scope(scope=scope).filter(pk=grid.pk).exists():
            raise CommandError(f"网格 {code} 不在该用户的导入范围内")
        return grid.pk

    def _options(self, opts: dict[str, Any], scope: Scope) -> Any:
        from linli.registry.ledger_import import ImportOptions

        return ImportOptions(
            sheet=opts["sheet"] or None,
            mapping=self._mapping(opts["mapping"]),
            create_places=bool(opts["create_places"]),
            replace_empty=bool(opts["replace_empty"]),
            allow_renames=bool(opts["allow_renames"]),
            grid_id=self._grid_id(opts["grid"], scope),
            community_id=getattr(_only_community(scope), "pk", None),
        )

    def _show_columns(self, path: Path, options: Any, scope: Scope) -> None:
        """Print what the reader found (sheet, header rows, each column's field) and the file's warnings; stop
        before anything is written when the mapping is incomplete."""
        from linli.registry import ledger_columns
        from linli.registry.ledger import inspect_ledger

        region = _only_community(scope)
        table = ledger_columns.column_table(region=region, mapping=options.mapping or None)
        with inspect_ledger(path, sheet=options.sheet, table=table) as ledger:
            pass  # only the header, the columns and the problems are needed
        labels = {str(k): str(v) for k, v in ledger_columns.field_choices()}
        where = f"工作表“{ledger.sheet}”，" if ledger.sheet and ledger.kind == "xlsx" else ""
        first, last = ledger.header_rows
        rows = f"第 {first} 行" if first == last else f"第 {first}–{last} 行"
        self.stdout.write(f"{where}表头在{rows}；列识别：")
        for column in ledger.columns:
            if column.key:
                field = f"{labels.get(column.key, column.key)}（{_HOW.get(column.how, column.how)}）"
            else:
                field = "（未识别，忽略）" if column.how == "unknown" else "（忽略）"
            self.stdout.write(f"  {column.letter:>3} {column.header or '—'} → {field}")
        for warning in ledger.warnings:
            self.stdout.write(f"提示：{warning}")
        problems = list(ledger.problems)
        if problems:
            raise CommandError("；".join(problems) + "（可用 --mapping MAP.json 指定列对应关系）")

    def _residents(self, path: Path, opts: dict[str, Any]) -> None:
        from tqdm import tqdm

        from linli.registry.ledger_import import (
            import_file,
            import_job_for_path,
            import_job_run,
            write_report,
        )

        if not path.is_file():
            raise CommandError(f"文件不存在：{path}")
        actor, scope = self._scope(opts["user"])
        try:
            options = self._options(opts, scope)
            self._show_columns(path, options, scope)
        except LinliError as exc:
            raise CommandError(str(exc)) from exc
        bar = tqdm(total=0, unit="行", file=sys.stderr, disable=opts["no_progress"] or None, desc="导入")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            if opts["dry_run"]:
                result = import_file(
                    path,
                    scope=scope,
                    actor=actor,
                    dry_run=True,
                    progress=progress,
                    source="cli",
                    options=options,
                )
            else:
                # A job checkpoints every committed batch: running the same command again after an interruption
                # (Ctrl-C, a crash, a lost database connection) resumes after the last committed batch.
                job, resumed = import_job_for_path(actor=actor, path=path, options=options)
                if resumed and job.rows_done:
                    self.stdout.write(
                        f"继续上次中断的导入：已完成 {job.rows_done} 行，从第 {job.last_row + 1} 行继续"
                    )
                result = import_job_run(job.pk, scope, progress=progress)
        except LinliError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self._report(result, opts, write_report)

    def _report(self, result: Any, opts: dict[str, Any], write_report: Any) -> None:
        prefix = "试导入（未写入）" if result.dry_run else "导入完成"
        self.stdout.write(
            f"{prefix}：新增 {result.created}，更新 {result.updated}，未变 {result.unchanged}，"
            f"有误 {result.rejected}，空行跳过 {result.skipped}（共 {result.rows_total} 行）"
        )
        lines = result.summary()
        for line in lines[:SUMMARY_SHOWN]:
            severity = _SEVERITY.get(line.get("severity", ""), "")
            column = f"{line['column']}：" if line.get("column") else ""
            text = str(line.get("text", ""))
            first = "、".join(str(r) for r in (line.get("first_rows") or [])[:5])
            count = f"{line.get('rows', 0)} 行"
            where = "，".join(
                p for p in ("" if count in text else count, f"如第 {first} 行" if first else "") if p
            )
            self.stdout.write(f"  [{severity}] {column}{text}" + (f"（{where}）" if where else ""))
        if len(lines) > SUMMARY_SHOWN:
            self.stdout.write(f"  …… 另有 {len(lines) - SUMMARY_SHOWN} 类问题，见 --report 报告")
        changed = max(
            getattr(result, "changes_total", 0) - result.created, 0
        )  # the total counts new people too
        if result.dry_run and changed:
            self.stdout.write(f"将变更已登记居民 {changed} 处（明细见 --report 报告的“变更预览”）")
        if not opts["create_places"] and any(e.code.startswith("place.new") for e in result.errors):
            self.stdout.write(
                "文件中有系统里没有的楼栋、单元或住户：核对无误后加 --create-places 重新运行即可新建"
            )
        if opts["report"]:
            out = write_report(result, opts["report"])
            self.stdout.write(f"问题报告：{out}")
        if result.rejected:
            sys.exit(1)


SUMMARY_SHOWN = 40
_HOW = {"synonym": "自动识别", "alias": "已记住", "mapping": "指定", "ignored": "忽略", "unknown": "未识别"}
_SEVERITY = {"error": "错误", "warning": "提示", "note": "转换"}


def _only_community(scope: Scope) -> Any:
    """The community whose remembered column names apply: the only one in the user's import scope, else None."""
    if scope.everything or not scope.region_ranges:
        return None
    from django.db.models import Q

    from linli.registry.models import Region

    q = Q(pk__in=[])
    for lo, hi in scope.region_ranges:
        q |= Q(code__gte=str(lo), code__lte=str(hi))
    communities = list(Region.objects.filter(q, level="community")[:2])
    return communities[0] if len(communities) == 1 else None
