"""GeoReport v2 wire formats: XML (mandatory in the spec) and JSON, derived from one another by the "Spark"
convention — JSON drops the XML root element and turns each repeated child list into an array.

XML is written with ``xml.etree.ElementTree`` (it escapes markup characters); characters XML 1.0 cannot carry at
all (most C0 controls) are dropped from text first, so any stored text yields a well-formed document.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET  # writing only: nothing is parsed here
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

FORMATS = ("xml", "json")
CONTENT_TYPES = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'

# The element each list's items are wrapped in (XML only): ``<attributes><attribute>…``.
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "service_request_updates": "request_update",
    "endpoints": "endpoint",
    "formats": "format",
    "media_url": "media_url",
}

_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Open311Error(Exception):
    """An error in the spec's format: HTTP 400, 403, 404 (or 429 over a rate limit, with ``Retry-After``) and a
    list of ``{code, description}``."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after


def w3c(value: dt.datetime | None) -> str | None:
    """A W3C datetime with its offset, in local time, to the second: ``2026-03-02T09:15:00+08:00``."""
    if value is None:
        return None
    return timezone.localtime(value).replace(microsecond=0).isoformat()


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_FORBIDDEN.sub("", str(value))


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    node = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, child in value.items():
            _append(node, key, child)
    elif isinstance(value, list):
        item_tag = ITEM_TAGS.get(tag, "item")
        for item in value:
            _append(node, item_tag, item)
    else:
        node.text = _text(value)


def to_xml(root: str, items: list[Any] | dict[str, Any]) -> bytes:
    """``root`` holding either repeated items (a list) or fields (a dict)."""
    element = ET.Element(root)
    if isinstance(items, dict):
        for key, value in items.items():
            _append(element, key, value)
    else:
        item_tag = ITEM_TAGS[root]
        for item in items:
            _append(element, item_tag, item)
    return XML_DECLARATION + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def to_json(items: list[Any] | dict[str, Any]) -> bytes:
    return json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def respond(fmt: str, root: str, items: list[Any] | dict[str, Any], status: int = 200) -> HttpResponse:
    body = to_xml(root, items) if fmt == "xml" else to_json(items)
    response = HttpResponse(body, status=status, content_type=CONTENT_TYPES[fmt])
    response["Access-Control-Allow-Origin"] = "*"
    return response


def error_response(fmt: str, status: int, *descriptions: str) -> HttpResponse:
    """The spec's error body; ``code`` equals the HTTP status."""
    errors = [{"code": status, "description": d} for d in descriptions]
    response = respond(fmt if fmt in FORMATS else "xml", "errors", errors, status=status)
    response["Cache-Control"] = "no-store"
    return response


def boundary_error(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """A refusal of ``linli.core.boundary`` (NUL, out-of-range number) as the spec's error list: JSON for a
    ``.json`` path, XML otherwise."""
    return error_response("json" if request.path_info.endswith(".json") else "xml", status, message)
