"""``linli apikey create NAME [--grid ID]`` · ``linli apikey list`` · ``linli apikey revoke NAME``.

``create`` prints the new Open311 API key once; only its keyed hash is stored, so it cannot be shown again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from linli.core.errors import LinliError


class Command(BaseCommand):
    help = "管理 Open311 接口密钥：create 新建（密钥只打印这一次）、list 列出、revoke 停用。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="新建客户端并打印其接口密钥")
        create.add_argument("name", help="客户端名称（唯一），如 fixmystreet")
        create.add_argument(
            "--grid", metavar="ID", help="默认受理网格（网格 id 或网格编码）：无法定位的诉求落到该网格"
        )
        sub.add_parser("list", help="列出客户端（只显示密钥前缀）")
        revoke = sub.add_parser("revoke", help="停用客户端的接口密钥")
        revoke.add_argument("name")

    def handle(self, *args: Any, **opts: Any) -> None:
        from linli.open311 import apikeys
        from linli.open311.models import ApiClient
        from linli.registry.models import Grid

        if opts["action"] == "list":
            for c in apikeys.clients():
                state = "启用" if c.active else "已停用"
                used = c.last_used_at.isoformat(timespec="seconds") if c.last_used_at else "从未使用"
                self.stdout.write(f"{c.name}\t{c.key_prefix}…\t{state}\t{used}")
            return
        if opts["action"] == "revoke":
            client = ApiClient.objects.filter(name=opts["name"]).first()
            if client is None:
                raise CommandError(f"客户端 {opts['name']} 不存在")
            if not apikeys.client_revoke(client=client, source="cli"):
                raise CommandError(f"客户端 {client.name} 的接口密钥此前已停用")
            self.stdout.write(f"已停用 {client.name} 的接口密钥")
            return
        grid = None
        if opts["grid"]:
            ref = str(opts["grid"]).strip()
            grid = Grid.objects.filter(pk=int(ref)).first() if ref.isdigit() else None
            grid = grid or Grid.objects.filter(code=ref).first()
            if grid is None:
                raise CommandError(f"网格 {ref} 不存在（请填写网格 id 或网格编码）")
        try:
            client, key = apikeys.client_create(name=opts["name"], default_grid=grid)
        except LinliError as exc:
            raise CommandError(str(exc)) from exc
        where = f"，默认受理网格：{grid.name}（{grid.code}）" if grid else ""
        self.stderr.write(f"已创建 Open311 客户端 {client.name}{where}。接口密钥只显示这一次，请妥善保存：")
        self.stdout.write(key)
