"""Rate limits of the public pages and of Open311 writes, counted in the shared cache by django-ratelimit.

A limit is a name in ``settings.LINLI_RATELIMITS`` ("N/period", e.g. ``"20/h"`` or ``"5/10m"``) counted per client
address (``over_limit(request, "report_ip")``) or per another value such as a phone number
(``over_limit(request, "report_phone", phone)``). Values are never kept in clear: django-ratelimit stores a SHA-256
of the key, and a phone is first replaced by its keyed digest. Every call counts one use; the answer is the number
of seconds until the window ends when the limit is exceeded, else ``None``. The interface turns that into its own
"too many requests" answer (the mobile pages' 429 page, Open311's error list with HTTP 429).

The client address is ``REMOTE_ADDR``. Behind reverse proxies of the deployment's own, set
``LINLI_TRUSTED_PROXY_COUNT`` to how many there are: the address is then taken from ``X-Forwarded-For``, that many
entries from the right (what the outermost trusted proxy saw); entries further left are written by the client and
never trusted. IPv6 addresses count per /64 (one subscriber's prefix).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from django_ratelimit.core import get_usage

from linli.core.crypto import cipher

UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104  (no usable address, e.g. a Unix socket: all such clients count as one)
IPV6_PREFIX = 64


def _valid(raw: str) -> str | None:
    """The address in canonical form (an IPv4-mapped IPv6 address as IPv4, or all IPv4 clients of a dual-stack
    listener would share one /64), or None when it is not an address."""
    try:
        address = ipaddress.ip_address(raw.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def client_ip(request: HttpRequest) -> str:
    """The client's address (see the module doc); also django-ratelimit's ``RATELIMIT_IP_META_KEY``."""
    remote = _valid(str(request.META.get("REMOTE_ADDR", "") or "")) or UNKNOWN_ADDRESS
    hops = int(getattr(settings, "LINLI_TRUSTED_PROXY_COUNT", 0) or 0)
    if hops <= 0:
        return remote
    chain = [p for p in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",") if p.strip()]
    if len(chain) < hops:
        return remote
    return _valid(chain[-hops]) or remote


def client_network(request: HttpRequest) -> str:
    """The address as limits count it: an IPv4 address, or the /64 network of an IPv6 one."""
    address = ipaddress.ip_address(client_ip(request))
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))
    return str(address)


def phone_digits(phone: str) -> str:
    """A phone number as one person's: digits only, without China's +86 in front of a mobile number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits


def enabled() -> bool:
    return bool(getattr(settings, "LINLI_RATELIMIT_ENABLED", True))


def over_limit(request: HttpRequest, name: str, value: str | None = None) -> int | None:
    """Count one use of the limit ``name`` by this client address (or by ``value``); seconds to wait when over."""
    if not enabled():
        return None
    rate = settings.LINLI_RATELIMITS[name]
    if value is None:
        key: object = "ip"
    else:
        digest = cipher().digest(f"{name}:{value}", "ratelimit")
        key = lambda _group, _request: digest  # noqa: E731
    usage = get_usage(request, group=f"linli.{name}", key=key, rate=rate, increment=True)
    if usage is None or not usage["should_limit"]:
        return None
    return max(int(usage["time_left"]), 1)
