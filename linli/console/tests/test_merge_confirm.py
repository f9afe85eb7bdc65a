"""Issue #12: merging asks first (both cases named, nothing written), then says which case went into which on the
page of the case it went into; the number placeholders match real case numbers."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from linli.cases import numbering
from linli.console.tests import test_cases_support as support
from linli.console.tests.test_cases_support import act, fresh, login

pytestmark = pytest.mark.django_db

cats = support.cats
make = support.make


def test_merge_asks_first_and_writes_nothing(client, world, make):
    target = make(title="东门路灯不亮")
    duplicate = make(title="东门路灯坏了")
    c = login(client, world, "community_worker")
    before = (fresh(duplicate).status, fresh(duplicate).version)
    asked = act(c, duplicate, "merge", into=target.number, note="同一盏灯")
    html = asked.content.decode()
    assert asked.status_code == 200 and 'id="merge-confirm"' in html
    confirm = html.split('id="merge-confirm"')[1].split("</section>")[0]
    assert duplicate.number in confirm and target.number in confirm and "东门路灯不亮" in confirm
    assert 'name="confirm" value="1"' in confirm and 'name="note" value="同一盏灯"' in confirm
    assert (fresh(duplicate).status, fresh(duplicate).version) == before


def test_confirmed_merge_names_both_cases_and_opens_the_target(client, world, make):
    target = make(title="东门路灯不亮")
    duplicate = make(title="东门路灯坏了")
    c = login(client, world, "community_worker")
    response = act(c, duplicate, "merge", into=target.number, confirm="1")
    assert response.status_code == 302 and response["Location"] == reverse("console:case", args=[target.pk])
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert message == f"已将诉求 {duplicate.number} 合并到 {target.number}"
    assert fresh(duplicate).merged_into_id == target.pk


def test_htmx_merge_redirects_to_the_target(client, world, make):
    target = make(title="东门路灯不亮")
    duplicate = make(title="东门路灯坏了")
    c = login(client, world, "community_worker")
    duplicate.refresh_from_db()
    response = c.post(
        reverse("console:case_act", args=[duplicate.pk, "merge"]),
        {"version": duplicate.version, "into": target.number, "confirm": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response["HX-Redirect"] == reverse("console:case", args=[target.pk])


def test_a_wrong_number_is_refused_at_the_first_step(client, world, make):
    duplicate = make(title="东门路灯坏了")
    c = login(client, world, "community_worker")
    response = act(c, duplicate, "merge", into="SQ20000101-00000001")
    assert response.status_code == 400 and 'id="merge-confirm"' not in response.content.decode()
    assert fresh(duplicate).status != "merged"


def test_placeholders_match_the_numbering_format(client, world, make):
    case = make(title="东门路灯坏了")
    example = numbering.example()
    assert re.fullmatch(r"SQ\d{8}-\d{8}", example) and re.fullmatch(r"SQ\d{8}-\d{8}", case.number)
    c = login(client, world, "community_worker")
    listing = c.get(reverse("console:cases")).content.decode()
    assert f'placeholder="如 {example}，或标题中的字词"' in listing
    detail = c.get(reverse("console:case", args=[case.pk])).content.decode()
    assert f'placeholder="如 {example}"' in detail
