from __future__ import annotations

import pytest
from django.urls import reverse

from orchestration import services
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = pytest.mark.django_db


def test_home_needs_a_login(client) -> None:
    response = client.get(reverse("tasks_ui:home"))
    assert response.status_code == 302 and response.url == "/accounts/login/?next=/"


def test_home_is_the_inbox(client, requester) -> None:
    client.force_login(requester)
    response = client.get(reverse("tasks_ui:home"))
    assert response.status_code == 302 and response.url == reverse("tasks_ui:inbox")


def test_the_start_page_lists_what_one_may_start_with_a_constant_query_count(
    client, requester, django_assert_num_queries
) -> None:
    for n in range(3):
        source = PURCHASE_SOURCE.replace("key: purchase-approval", f"key: p{n}").replace(
            "name: Purchase approval", f"name: Purchase {n} <b>"
        )
        services.version_publish(
            version=services.version_save_draft(source=source, actor=None).version, actor=None
        )
    services.version_save_draft(source=PURCHASE_SOURCE, actor=None)  # a draft: not listed
    client.force_login(requester)
    # session, user, versions, the user's groups, user and group permissions
    with django_assert_num_queries(6):
        response = client.get(reverse("tasks_ui:start-list"))
    html = response.content.decode()
    assert html.count('href="/start/p') == 3 and "/start/purchase-approval/" not in html
    assert "Purchase 0 &lt;b&gt;" in html
    assert "htmx" in html and "X-CSRFToken" in html


def test_definition_schema_is_published(client) -> None:
    response = client.get(reverse("orchestration:definition-schema"))
    assert response.status_code == 200
    schema = response.json()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "approval_step" in schema["$defs"]
