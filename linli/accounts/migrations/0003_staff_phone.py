from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_login_throttle_and_forced_change"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="phone_cipher",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.AddField(
            model_name="user",
            name="phone_masked",
            field=models.CharField(blank=True, default="", max_length=20, verbose_name="手机号"),
        ),
    ]
