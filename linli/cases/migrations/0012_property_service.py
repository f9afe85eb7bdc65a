# Written by hand (issue #12 item 5): categories marked as 物业服务 go to the compound's property manager.

from django.db import migrations, models

# The default categories a property company answers for: repairs of common parts and elevators. Fee disputes
# (property_fee) are complaints about the company itself: the community mediates them.
PROPERTY_CODES = ["property", "property_repair", "property_elevator"]


def mark(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    Category.objects.filter(code__in=PROPERTY_CODES).update(property_service=True)


class Migration(migrations.Migration):
    dependencies = [
        ("cases", "0011_sweep_failure"),
    ]

    operations = [
        migrations.AddField(
            model_name="category",
            name="property_service",
            field=models.BooleanField(default=False, verbose_name="物业服务类（派给小区物业经理）"),
        ),
        migrations.RunPython(mark, migrations.RunPython.noop),
    ]
