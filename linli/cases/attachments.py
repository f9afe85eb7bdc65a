"""Photos on cases: checked before anything is written, re-encoded without metadata, stored with their case.

``check_photos`` runs before any write: at most ``MAX_PHOTOS`` files of at most ``MAX_PHOTO_BYTES`` each, every one
really decoded by Pillow (JPEG, PNG, WebP, and HEIC/HEIF where a Pillow plugin for it is installed) and re-encoded
from its pixels alone, so EXIF (GPS position, camera serial, time) and every other metadata block is gone. A
renamed text file, a truncated upload or a decompression bomb is refused with a message naming the file.

Anonymous uploads (the QR page: no signed-in actor) get a lower pixel cap (``LINLI_PUBLIC_PHOTO_MAX_PIXELS``, 16 MP
by default, against ``LINLI_PHOTO_MAX_PIXELS`` for staff) and are stored smaller (``LINLI_PUBLIC_PHOTO_MAX_SIDE``);
the cap is read from the file's header before any pixel is decoded, and a JPEG is decoded already reduced (Pillow's
``draft``: the decoder scales by 1/2, 1/4 or 1/8 while decoding), so an upload cannot make a worker hold more
than the cap's pixels in memory.

``save_photos`` writes the files through Django's default storage (``MEDIA_ROOT`` on disk, or an object store by
configuration) and creates the ``Attachment`` rows, in the caller's transaction.

Why write the files *before* the commit (and not after it): a row that points to a file written only after the
commit can lose its file for good when the process dies in between (the evidence of a result is gone), while a
file written before the commit can at worst be left over without a row (harmless: it is never served, since
files are only served through views that look the row up). So files are written first, and a guard removes them
again when the transaction that created their rows rolls back — also when that is a savepoint or an outer
transaction of the caller. Django has no "on rollback" hook; the guard is an ``on_commit`` callback object: on
commit Django runs it (the files are kept); on rollback Django drops the callbacks registered inside the rolled
back block without running them, and the guard, dropped unrun, deletes the files (``weakref.finalize``).
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import FileResponse, Http404
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from linli.cases.models import Attachment, AttachmentPurpose, Case, CaseEvent
from linli.core.errors import LinliError

logger = logging.getLogger("linli.cases.attachments")

MAX_PHOTOS = 6
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PIXELS = (
    50_000_000  # default of LINLI_PHOTO_MAX_PIXELS: a bigger picture is refused; phones shoot ≤ 50 MP
)
PUBLIC_MAX_PIXELS = 16_000_000  # default of LINLI_PUBLIC_PHOTO_MAX_PIXELS (a 12 MP phone photo is 4032×3024)
MAX_SIDE = 4096  # stored photos are scaled down to this longest side
PUBLIC_MAX_SIDE = 1920  # default of LINLI_PUBLIC_PHOTO_MAX_SIDE
JPEG_QUALITY = 85

# Pillow format → (stored format, extension, content type). HEIC/HEIF/MPO are stored as JPEG.
_FORMATS: dict[str, tuple[str, str, str]] = {
    "JPEG": ("JPEG", "jpg", "image/jpeg"),
    "MPO": ("JPEG", "jpg", "image/jpeg"),
    "HEIF": ("JPEG", "jpg", "image/jpeg"),
    "HEIC": ("JPEG", "jpg", "image/jpeg"),
    "PNG": ("PNG", "png", "image/png"),
    "WEBP": ("WEBP", "webp", "image/webp"),
}
ACCEPTED = "JPG、PNG、WebP 或 HEIC"


@dataclass(frozen=True)
class CheckedPhoto:
    name: str  # the uploaded name, for messages only (never stored: it may say who took the picture)
    data: bytes  # the re-encoded image, no metadata
    content_type: str
    ext: str
    width: int
    height: int
    sha256: str


def _label(name: str) -> str:
    name = (name or "").replace("\n", " ").strip() or "未命名文件"
    return name if len(name) <= 60 else name[:57] + "…"


def _read(item: UploadedFile | tuple[str, bytes], index: int, field: str) -> tuple[str, bytes]:
    if isinstance(item, tuple):
        name, data = item
        name = _label(name)
        if len(data) > MAX_PHOTO_BYTES:
            raise LinliError(f"照片“{name}”超过 10 MB，请压缩后重新上传", field=field)
        return name, bytes(data)
    name = _label(getattr(item, "name", "") or f"第 {index} 张照片")
    size = getattr(item, "size", None)
    if size is not None and size > MAX_PHOTO_BYTES:
        raise LinliError(f"照片“{name}”超过 10 MB，请压缩后重新上传", field=field)
    buffer = io.BytesIO()
    item.seek(0)
    for chunk in item.chunks():
        buffer.write(chunk)
        if buffer.tell() > MAX_PHOTO_BYTES:
            raise LinliError(f"照片“{name}”超过 10 MB，请压缩后重新上传", field=field)
    return name, buffer.getvalue()


@dataclass(frozen=True)
class Limits:
    max_pixels: int
    max_side: int


def limits(public: bool) -> Limits:
    """The pixel cap and stored size for staff uploads, or for anonymous (public) ones."""
    if public:
        return Limits(
            int(getattr(settings, "LINLI_PUBLIC_PHOTO_MAX_PIXELS", PUBLIC_MAX_PIXELS)),
            int(getattr(settings, "LINLI_PUBLIC_PHOTO_MAX_SIDE", PUBLIC_MAX_SIDE)),
        )
    return Limits(int(getattr(settings, "LINLI_PHOTO_MAX_PIXELS", MAX_PIXELS)), MAX_SIDE)


def _target(width: int, height: int, side: int) -> tuple[int, int]:
    """The size the picture is stored at (longest side at most ``side``)."""
    scale = min(1.0, side / max(width, height, 1))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _clean(name: str, data: bytes, field: str, limit: Limits) -> CheckedPhoto:
    not_image = LinliError(f"文件“{name}”不是可识别的照片，请上传 {ACCEPTED} 格式的图片", field=field)
    if not data:
        raise LinliError(f"文件“{name}”是空文件", field=field)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                source_format = (probe.format or "").upper()
                if source_format not in _FORMATS:
                    raise not_image
                if probe.width * probe.height > limit.max_pixels:
                    raise LinliError(f"照片“{name}”像素过大，请缩小后重新上传", field=field)
                probe.verify()  # structure and checksums
            with Image.open(io.BytesIO(data)) as image:
                if source_format in ("JPEG", "MPO"):  # decoded reduced: never more pixels than will be stored
                    image.draft("RGB", _target(image.width, image.height, limit.max_side))
                image.load()  # every pixel really decodes
                picture = ImageOps.exif_transpose(image)  # keep what the camera meant as "up"
    except LinliError:
        raise
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
        EOFError,
    ) as exc:
        raise not_image from exc
    stored_format, ext, content_type = _FORMATS[source_format]
    if stored_format == "JPEG":
        picture = picture.convert("RGB")
    elif picture.mode not in ("RGB", "RGBA", "L", "LA"):
        picture = picture.convert("RGBA")
    if max(picture.size) > limit.max_side:
        picture.thumbnail((limit.max_side, limit.max_side))
    # A new image from the pixels alone: nothing of the source's metadata (EXIF, XMP, text chunks) can follow.
    bare = Image.frombytes(picture.mode, picture.size, picture.tobytes())
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": JPEG_QUALITY} if stored_format in ("JPEG", "WEBP") else {}
    if stored_format == "PNG":
        options["optimize"] = True
    bare.save(out, format=stored_format, **options)
    clean = out.getvalue()
    return CheckedPhoto(
        name=name,
        data=clean,
        content_type=content_type,
        ext=ext,
        width=bare.width,
        height=bare.height,
        sha256=hashlib.sha256(clean).hexdigest(),
    )


def check_photos(
    files: Sequence[UploadedFile | tuple[str, bytes]], *, field: str = "photos", public: bool = False
) -> list[CheckedPhoto]:
    """Every photo decoded, checked and re-encoded without metadata; a LinliError naming the file otherwise.
    ``public``: an anonymous upload (lower pixel cap, stored smaller).

    Nothing is written: call it before the transaction that stores the case."""
    limit = limits(public)
    files = list(files or ())
    if len(files) > MAX_PHOTOS:
        raise LinliError(f"最多上传 {MAX_PHOTOS} 张照片（当前 {len(files)} 张）", field=field)
    checked: list[CheckedPhoto] = []
    for index, item in enumerate(files, start=1):
        name, data = _read(item, index, field)
        checked.append(_clean(name, data, field, limit))
    return checked


# ------------------------------------------------------------------------------------------------- storing


class _RollbackGuard:
    """Deletes the stored files unless the transaction that wrote their rows commits (see the module doc)."""

    def __init__(self, names: list[str]) -> None:
        self.state = {"committed": False}
        # The finalizer holds the names and the state, never the guard: dropping the guard unrun runs it.
        weakref.finalize(self, _discard, names, self.state)

    def __call__(self) -> None:
        self.state["committed"] = True


def _discard(names: list[str], state: dict[str, bool]) -> None:
    if state["committed"]:
        return
    state["committed"] = True  # once
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # a file we cannot remove is an orphan without a row: never served
            logger.warning("could not remove photo %s after a rollback", name, exc_info=True)


def _store(photo: CheckedPhoto, now: Any) -> str:
    local = timezone.localtime(now)
    name = f"cases/{local:%Y/%m}/{secrets.token_urlsafe(18)}.{photo.ext}"
    return default_storage.save(name, ContentFile(photo.data))


def save_photos(
    case: Case, photos: list[CheckedPhoto], *, purpose: str, event: CaseEvent | None = None
) -> list[Attachment]:
    """Store checked photos of ``case`` (optionally linked to the timeline entry they belong to).

    Call inside the caller's transaction: if it rolls back, the files are removed again. Outside a transaction
    (autocommit) the rows are committed at once and the files kept."""
    if purpose not in AttachmentPurpose.values:
        raise LinliError(f"未知的照片用途：{purpose}", field="purpose")
    if not photos:
        return []
    now = timezone.now()
    names: list[str] = []
    guard = _RollbackGuard(names)
    try:
        saved = []
        for photo in photos:
            names.append(_store(photo, now))
            saved.append(
                Attachment.objects.create(
                    case=case,
                    event=event,
                    purpose=purpose,
                    file=names[-1],
                    content_type=photo.content_type,
                    size=len(photo.data),
                    width=photo.width,
                    height=photo.height,
                    sha256=photo.sha256,
                    created_at=now,
                )
            )
    except BaseException:
        _discard(names, guard.state)  # the caller's transaction is failing anyway: remove them now
        raise
    transaction.on_commit(guard)  # dropped unrun on rollback → the finalizer removes the files
    return saved


def attachments_for(case: Case) -> list[Attachment]:
    """The case's photos, oldest first (one query)."""
    return list(Attachment.objects.filter(case_id=case.pk).order_by("id"))


def attachments_for_events(event_ids: list[int]) -> dict[int, list[Attachment]]:
    """Photos per timeline entry (one query), for timelines that show each entry's photos."""
    found: dict[int, list[Attachment]] = {}
    if not event_ids:
        return found
    for row in Attachment.objects.filter(event_id__in=event_ids).order_by("id"):
        found.setdefault(row.event_id or 0, []).append(row)
    return found


def open_file(attachment: Attachment) -> Any:
    """The stored file, opened for reading (the caller checked the case's scope or tracking token)."""
    return default_storage.open(attachment.file.name, "rb")


def file_response(attachment: Attachment, *, filename: str = "") -> FileResponse:
    """The photo as a private, inline HTTP answer; the caller checked the case's scope or tracking token.

    Raises ``Http404`` when the stored file is gone."""
    try:
        handle = open_file(attachment)
    except OSError as exc:
        raise Http404 from exc
    response = FileResponse(handle, content_type=attachment.content_type or "application/octet-stream")
    response["Content-Disposition"] = f'inline; filename="{filename}"' if filename else "inline"
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response
