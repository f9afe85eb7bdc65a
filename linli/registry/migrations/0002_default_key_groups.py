"""The default list of key groups (重点人群); editable afterwards in the console."""

from django.db import migrations

DEFAULTS = [
    ("age60", "60岁以上老人", 60),
    ("alone", "独居老人", None),
    ("empty_nest", "空巢老人", None),
    ("disabled", "残疾人", None),
    ("low_income", "低保户", None),
    ("extreme_poverty", "特困人员", None),
    ("left_behind_child", "留守儿童", None),
    ("veteran", "退役军人", None),
    ("serious_illness", "大病患者", None),
    ("community_correction", "社区矫正对象", None),
]


def forwards(apps, schema_editor):
    KeyGroup = apps.get_model("registry", "KeyGroup")
    for sort, (code, name, min_age) in enumerate(DEFAULTS):
        KeyGroup.objects.get_or_create(code=code, defaults={"name": name, "min_age": min_age, "sort": sort})


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
