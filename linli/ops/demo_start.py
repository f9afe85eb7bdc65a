"""Where the demo's residents and grid workers start (issue #12 item 7): ``linli demo`` prints a building's QR report
address, the compound's wish box and the grid worker's phone pages, as absolute links on the address it serves.

The building shown is the one with the most open appeals in the first grid worker's compound, so a resident who
opens it sees problems already reported there (and "+1" instead of a duplicate).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count
from django.urls import reverse

from linli.cases import place_codes
from linli.cases.choices import OPEN
from linli.cases.models import Case
from linli.org.choices import PostKind
from linli.org.models import Post
from linli.registry.models import Building, Grid


@dataclass(frozen=True)
class StartPoints:
    grid: Grid
    building: Building
    grid_worker: str  # the login of the grid's worker
    report_url: str
    wish_url: str
    grid_url: str


def demo_base_url(configured: str, port: int) -> str:
    """The address links are built on: ``LINLI_PUBLIC_URL`` when configured, else the demo's own address."""
    return (configured or "").rstrip("/") or f"http://127.0.0.1:{port}"


def _busiest_building(grid: Grid) -> Building | None:
    busiest = (
        Case.objects.filter(grid=grid, status__in=OPEN, building__isnull=False)
        .values("building")
        .annotate(n=Count("id"))
        .order_by("-n", "building")
        .first()
    )
    if busiest is not None:
        return Building.objects.filter(pk=busiest["building"]).first()
    return Building.objects.filter(grid=grid).order_by("id").first()


def start_points(base_url: str) -> StartPoints | None:
    """The first grid worker's compound and its busiest building, or None before the demo is seeded."""
    post = (
        Post.objects.active()
        .filter(kind=PostKind.GRID_WORKER, user__isnull=False, grid__isnull=False)
        .select_related("user", "grid__community")
        .order_by("user__username", "id")
        .first()
    )
    if post is None or post.grid is None or post.user is None:
        return None
    building = _busiest_building(post.grid)
    if building is None:
        return None
    base = base_url.rstrip("/")
    return StartPoints(
        grid=post.grid,
        building=building,
        grid_worker=post.user.username,
        report_url=base + reverse("mobile:report", args=[place_codes.building_code(building)]),
        wish_url=base + reverse("mobile:wish", args=[place_codes.grid_code(post.grid)]),
        grid_url=base + reverse("mobile:grid_home"),
    )


def format_start_points(points: StartPoints | None, base_url: str) -> str:
    """The printed section: the staff console, then where residents and grid workers start."""
    lines = [f"工作人员控制台：{base_url.rstrip('/')}/"]
    if points is None:
        return "\n".join(lines)
    place = f"{points.grid.community.name} {points.grid.name}"
    lines += [
        "居民从这里开始（手机浏览器打开，或打印二维码：控制台 → 网格 → 民情二维码）：",
        f"  扫楼栋二维码反映问题（{place}{points.building.name}）：{points.report_url}",
        f"  心语心愿箱（{place}，匿名）：{points.wish_url}",
        f"网格员手机端（用网格员账号登录，如 {points.grid_worker}）：{points.grid_url}",
        "短信中的跟踪链接均以此地址开头（LINLI_PUBLIC_URL）。",
    ]
    return "\n".join(lines)
