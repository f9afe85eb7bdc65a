# Written by hand (ADR 0025): the rows a due-time sweep failed on, with their attempt count.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0010_emergencies"),
    ]

    operations = [
        migrations.CreateModel(
            name="SweepFailure",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("sweep", models.CharField(max_length=48)),
                ("row_id", models.BigIntegerField()),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("error", models.CharField(blank=True, max_length=100)),
                ("first_at", models.DateTimeField()),
                ("last_at", models.DateTimeField()),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("sweep", "row_id"), name="sweepfailure_once_per_row")
                ],
            },
        ),
    ]
