"""``linli export residents OUT.xlsx [--grid CODE | --region CODE] [--user NAME] [--reveal --reason TEXT]``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from linli.core.errors import LinliError
from linli.core.scope import Scope


class Command(BaseCommand):
    help = "导出居民台账（.xlsx），默认脱敏。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["residents"])
        parser.add_argument("out", help="输出文件 OUT.xlsx")
        where = parser.add_mutually_exclusive_group()
        where.add_argument("--grid", metavar="CODE", help="只导出该网格")
        where.add_argument("--region", metavar="CODE", help="只导出该区划（社区、街道……）")
        parser.add_argument(
            "--user", metavar="USERNAME", help="以该用户的权限导出（默认：系统导出，不限范围）"
        )
        parser.add_argument(
            "--reveal",
            action="store_true",
            help="导出完整证件号码和电话（须 --user 有查看权限并填写 --reason）",
        )
        parser.add_argument("--reason", default="", help="查看完整信息的事由（记入访问日志）")

    def handle(self, *args: Any, **opts: Any) -> None:
        from linli.registry.ledger_export import export_residents
        from linli.registry.models import Grid, Region

        actor, scope = self._scope(opts["user"], opts["reveal"])
        grid = region = None
        if opts["grid"]:
            grid = Grid.objects.filter(code=opts["grid"]).first()
            if grid is None:
                raise CommandError(f"网格编码 {opts['grid']} 不存在")
        if opts["region"]:
            region = Region.objects.filter(code=opts["region"]).first()
            if region is None:
                raise CommandError(f"区划代码 {opts['region']} 不存在")
        try:
            count = export_residents(
                scope=scope,
                out_path_or_file=opts["out"],
                grid=grid,
                region=region,
                reveal=opts["reveal"],
                actor=actor,
                reason=opts["reason"],
            )
        except LinliError as exc:
            raise CommandError(str(exc)) from exc
        masked = "完整信息（已记入访问日志）" if opts["reveal"] else "脱敏"
        self.stdout.write(f"已导出 {count} 位居民（{masked}）：{opts['out']}")

    def _scope(self, username: str | None, reveal: bool) -> tuple[Any, Scope]:
        from django.contrib.auth import get_user_model

        from linli.org.access import Cap, scope_for

        if not username:
            if reveal:
                raise CommandError("导出完整信息须用 --user 指定有查看权限的账号")
            return None, Scope(everything=True)
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户 {username} 不存在")
        scope = scope_for(user, Cap.EXPORT)
        if scope.empty:
            raise CommandError(f"用户 {username} 没有导出居民台账的权限")
        if reveal:
            # Every post granting pii.reveal also grants registry.export on the same place, so the reveal scope is
            # the part of the export scope where full values may be shown.
            scope = scope_for(user, Cap.REVEAL)
            if scope.empty:
                raise CommandError(f"用户 {username} 没有查看完整个人信息的权限")
        return user, scope
