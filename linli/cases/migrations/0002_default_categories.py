"""A default category set for community governance; editable afterwards. Never imports app code."""

from django.db import migrations

H, WD, CH = "hours", "working_days", "calendar_hours"

# code, name, level, department code, (accept, unit), (resolve, unit), Open311 service_code, children
CATEGORIES = [
    ("property", "物业服务", "grid", "zhujian", (1, WD), (5, WD), "100", [
        ("property_repair", "公共设施报修", "grid", "zhujian", (1, WD), (3, WD), "101"),
        ("property_elevator", "电梯故障", "grid", "shichang", (2, H), (1, WD), "102"),
        ("property_fee", "物业收费", "community", "zhujian", (1, WD), (10, WD), "103"),
    ]),
    ("sanitation", "环境卫生", "grid", "chengguan", (1, WD), (3, WD), "200", [
        ("garbage", "垃圾清运", "grid", "chengguan", (4, H), (1, WD), "201"),
        ("greening", "绿化养护", "grid", "zhujian", (1, WD), (5, WD), "202"),
    ]),
    ("flying_wire", "飞线充电", "community", "yingji", (4, H), (2, WD), "300", []),
    ("parking", "停车", "community", "gongan", (1, WD), (3, WD), "400", [
        ("fire_lane", "占用消防通道", "community", "yingji", (2, H), (1, WD), "401"),
    ]),
    ("noise", "噪音扰民", "community", "gongan", (4, H), (2, WD), "500", []),
    ("neighbour_dispute", "邻里纠纷", "community", "sifa", (1, WD), (5, WD), "600", []),
    ("municipal", "市政设施", "street", "chengguan", (1, WD), (5, WD), "700", [
        ("streetlight", "路灯", "department", "chengguan", (1, WD), (3, WD), "701"),
        ("manhole", "井盖", "department", "chengguan", (2, H), (1, WD), "702"),
        ("road_damage", "道路破损", "department", "zhujian", (1, WD), (10, WD), "703"),
    ]),
    ("illegal_building", "违章搭建", "street", "chengguan", (1, WD), (15, WD), "800", []),
    ("safety_hazard", "安全隐患", "department", "yingji", (2, H), (1, WD), "900", [
        ("gas_leak", "燃气泄漏", "department", "yingji", (1, CH), (24, CH), "901"),
    ]),
    ("elder_care", "养老服务", "community", "minzheng", (1, WD), (5, WD), "1000", [
        ("elder_alone", "独居老人关爱", "community", "minzheng", (4, H), (2, WD), "1001"),
    ]),
]

YES_NO = [{"key": "yes", "name": "是"}, {"key": "no", "name": "否"}]
# category code → (code, datatype, required, description, values, order)
ATTRIBUTES = {
    "property_elevator": [
        ("trapped", "singlevaluelist", True, "是否有人被困", YES_NO, 1),
        ("elevator_no", "string", False, "电梯编号（轿厢内铭牌）", [], 2),
    ],
    "flying_wire": [
        ("spot", "singlevaluelist", True, "充电位置", [
            {"key": "corridor", "name": "楼道内"},
            {"key": "window", "name": "窗口拉线"},
            {"key": "outdoor", "name": "室外私拉"},
        ], 1),
    ],
    "noise": [
        ("source", "singlevaluelist", False, "噪音来源", [
            {"key": "renovation", "name": "装修施工"},
            {"key": "business", "name": "商铺经营"},
            {"key": "neighbour", "name": "住户生活"},
            {"key": "other", "name": "其他"},
        ], 1),
        ("time_seen", "datetime", False, "发生时间", [], 2),
    ],
    "manhole": [("blocking_road", "singlevaluelist", True, "是否影响通行", YES_NO, 1)],
    "safety_hazard": [("people_at_risk", "number", False, "可能受影响人数", [], 1)],
}


def seed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    Attribute = apps.get_model("cases", "CategoryAttribute")

    def make(parent, code, name, level, dept, accept, resolve, service_code, sort):
        category = Category.objects.create(
            parent=parent,
            code=code,
            name=name,
            default_level=level,
            default_department_code=dept,
            accept_within=accept[0],
            accept_unit=accept[1],
            resolve_within=resolve[0],
            resolve_unit=resolve[1],
            service_code=service_code,
            sort=sort,
        )
        for a_code, datatype, required, description, values, order in ATTRIBUTES.get(code, []):
            Attribute.objects.create(
                category=category,
                code=a_code,
                datatype=datatype,
                required=required,
                description=description,
                values=values,
                order=order,
            )
        return category

    for i, (code, name, level, dept, accept, resolve, service_code, children) in enumerate(CATEGORIES):
        if Category.objects.filter(code=code).exists():
            continue
        parent = make(None, code, name, level, dept, accept, resolve, service_code, (i + 1) * 10)
        for j, child in enumerate(children):
            make(parent, *child, (i + 1) * 10 + j + 1)


def unseed(apps, schema_editor):
    Category = apps.get_model("cases", "Category")
    codes = [c[0] for c in CATEGORIES] + [child[0] for c in CATEGORIES for child in c[7]]
    Category.objects.filter(code__in=codes, cases__isnull=True, parent__isnull=False).delete()
    Category.objects.filter(code__in=codes, cases__isnull=True, children__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
