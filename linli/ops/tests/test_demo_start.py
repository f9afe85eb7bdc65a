"""``linli demo`` prints where residents and grid workers start (a building's QR report page, the wish box, the
grid worker's phone pages) as absolute links, and serves SMS links on its own address (issue #12 item 7)."""

from __future__ import annotations

import io
import re

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from linli.cases import services
from linli.cases.models import Case, Category
from linli.ops.demo_start import demo_base_url, format_start_points, start_points
from linli.ops.management.commands.linli_demo import Command
from linli.registry.models import Building


def test_base_url_is_the_configured_address_or_the_demos_own():
    assert demo_base_url("", 8123) == "http://127.0.0.1:8123"
    assert demo_base_url("https://linli.example.cn/", 8123) == "https://linli.example.cn"


@pytest.mark.django_db
def test_start_points_open_the_busiest_building_of_the_first_grid_worker(world, client):
    quiet = world.households["g1a"].building
    busy = Building.objects.create(grid=world.g1a, name="2号楼")
    category = Category.objects.filter(parent__isnull=False).first() or Category.objects.first()
    assert category is not None
    services.case_create(
        category=category, grid=world.g1a, building=busy, channel="grid_worker", description="楼道灯不亮"
    )
    points = start_points("http://127.0.0.1:8123/")
    assert points is not None and points.grid == world.g1a and points.grid_worker == "grid_worker"
    assert points.building == busy and points.building != quiet
    assert points.report_url.startswith("http://127.0.0.1:8123/m/r/")
    assert points.wish_url.startswith("http://127.0.0.1:8123/m/wish/")
    assert points.grid_url == "http://127.0.0.1:8123/m/grid/"
    for url in (points.report_url, points.wish_url):  # the printed links are genuine (signed codes)
        assert client.get(url.removeprefix("http://127.0.0.1:8123")).status_code == 200
    text = format_start_points(points, "http://127.0.0.1:8123")
    assert points.report_url in text and points.wish_url in text and points.grid_url in text
    assert "2号楼" in text and "grid_worker" in text


@pytest.mark.django_db
def test_no_grid_worker_prints_only_the_console(db):
    assert start_points("http://x") is None
    assert format_start_points(None, "http://x") == "工作人员控制台：http://x/"


@pytest.mark.django_db
def test_the_demo_command_prints_start_points_and_sets_the_public_url(settings, monkeypatch):
    settings.LINLI_PUBLIC_URL = ""
    served: list[int] = []
    monkeypatch.setattr(Command, "serve", lambda self, port: served.append(port))
    out = io.StringIO()
    call_command("linli_demo", "--residents", "300", "--seed", "3", "--port", "8123", stdout=out)
    text = out.getvalue()
    assert served == [8123]
    assert django_settings.LINLI_PUBLIC_URL == "http://127.0.0.1:8123"
    assert re.search(r"扫楼栋二维码反映问题.*：http://127\.0\.0\.1:8123/m/r/\S+", text)
    assert re.search(r"心语心愿箱.*：http://127\.0\.0\.1:8123/m/wish/\S+", text)
    assert "网格员手机端" in text and "http://127.0.0.1:8123/m/grid/" in text
    case = Case.objects.exclude(tracking_token="").first()
    assert case is not None  # the tracking links SMS texts carry are absolute now
    assert services.tracking_url(case) == f"http://127.0.0.1:8123/m/t/{case.tracking_token}/"
