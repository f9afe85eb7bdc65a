"""One transport class per channel. ``send`` returns when the message left; it raises ``TransportError`` (retry
later) or ``PermanentError`` (retrying cannot help: the message is given up at once)."""

from __future__ import annotations

import abc
import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email

from linli.core.crypto import cipher
from linli.notifications.choices import Channel
from linli.notifications.models import Message
from linli.notifications.sms import get_gateway

WEBHOOK_TIMEOUT = 5.0  # seconds, connect and each read
WEBHOOK_USER_AGENT = "Linli-Webhook/1"
ERROR_BODY_BYTES = 300


class TransportError(Exception):
    """The attempt failed; a later attempt may succeed."""


class PermanentError(TransportError):
    """The message can never be delivered as addressed (bad address, refused destination)."""


class Transport(abc.ABC):
    channel: ClassVar[str]

    @abc.abstractmethod
    def send(self, message: Message) -> None: ...

    @classmethod
    def check_address(cls, address: str) -> None:
        """Called by ``notify`` before the row is written: raise ``ValueError`` for an unusable address."""
        return None


class InboxTransport(Transport):
    """The row is the inbox item: it was stored with the business transaction, delivering it is marking it sent."""

    channel = Channel.INBOX

    def send(self, message: Message) -> None:
        if message.recipient_id is None:
            raise PermanentError("站内消息没有接收人")


class EmailTransport(Transport):
    channel = Channel.EMAIL

    @classmethod
    def check_address(cls, address: str) -> None:
        try:
            validate_email(address)
        except ValidationError as exc:
            raise ValueError(f"无效的邮件地址：{address!r}") from exc

    def send(self, message: Message) -> None:
        try:
            send_mail(
                subject=message.subject,
                message=message.body,
                from_email=settings.DEFAULT_FROM_EMAIL,
                recipient_list=[message.address],
                fail_silently=False,
            )
        except (OSError, http.client.HTTPException) as exc:  # smtplib errors are OSErrors
            raise TransportError(f"邮件发送失败：{exc}") from exc


class SmsTransport(Transport):
    channel = Channel.SMS

    @classmethod
    def check_address(cls, address: str) -> None:
        digits = address.removeprefix("+")
        if not (digits.isdigit() and 5 <= len(digits) <= 20):
            raise ValueError("无效的手机号码")

    def send(self, message: Message) -> None:
        text = message.body or message.subject
        try:
            phone = cipher().decrypt(message.address)  # stored encrypted by ``notify``
            get_gateway().send(phone=phone, text=text, idempotency_key=message.dedupe_key)
        except Exception as exc:
            raise TransportError(f"短信网关发送失败：{exc}") from exc


# --- webhook -------------------------------------------------------------------------------------------------


def address_allowed(ip: str, allow_private: bool) -> bool:
    """Only public unicast addresses, unless private ones are allowed (tests, an intranet deployment)."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if addr.is_multicast or addr.is_unspecified:
        return False
    if allow_private:
        return True
    return addr.is_global and not (
        addr.is_private or addr.is_loopback or addr.is_link_local or addr.is_reserved
    )


class _PeerChecked(http.client.HTTPConnection):
    """Checks the address actually connected to (after DNS, so a rebinding name cannot slip through) before a
    single byte of the request, or of a TLS handshake, is sent."""

    allow_private = False

    def connect(self) -> None:
        super().connect()
        peer = self.sock.getpeername()[0]
        if not address_allowed(peer, self.allow_private):
            self.sock.close()
            raise PermanentError(f"拒绝连接内网或保留地址：{peer}")


class _GuardedHTTPConnection(_PeerChecked):
    pass


class _GuardedHTTPSConnection(http.client.HTTPSConnection, _PeerChecked):
    pass


def _factory(cls: type[http.client.HTTPConnection], allow_private: bool) -> Any:
    def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
        conn = cls(host, **kwargs)
        conn.allow_private = allow_private  # type: ignore[attr-defined]
        return conn

    return make


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_factory(_GuardedHTTPConnection, self.allow_private), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_factory(_GuardedHTTPSConnection, self.allow_private), req)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is reported as an HTTP error, never followed to another host


def _opener(allow_private: bool) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),  # direct connections only: the peer check must see the real target
        _HTTPHandler(allow_private),
        _HTTPSHandler(allow_private),
        _NoRedirect(),
    )


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise TransportError(f"无法解析主机 {host}：{exc}") from exc
    return [str(info[4][0]) for info in infos]


class WebhookTransport(Transport):
    """POST the message as JSON. ``Idempotency-Key`` carries the dedupe key, so a receiver can drop the second
    copy when a worker died after sending and before recording it."""

    channel = Channel.WEBHOOK

    @classmethod
    def check_address(cls, address: str) -> None:
        parts = urllib.parse.urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("Webhook 地址必须是 http(s) 网址")

    def send(self, message: Message) -> None:
        allow_private = bool(settings.LINLI_WEBHOOK_ALLOW_PRIVATE)
        parts = urllib.parse.urlsplit(message.address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentError("Webhook 地址必须是 http(s) 网址")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        refused = [ip for ip in _resolve(parts.hostname, port) if not address_allowed(ip, allow_private)]
        if refused:
            raise PermanentError(f"拒绝连接内网或保留地址：{', '.join(sorted(set(refused)))}")
        body = json.dumps(
            {
                "id": message.pk,
                "channel": message.channel,
                "subject": message.subject,
                "body": message.body,
                "payload": message.payload,
                "dedupe_key": message.dedupe_key,
                "created_at": message.created_at.isoformat(),
            },
            ensure_ascii=False,
        ).encode("utf-8")
        request = urllib.request.Request(  # noqa: S310  (scheme checked above)
            message.address,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Idempotency-Key": message.dedupe_key,
                "User-Agent": WEBHOOK_USER_AGENT,
            },
        )
        try:
            with _opener(allow_private).open(request, timeout=WEBHOOK_TIMEOUT) as response:
                response.read(ERROR_BODY_BYTES)
        except urllib.error.HTTPError as exc:
            detail = exc.read(ERROR_BODY_BYTES).decode("utf-8", "replace")
            raise TransportError(f"Webhook 返回 HTTP {exc.code}：{detail}") from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, PermanentError):
                raise exc.reason from exc
            raise TransportError(f"Webhook 连接失败：{exc.reason}") from exc
        except PermanentError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise TransportError(f"Webhook 连接失败：{exc}") from exc


TRANSPORTS: dict[str, type[Transport]] = {
    t.channel: t for t in (InboxTransport, EmailTransport, WebhookTransport, SmsTransport)
}


def transport_for(channel: str) -> Transport:
    try:
        return TRANSPORTS[channel]()
    except KeyError as exc:
        raise PermanentError(f"未知的通知渠道：{channel}") from exc
