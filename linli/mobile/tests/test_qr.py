"""Place codes (signed, stable, not enumerable) and the console's QR sheets (PNG, A4 PDF, one building)."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse
from PIL import Image

from linli.cases import place_codes
from linli.console import views_qr
from linli.testing.factories import BuildingFactory

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------------------------- codes


def test_codes_are_stable_signed_and_distinct(world, settings):
    building = world.households["g1a"].building
    code = place_codes.building_code(building)
    assert code == place_codes.building_code(building)
    assert place_codes.parse(code) == ("b", building.pk)
    assert place_codes.building_for_code(code) == building
    assert place_codes.building_code(world.households["g2"].building) != code
    assert place_codes.grid_code(world.g1a) != code
    # Next building id with this code's signature: refused (ids cannot be walked).
    kind_id, signature = code.split(".")
    assert place_codes.parse(f"b{int(kind_id[1:], 36) + 1:x}.{signature}") is None
    assert place_codes.parse(code.upper()) is None
    assert place_codes.parse(code + "x") is None


def test_codes_survive_a_secret_key_rotation(world, settings):
    building = world.households["g1a"].building
    code = place_codes.building_code(building)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-brand-new-secret-key-for-rotation"
    assert place_codes.parse(code) is None
    settings.SECRET_KEY_FALLBACKS = [old]
    assert place_codes.parse(code) == ("b", building.pk)


# --------------------------------------------------------------------------------------------- sheets


def _login(client, world, role="grid_worker"):
    client.force_login(world.users[role])
    return client


def test_grid_png_sheet_is_a_valid_png(client, world):
    for i in range(2, 6):
        BuildingFactory(grid=world.g1a, name=f"{i}号楼")
    response = _login(client, world).get(reverse("console:grid_qr_png", args=[world.g1a.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(response.content))
    image.verify()
    image = Image.open(io.BytesIO(response.content))
    # 5 buildings + the wish box = 6 tiles in rows of 4: two rows.
    assert image.width == views_qr.PNG_COLS * views_qr.PNG_TILE[0] + views_qr.MARGIN
    assert image.height == 2 * views_qr.PNG_TILE[1] + views_qr.MARGIN


def test_grid_pdf_has_six_codes_per_a4_page(client, world):
    for i in range(2, 8):
        BuildingFactory(grid=world.g1a, name=f"{i}号楼")
    response = _login(client, world).get(reverse("console:grid_qr_pdf", args=[world.g1a.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert response.content.rstrip().endswith(b"%%EOF")
    # 7 buildings + the wish box = 8 codes → 2 pages.
    assert response.content.count(b"/MediaBox") == 2


def test_building_png(client, world):
    building = world.households["g1a"].building
    response = _login(client, world).get(reverse("console:building_qr_png", args=[building.pk]))
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    Image.open(io.BytesIO(response.content)).verify()


def test_sheet_falls_back_to_ascii_labels_without_a_cjk_font(client, world, monkeypatch, settings):
    settings.LINLI_CJK_FONT = ""
    monkeypatch.setattr(views_qr, "FONT_CANDIDATES", [])
    assert views_qr.fonts_for(440).cjk is False
    response = _login(client, world).get(reverse("console:grid_qr_png", args=[world.g1a.pk]))
    assert response.status_code == 200
    Image.open(io.BytesIO(response.content)).verify()


def test_cjk_font_is_used_when_present():
    if views_qr._cjk_path() is None:
        pytest.skip("no CJK font on this machine")
    assert views_qr.fonts_for(440).cjk is True


def test_sheets_are_scoped(client, world):
    g2 = world.g2.pk
    assert client.get(reverse("console:grid_qr_pdf", args=[g2])).status_code == 302  # anonymous → login
    worker = _login(client, world)
    assert worker.get(reverse("console:grid_qr_pdf", args=[g2])).status_code == 404
    assert worker.get(reverse("console:grid_qr_png", args=[g2])).status_code == 404
    other_building = world.households["g2"].building.pk
    assert worker.get(reverse("console:building_qr_png", args=[other_building])).status_code == 404
    assert _login(client, world, "no_post").get(reverse("console:grid_qr_png", args=[g2])).status_code == 403
    assert (
        _login(client, world, "secretary").get(reverse("console:grid_qr_png", args=[g2])).status_code == 200
    )


def test_grid_page_links_to_the_sheet(client, world):
    html = _login(client, world).get(reverse("console:place_grid", args=[world.g1a.pk])).content.decode()
    assert reverse("console:grid_qr_pdf", args=[world.g1a.pk]) in html
    assert "打印民情二维码" in html


def test_the_printed_code_opens_the_report_page(client, world, rf, settings):
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "linli.example.cn"]
    building = world.households["g1a"].building
    request = rf.get("/", HTTP_HOST="linli.example.cn")
    tile = views_qr.building_tiles(request, world.g1a, [building])[0]
    assert tile.url.startswith("http://linli.example.cn/m/r/")
    path = tile.url.removeprefix("http://linli.example.cn")
    assert client.get(path).status_code == 200
    assert tile.lines[1:] == ("东安社区 · 东安一区", "1号楼")
