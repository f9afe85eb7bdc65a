from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="throttle_key",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("throttle_key", ""), _negated=True),
                fields=["throttle_key", "-created_at"],
                name="notif_sms_throttle_idx",
            ),
        ),
    ]
