"""A random public identifier per case (Open311 ``service_request_id``), so the public feed cannot be walked by the
sequential case number. Existing cases get one in batches; the column is then made unique and required.
Never imports app code."""

import base64
import secrets

from django.db import migrations, models

import linli.cases.models

BATCH = 2000


def _new() -> str:
    return base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()


def fill(apps, schema_editor):
    Case = apps.get_model("cases", "Case")
    while True:
        ids = list(Case.objects.filter(public_id__isnull=True).values_list("pk", flat=True)[:BATCH])
        if not ids:
            return
        Case.objects.bulk_update([Case(pk=pk, public_id=_new()) for pk in ids], ["public_id"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0008_open_region_lat_index")]

    operations = [
        migrations.AddField(
            model_name="case",
            name="public_id",
            field=models.CharField(editable=False, max_length=16, null=True),
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="case",
            name="public_id",
            field=models.CharField(
                default=linli.cases.models.new_public_id, editable=False, max_length=16, unique=True
            ),
        ),
    ]
