"""Whether a point (a phone's position) lies in a grid: inside its GeoJSON boundary, allowing for the phone's
error near the edge; for a grid without a boundary, near its centre or one of its buildings.

Plain geometry on WGS-84 degrees, good for the few hundred metres of one compound (an equirectangular projection
around the point); no GIS library.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from linli.registry.models import Building, Grid

EDGE_MARGIN_M = 100  # a phone's position near the edge of the boundary still counts (GPS error, street side)
NEAR_POINT_M = 800  # no boundary: within this of the grid's centre or one of its buildings
_M_PER_DEG = 111_320.0

Ring = list[tuple[float, float]]  # (lng, lat) pairs, GeoJSON order


def _rings(geometry: Any) -> Iterator[Ring]:
    """The outer rings of a GeoJSON Polygon / MultiPolygon / Feature / FeatureCollection / GeometryCollection."""
    if not isinstance(geometry, dict):
        return
    kind = geometry.get("type")
    if kind == "Feature":
        yield from _rings(geometry.get("geometry"))
    elif kind == "FeatureCollection":
        for feature in geometry.get("features") or []:
            yield from _rings(feature)
    elif kind == "GeometryCollection":
        for part in geometry.get("geometries") or []:
            yield from _rings(part)
    elif kind in ("Polygon", "MultiPolygon"):
        polygons = [geometry.get("coordinates")] if kind == "Polygon" else geometry.get("coordinates") or []
        for polygon in polygons:
            if isinstance(polygon, list) and polygon:
                ring = _ring(polygon[0])
                if len(ring) >= 3:
                    yield ring


def _ring(points: Any) -> Ring:
    out: Ring = []
    for point in points if isinstance(points, list) else []:
        if isinstance(point, list | tuple) and len(point) >= 2:
            try:
                lng, lat = float(point[0]), float(point[1])
            except (TypeError, ValueError):
                continue
            if math.isfinite(lng) and math.isfinite(lat):
                out.append((lng, lat))
    return out


def _inside(ring: Ring, lng: float, lat: float) -> bool:
    """Ray casting: an odd number of edge crossings to the east means inside."""
    inside = False
    j = len(ring) - 1
    for i, (xi, yi) in enumerate(ring):
        xj, yj = ring[j]
        if (yi > lat) != (yj > lat) and lng < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _project(lng: float, lat: float, lat0: float) -> tuple[float, float]:
    return lng * _M_PER_DEG * math.cos(math.radians(lat0)), lat * _M_PER_DEG


def _edge_distance_m(ring: Ring, lng: float, lat: float) -> float:
    px, py = _project(lng, lat, lat)
    best = math.inf
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        ax, ay = _project(x1, y1, lat)
        bx, by = _project(x2, y2, lat)
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
        best = min(best, math.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    x1, y1 = _project(lng1, lat1, (lat1 + lat2) / 2)
    x2, y2 = _project(lng2, lat2, (lat1 + lat2) / 2)
    return math.hypot(x1 - x2, y1 - y2)


def grid_contains(grid: Grid, lat: float, lng: float) -> bool | None:
    """Whether the point lies in ``grid`` (within ``EDGE_MARGIN_M`` of its boundary, or ``NEAR_POINT_M`` of its
    centre or a building when it has no boundary); None when the registry holds no geometry for the grid."""
    rings = list(_rings(grid.boundary))
    if rings:
        if any(_inside(ring, lng, lat) for ring in rings):
            return True
        return min(_edge_distance_m(ring, lng, lat) for ring in rings) <= EDGE_MARGIN_M
    points: list[tuple[float, float]] = [
        (float(b_lat), float(b_lng))
        for b_lat, b_lng in Building.objects.filter(grid=grid, lat__isnull=False, lng__isnull=False)
        .values_list("lat", "lng")
        .order_by()[:500]
        if b_lat is not None and b_lng is not None
    ]
    if grid.centroid_lat is not None and grid.centroid_lng is not None:
        points.append((grid.centroid_lat, grid.centroid_lng))
    if not points:
        return None
    return any(distance_m(lat, lng, p_lat, p_lng) <= NEAR_POINT_M for p_lat, p_lng in points)
