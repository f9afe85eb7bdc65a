"""The category wishes from the wish box (心语心愿箱) are filed under when the writer picks none. Editable in the
console like any other; never imports app code."""

from django.db import migrations

CODE = "wish"


def create(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    if Category.objects.filter(code=CODE).exists():
        return
    Category.objects.create(
        code=CODE,
        name="心愿建议",
        description="心语心愿箱收到的居民心声、愿望和建议",
        default_level="community",
        accept_within=2,
        accept_unit="working_days",
        resolve_within=10,
        resolve_unit="working_days",
        service_code="wish",
        keywords="心愿,建议,希望",
        active=True,
        sort=900,
    )


def remove(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    Case = apps.get_model("cases", "Case")
    if not Case.objects.filter(category__code=CODE).exists():
        Category.objects.filter(code=CODE).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0004_appeals_loop")]
    operations = [migrations.RunPython(create, remove)]
