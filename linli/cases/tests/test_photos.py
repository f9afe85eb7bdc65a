"""Photos: checked before any write (count, size, real image), re-encoded without EXIF, stored with the case or
the timeline entry they belong to, and removed again when the transaction that stored them rolls back."""

from __future__ import annotations

import gc
import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image

from linli.cases import attachments, services
from linli.cases.models import Attachment, Case, CaseEvent
from linli.core.errors import LinliError

pytestmark = pytest.mark.django_db


def jpeg(width: int = 64, height: int = 48, *, exif: bool = True, orientation: int | None = None) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    tags = Image.Exif()
    if exif:
        tags[0x010F] = "HUAWEI"  # Make
        tags[0x0110] = "P60 Pro"  # Model
        tags[0x0131] = "camera-firmware-1.2"  # Software
        gps = {1: "N", 2: (35.0, 15.0, 0.0), 3: "E", 4: (115.0, 26.0, 0.0)}
        tags[0x8825] = gps  # GPS IFD
    if orientation:
        tags[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=tags.tobytes())
    return out.getvalue()


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (20, 10), (0, 0, 255, 128)).save(out, format="PNG", pnginfo=_png_text())
    return out.getvalue()


def _png_text():
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "王芳 13812345678")
    return info


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 30), (0, 128, 0)).save(out, format="WEBP")
    return out.getvalue()


def stored_files() -> set[str]:
    try:
        years = default_storage.listdir("cases")[0]
    except FileNotFoundError:
        return set()
    found: set[str] = set()
    for year in years:
        for month in default_storage.listdir(f"cases/{year}")[0]:
            found |= {
                f"cases/{year}/{month}/{f}" for f in default_storage.listdir(f"cases/{year}/{month}")[1]
            }
    return found


def test_exif_and_gps_are_stripped_and_orientation_kept():
    raw = jpeg(orientation=6)  # "rotate 90° to display"
    assert b"HUAWEI" in raw and Image.open(io.BytesIO(raw)).getexif()
    (photo,) = attachments.check_photos([("IMG_0001.jpg", raw)])
    assert (photo.content_type, photo.ext) == ("image/jpeg", "jpg")
    assert b"HUAWEI" not in photo.data and b"Exif" not in photo.data
    clean = Image.open(io.BytesIO(photo.data))
    assert not clean.getexif() and "exif" not in clean.info
    assert (photo.width, photo.height) == (48, 64) == clean.size  # turned upright before the tags went


def test_png_text_chunks_are_dropped_and_webp_accepted():
    cleaned_png, cleaned_webp = attachments.check_photos([("a.png", png()), ("b.webp", webp())])
    assert cleaned_png.content_type == "image/png" and "王芳".encode() not in cleaned_png.data
    assert Image.open(io.BytesIO(cleaned_png.data)).info.get("Author") is None
    assert cleaned_webp.content_type == "image/webp" and cleaned_webp.width == 30


def test_uploaded_files_are_read_like_tuples():
    upload = SimpleUploadedFile("现场.jpg", jpeg(), content_type="image/jpeg")
    (photo,) = attachments.check_photos([upload])
    assert photo.name == "现场.jpg" and len(photo.sha256) == 64


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ([("p.jpg", jpeg())] * 7, "最多上传 6 张照片"),
        ([("big.jpg", b"\xff" * (attachments.MAX_PHOTO_BYTES + 1))], "“big.jpg”超过 10 MB"),
        ([("notes.jpg", b"this is a text file renamed to .jpg")], "“notes.jpg”不是可识别的照片"),
        ([("empty.png", b"")], "“empty.png”是空文件"),
        ([("ok.jpg", jpeg()), ("half.jpg", jpeg()[:200])], "“half.jpg”不是可识别的照片"),
        ([("anim.gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;")], "“anim.gif”不是可识别的照片"),
    ],
)
def test_bad_photos_are_refused_naming_the_file(files, message):
    with pytest.raises(LinliError) as caught:
        attachments.check_photos(files)
    assert message in str(caught.value) and caught.value.field == "photos"


def test_oversized_upload_is_refused_before_reading():
    upload = SimpleUploadedFile("huge.jpg", b"\x00" * 16)
    upload.size = attachments.MAX_PHOTO_BYTES + 1
    with pytest.raises(LinliError, match="超过 10 MB"):
        attachments.check_photos([upload])


def test_case_create_with_photos_links_them_to_the_create_entry(make_case):
    case = make_case(photos=[("a.jpg", jpeg()), ("b.png", png())])
    rows = attachments.attachments_for(case)
    create = CaseEvent.objects.get(case=case, kind="create")
    assert [(a.purpose, a.event_id, a.content_type) for a in rows] == [
        ("report", create.pk, "image/jpeg"),
        ("report", create.pk, "image/png"),
    ]
    assert create.data["photos"] == 2
    for row in rows:
        assert default_storage.exists(row.file.name) and row.file.name.startswith("cases/")
        # the uploaded name is never stored (a random name may happen to end in "a.jpg": compare the whole name)
        assert Path(row.file.name).name != "a.jpg"
        with attachments.open_file(row) as handle:
            assert b"HUAWEI" not in handle.read()


def test_bad_photo_writes_nothing(make_case):
    before = stored_files()
    with pytest.raises(LinliError):
        make_case(photos=[("a.jpg", jpeg()), ("fake.jpg", b"not an image")])
    assert Case.objects.count() == 0 and Attachment.objects.count() == 0
    assert stored_files() == before


def test_rollback_removes_the_written_files(make_case):
    with pytest.raises(RuntimeError), transaction.atomic():
        case = make_case(photos=[("a.jpg", jpeg()), ("b.jpg", jpeg(32, 32))])
        names = [a.file.name for a in attachments.attachments_for(case)]
        assert len(names) == 2 and all(default_storage.exists(n) for n in names)
        raise RuntimeError("something later in the same transaction failed")
    gc.collect()
    assert not any(default_storage.exists(n) for n in names)
    assert not Attachment.objects.exists()


def test_savepoint_rollback_removes_only_its_files(make_case):
    kept = make_case(photos=[("keep.jpg", jpeg())])
    kept_name = attachments.attachments_for(kept)[0].file.name
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = make_case(photos=[("lose.jpg", jpeg(20, 20))])
        lost_name = attachments.attachments_for(lost)[0].file.name
        raise RuntimeError
    gc.collect()
    assert default_storage.exists(kept_name) and not default_storage.exists(lost_name)


def test_committed_files_are_kept(make_case, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        case = make_case(photos=[("a.jpg", jpeg())])
    name = attachments.attachments_for(case)[0].file.name
    gc.collect()
    assert default_storage.exists(name)


def test_resolve_photos_belong_to_the_resolve_entry(world, make_case):
    case = make_case(grid=world.g1a)
    case = services.transition(
        case=case, action="assign", actor=None, version=1, handler_user=world.users["grid_worker"]
    )
    worker = world.users["grid_worker"]
    case = services.transition(case=case, action="accept", actor=worker, version=case.version)
    case = services.transition(
        case=case,
        action="resolve",
        actor=worker,
        version=case.version,
        note="杂物已清理",
        photos=[("after.jpg", jpeg())],
    )
    (row,) = attachments.attachments_for(case)
    resolve = CaseEvent.objects.get(case=case, kind="resolve")
    assert (row.purpose, row.event_id) == ("result", resolve.pk)
    assert attachments.attachments_for_events([resolve.pk]) == {resolve.pk: [row]}


def test_bad_resolve_photo_leaves_the_case_unresolved(world, make_case):
    case = make_case(grid=world.g1a)
    case = services.transition(
        case=case, action="assign", actor=None, version=1, handler_user=world.users["grid_worker"]
    )
    case = services.transition(case=case, action="accept", actor=None, version=case.version)
    with pytest.raises(LinliError):
        services.transition(
            case=case,
            action="resolve",
            actor=None,
            version=case.version,
            note="已处理",
            photos=[("x.jpg", b"x")],
        )
    assert Case.objects.get(pk=case.pk).status == "accepted"
    assert not CaseEvent.objects.filter(case=case, kind="resolve").exists()


def test_added_photos_are_idempotent_and_scoped(world, make_case):
    case = make_case(grid=world.g1a)
    worker = world.users["grid_worker"]
    event, saved = services.case_add_photos(case=case, actor=worker, photos=[("p.jpg", jpeg())], note="现场")
    assert event is not None and event.kind == "photo" and len(saved) == 1 and saved[0].event_id == event.pk
    again = services.case_add_photos(case=case, actor=worker, photos=[("p.jpg", jpeg())])
    assert again == (None, [])  # the same photo, retried: nothing added
    from linli.core.errors import NotFound, PermissionDenied

    with pytest.raises(NotFound):
        services.case_add_photos(case=case, actor=world.users["secretary"], photos=[("p.jpg", jpeg(10, 10))])
    with pytest.raises(PermissionDenied):  # street staff see the case but do not handle it
        services.case_add_photos(
            case=case, actor=world.users["street_staff"], photos=[("p.jpg", jpeg(10, 10))], purpose="result"
        )
    assert Attachment.objects.filter(case=case).count() == 1
