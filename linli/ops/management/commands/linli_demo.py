"""``linli demo [--scale small|city] [--no-serve] [--port N] [--seed N]``: migrate, seed the demo county, print the
staff logins and serve the console with the task worker and the monitor running in-process."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from linli.ops.citygen import generate_city
from linli.ops.demo import DEMO_PASSWORD, DEMO_SEED, demo_logins, ensure_city_admin, format_logins, seed_demo
from linli.ops.demo_start import demo_base_url, format_start_points, start_points

CITY_RESIDENTS = 1_000_000


class Command(BaseCommand):
    help = "迁移数据库、生成演示县区（牡丹区）并启动控制台。"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--scale",
            choices=["small", "city"],
            default="small",
            help="small: 2万居民的演示县区；city: 另加 100 万居民（基准测试用）",
        )
        parser.add_argument("--no-serve", action="store_true", help="只生成数据，不启动服务")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--seed", type=int, default=DEMO_SEED, help="随机种子：同一种子生成同样的数据")
        parser.add_argument("--residents", type=int, default=20_000, help="演示县区的居民人数")
        parser.add_argument(
            "--city-residents", type=int, default=CITY_RESIDENTS, help="--scale city 的居民人数"
        )
        parser.add_argument("--all-logins", action="store_true", help="列出全部网格员账号")

    def say(self, msg: str) -> None:
        self.stdout.write(msg)
        self.stdout.flush()

    def handle(self, *args: Any, **opts: Any) -> None:
        started = time.perf_counter()
        base_url = demo_base_url(str(getattr(settings, "LINLI_PUBLIC_URL", "") or ""), opts["port"])
        if not opts["no_serve"] and not getattr(settings, "LINLI_PUBLIC_URL", ""):
            # SMS texts (receipts, outcomes) carry absolute tracking links: on the address this demo serves.
            settings.LINLI_PUBLIC_URL = base_url
        self.say("迁移数据库…")
        call_command("migrate", interactive=False, verbosity=0)
        self.say("生成演示县区：菏泽市牡丹区…")
        result = seed_demo(seed=opts["seed"], residents=opts["residents"], say=lambda m: self.say("  " + m))
        if result.created:
            self.say(f"演示数据已生成，用时 {result.seconds:.1f} 秒。")
        else:
            self.say("演示数据已存在，未做任何修改。")
        if opts["scale"] == "city":
            self.say(f"生成城市规模数据：{opts['city_residents']:,} 名居民（批量写入）…")
            last = [0.0]

            def progress(done: int, total: int) -> None:
                if time.perf_counter() - last[0] > 5 or done == total:
                    last[0] = time.perf_counter()
                    self.say(f"  {done:,} / {total:,}")

            city = generate_city(opts["city_residents"], seed=opts["seed"], progress=progress)
            ensure_city_admin()
            if city.skipped:
                self.say("城市规模数据已存在，未做任何修改。")
            else:
                self.say(
                    f"城市规模数据：{city.residents:,} 名居民，{city.households:,} 户，{city.grids} 个小区，"
                    f"用时 {city.seconds:.0f} 秒（{city.residents / max(city.seconds, 1e-9):,.0f} 人/秒）。"
                )
        self.say("")
        self.say(format_logins(demo_logins(), full=opts["all_logins"], password=DEMO_PASSWORD))
        self.say("两步验证：演示环境暂不强制（生产环境中超级管理员和县、市管理员须先绑定身份验证器）。")
        self.say("")
        self.say(format_start_points(start_points(base_url), base_url))
        self.say(f"\n总用时 {time.perf_counter() - started:.1f} 秒。")
        if opts["no_serve"]:
            return
        self.serve(opts["port"])

    def serve(self, port: int) -> None:
        import waitress
        from django.contrib.staticfiles.handlers import StaticFilesHandler
        from django.core.wsgi import get_wsgi_application

        try:
            from linli.ops import runtime
        except ImportError:  # the in-process worker and monitor are optional for the demo
            runtime = None  # type: ignore[assignment]
        if runtime is not None and hasattr(runtime, "start_background"):
            runtime.start_background()
            self.say("后台任务处理（worker）与监控循环（monitor）已在本进程中启动。")
        # The demo's logins are "enrolled later" (ADR 0022): this process lets administrators in without a second
        # factor; `linli serve` (production) requires it of superusers and county/city administrators.
        settings.LINLI_2FA_ENFORCE = False
        application = StaticFilesHandler(get_wsgi_application())
        self.say(f"控制台： http://127.0.0.1:{port}/   （Ctrl+C 退出）")
        waitress.serve(application, host="127.0.0.1", port=port, threads=8)
