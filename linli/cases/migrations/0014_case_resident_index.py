# Issue #12 (helper E): the resident page lists the appeals a ledger resident reported.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0013_dashboard_counts"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="case",
            index=models.Index(
                condition=models.Q(("resident__isnull", False)),
                fields=["resident", "id"],
                name="case_resident_id",
            ),
        ),
    ]
