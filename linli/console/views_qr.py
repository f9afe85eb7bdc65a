"""QR sheets (民情二维码) to print and put up in every building: one code per building pointing at the resident
report page (``/m/r/<code>/``), labelled with its community, compound and building; the grid's wish box
(心语心愿箱, ``/m/wish/<code>/``) closes the sheet. Codes are signed and stable (``linli.cases.place_codes``), so a
printed sheet keeps working.

Rendered with segno (the codes) and Pillow (layout, PNG and PDF), in greyscale. Labels need a CJK font: the first
found of ``LINLI_CJK_FONT`` and common system paths; without one, labels fall back to ASCII (codes and numbers).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import segno
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from PIL import Image, ImageDraw, ImageFont

from linli.cases import place_codes
from linli.console.views import console_view
from linli.core.natural import by_name, natural_sorted
from linli.org import access
from linli.org.access import Cap
from linli.registry import selectors
from linli.registry.models import Building, Grid

FONT_CANDIDATES = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
]
DPI = 150
A4 = (1240, 1754)  # A4 at 150 dpi
MARGIN = 60
PDF_COLS, PDF_ROWS = 2, 3  # 6 codes per page
PNG_COLS = 4
PNG_TILE = (440, 520)
MAX_BUILDINGS = 300  # one sheet; bigger compounds print per building


@dataclass(frozen=True)
class Tile:
    url: str
    lines: tuple[str, ...]  # small caption, place, name (largest)
    ascii_lines: tuple[str, ...]


@dataclass(frozen=True)
class Fonts:
    small: ImageFont.FreeTypeFont | ImageFont.ImageFont
    place: ImageFont.FreeTypeFont | ImageFont.ImageFont
    name: ImageFont.FreeTypeFont | ImageFont.ImageFont
    cjk: bool


def _cjk_path() -> tuple[str, int] | None:
    """The first CJK font found, with the index of its Simplified Chinese face in a collection."""
    configured = str(getattr(settings, "LINLI_CJK_FONT", "") or "")
    for path in ([configured] if configured else []) + FONT_CANDIDATES:
        if not path or not Path(path).is_file():
            continue
        if not path.lower().endswith(".ttc"):
            return path, 0
        for index in range(10):
            try:
                face = ImageFont.truetype(path, 12, index=index)
            except OSError:
                break
            if "SC" in " ".join(part or "" for part in face.getname()):
                return path, index
        return path, 0
    return None


@lru_cache(maxsize=8)
def _fonts(tile_width: int, candidates: tuple[str, ...]) -> Fonts:
    found = _cjk_path()
    sizes = (max(14, tile_width // 24), max(16, tile_width // 18), max(20, tile_width // 11))
    if found is not None:
        path, index = found
        try:
            faces: list[ImageFont.FreeTypeFont | ImageFont.ImageFont] = [
                ImageFont.truetype(path, s, index=index) for s in sizes
            ]
            return Fonts(faces[0], faces[1], faces[2], cjk=True)
        except OSError:
            pass
    faces = [ImageFont.load_default(size=s) for s in sizes]
    return Fonts(faces[0], faces[1], faces[2], cjk=False)


def fonts_for(tile_width: int) -> Fonts:
    return _fonts(tile_width, tuple(FONT_CANDIDATES))


def _ascii(text: str) -> str:
    return "".join(ch for ch in text if ch.isascii() and ch.isprintable()).strip()


def _fit(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, width: int
) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


QUIET_ZONE = 4  # modules of white around a code, as the QR standard asks (scanners need it)


def _qr_image(url: str, size: int) -> Image.Image:
    """The code with its quiet zone, at the largest whole-pixel module size that fits ``size``."""
    qr = segno.make(url, error="m", micro=False)
    modules = qr.symbol_size(scale=1, border=QUIET_ZONE)[0]
    scale = max(1, size // modules)
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=QUIET_ZONE)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return image.convert("L")


def render_tile(tile: Tile, width: int, height: int) -> Image.Image:
    """One code with its label: caption, place, and the building's name in large type."""
    fonts = fonts_for(width)
    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    pad = max(12, width // 24)
    lines = tile.lines if fonts.cjk else tile.ascii_lines
    faces = (fonts.small, fonts.place, fonts.name)
    heights = [int(f.size) if hasattr(f, "size") else 16 for f in faces]
    text_block = sum(h + pad // 2 for h in heights)
    qr_size = min(width, height - text_block - pad)
    code = _qr_image(tile.url, qr_size)
    image.paste(code, ((width - code.width) // 2, 0))
    y = code.height
    for text, font, h in zip(lines, faces, heights, strict=False):
        text = _fit(draw, text, font, width - 2 * pad)
        x = (width - draw.textlength(text, font=font)) / 2
        draw.text((x, y), text, font=font, fill=0)
        y += h + pad // 2
    draw.rectangle([0, 0, width - 1, height - 1], outline=190)  # the cut line
    return image


def _sheet(tiles: Sequence[Tile], cols: int, tile_size: tuple[int, int], margin: int) -> Image.Image:
    rows = max(1, -(-len(tiles) // cols))
    w, h = tile_size
    sheet = Image.new("L", (cols * w + 2 * margin, rows * h + 2 * margin), 255)
    for i, tile in enumerate(tiles):
        row, col = divmod(i, cols)
        sheet.paste(render_tile(tile, w, h), (margin + col * w, margin + row * h))
    return sheet


def sheet_png(tiles: Sequence[Tile]) -> bytes:
    """Every tile on one PNG sheet."""
    buffer = io.BytesIO()
    _sheet(tiles, PNG_COLS, PNG_TILE, MARGIN // 2).save(buffer, format="PNG", optimize=True, dpi=(DPI, DPI))
    return buffer.getvalue()


def sheet_pdf(tiles: Sequence[Tile]) -> bytes:
    """A4 pages, six codes each."""
    per_page = PDF_COLS * PDF_ROWS
    tile_size = ((A4[0] - 2 * MARGIN) // PDF_COLS, (A4[1] - 2 * MARGIN) // PDF_ROWS)
    pages = []
    for start in range(0, max(1, len(tiles)), per_page):
        page = Image.new("L", A4, 255)
        page.paste(_sheet(tiles[start : start + per_page], PDF_COLS, tile_size, 0), (MARGIN, MARGIN))
        pages.append(page)
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:], resolution=DPI)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------- tiles


def _base_url(request: HttpRequest) -> str:
    configured = str(getattr(settings, "LINLI_PUBLIC_URL", "") or "").rstrip("/")
    return configured or request.build_absolute_uri("/").rstrip("/")


def _place(grid: Grid) -> str:
    return f"{grid.community.name} · {grid.name}"


def building_tiles(request: HttpRequest, grid: Grid, buildings: Iterable[Building]) -> list[Tile]:
    base = _base_url(request)
    return [
        Tile(
            url=base + reverse("mobile:report", args=[place_codes.building_code(b)]),
            lines=("民情二维码 · 扫码反映问题", _place(grid), b.name),
            ascii_lines=("Scan to report", grid.code, _ascii(b.name) or f"Building {b.pk}"),
        )
        for b in buildings
    ]


def wish_tile(request: HttpRequest, grid: Grid) -> Tile:
    return Tile(
        url=_base_url(request) + reverse("mobile:wish", args=[place_codes.grid_code(grid)]),
        lines=("心语心愿箱 · 匿名", _place(grid), "说说您的心声"),
        ascii_lines=("Wish box (anonymous)", grid.code, "Wish box"),
    )


def _grid_for(request: HttpRequest, pk: int) -> tuple[Grid, list[Building]]:
    scope = access.require(request.user, Cap.VIEW)
    grid = selectors.grids_in_scope(scope=scope).filter(pk=pk).first()
    if grid is None:
        raise Http404
    buildings = natural_sorted(
        scope.apply(Building.objects.filter(grid=grid)).order_by("name")[: MAX_BUILDINGS + 1], by_name
    )
    return grid, buildings


def _file(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(as_attachment=False, filename=filename) or ""
    response["Cache-Control"] = "private, no-store"
    return response


def _too_many(grid: Grid) -> HttpResponse:
    return HttpResponse(
        f"网格“{grid.name}”楼栋超过 {MAX_BUILDINGS} 栋，请在楼栋页面逐栋下载二维码。",
        status=400,
        content_type="text/plain; charset=utf-8",
    )


@console_view
def grid_qr_png(request: HttpRequest, pk: int) -> HttpResponse:
    grid, buildings = _grid_for(request, pk)
    if len(buildings) > MAX_BUILDINGS:
        return _too_many(grid)
    tiles = [*building_tiles(request, grid, buildings), wish_tile(request, grid)]
    return _file(sheet_png(tiles), "image/png", f"qr-{_ascii(grid.code) or grid.pk}.png")


@console_view
def grid_qr_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    grid, buildings = _grid_for(request, pk)
    if len(buildings) > MAX_BUILDINGS:
        return _too_many(grid)
    tiles = [*building_tiles(request, grid, buildings), wish_tile(request, grid)]
    return _file(sheet_pdf(tiles), "application/pdf", f"qr-{_ascii(grid.code) or grid.pk}.pdf")


@console_view
def building_qr_png(request: HttpRequest, pk: int) -> HttpResponse:
    scope = access.require(request.user, Cap.VIEW)
    building = scope.apply(Building.objects.select_related("grid__community")).filter(pk=pk).first()
    if building is None:
        raise Http404
    tile = building_tiles(request, building.grid, [building])[0]
    buffer = io.BytesIO()
    render_tile(tile, 800, 940).save(buffer, format="PNG", optimize=True, dpi=(DPI, DPI))
    return _file(buffer.getvalue(), "image/png", f"qr-building-{building.pk}.png")
