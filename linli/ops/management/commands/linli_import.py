"""``linli import regions FILE…`` and ``linli import residents FILE [--dry-run] [--report OUT] [--user NAME]``."""

from __future__ import annotations

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
        bar = tqdm(total=0, unit="行", file=sys.stderr, disable=opts["no_progress"] or None, desc="导入")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            if opts["dry_run"]:
                result = import_file(
                    path, scope=scope, actor=actor, dry_run=True, progress=progress, source="cli"
                )
            else:
                # A job checkpoints every committed batch: running the same command again after an interruption
                # (Ctrl-C, a crash, a lost database connection) resumes after the last committed batch.
                job, resumed = import_job_for_path(actor=actor, path=path)
                if resumed and job.rows_done:
                    self.stdout.write(
                        f"继续上次中断的导入：已完成 {job.rows_done} 行，从第 {job.rows_done + 2} 行继续"
                    )
                result = import_job_run(job.pk, scope, progress=progress)
        except LinliError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        prefix = "试导入（未写入）" if result.dry_run else "导入完成"
        self.stdout.write(
            f"{prefix}：新增 {result.created}，更新 {result.updated}，未变 {result.unchanged}，"
            f"有误 {result.rejected}，空行跳过 {result.skipped}（共 {result.rows_total} 行）"
        )
        for err in result.errors[:20]:
            self.stdout.write(f"  第{err.row}行 [{err.column}] {err.reason}")
        if len(result.errors) > 20:
            self.stdout.write(f"  …… 另有 {len(result.errors) - 20} 条问题")
        if opts["report"]:
            out = write_report(result, opts["report"])
            self.stdout.write(f"问题报告：{out}")
        if result.rejected:
            sys.exit(1)
