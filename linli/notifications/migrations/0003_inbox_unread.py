"""The message centre: a partial index for the bell's unread count, and a ``kind`` in the payload of inbox rows
written before every call site named one (derived from the ids those payloads already held)."""

from django.db import migrations, models

BATCH = 1000


def kind_for(payload):
    """The kind an older inbox payload stands for (the rules of the call sites at the time), or None."""
    if payload.get("kind") == "emerging_issue" or "issue" in payload:
        return "hotspot"
    if "alarm" in payload:
        return "emergency"
    if "extension" in payload:
        return "extension"
    if "whistle" in payload:
        return "red" if payload.get("level") == "red" else "whistle"
    if payload.get("level") in ("yellow", "red"):
        return payload["level"]
    if payload.get("action") in ("assign", "reopen"):
        return payload["action"]
    return None


def add_kinds(apps, schema_editor):
    Message = apps.get_model("notifications", "Message")
    last = 0
    while True:
        rows = list(Message.objects.filter(channel="inbox", pk__gt=last).order_by("pk")[:BATCH])
        if not rows:
            break
        last = rows[-1].pk
        changed = []
        for row in rows:
            payload = dict(row.payload or {})
            if payload.get("kind") not in (None, "emerging_issue"):
                continue
            kind = kind_for(payload)
            if kind is not None:
                payload["kind"] = kind
                row.payload = payload
                changed.append(row)
        Message.objects.bulk_update(changed, ["payload"])


class Migration(migrations.Migration):
    dependencies = [("notifications", "0002_sms_throttle")]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("channel", "inbox"), ("read_at__isnull", True)),
                fields=["recipient"],
                name="notif_inbox_unread_idx",
            ),
        ),
        migrations.RunPython(add_kinds, migrations.RunPython.noop, elidable=True),
    ]
