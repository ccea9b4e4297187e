"""The admin as definition editor: inline errors, diagram, diff, publish, permissions."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from orchestration import services
from orchestration.models import ProcessEvent, ProcessVersion
from orchestration.states import VersionStatus
from tests.conftest import make_user
from tests.orchestration.factories import PURCHASE_SOURCE

pytestmark = pytest.mark.django_db

ADD = reverse("admin:orchestration_processversion_add")


def publish_url(version: ProcessVersion) -> str:
    return reverse("admin:orchestration_processversion_publish", args=[version.pk])


def change_url(version: ProcessVersion) -> str:
    return reverse("admin:orchestration_processversion_change", args=[version.pk])


def test_invalid_yaml_is_shown_inline_and_nothing_is_saved(client, process_admin) -> None:
    client.force_login(process_admin)
    bad = PURCHASE_SOURCE.replace("next: manager_approval", "next: managr_approval")
    response = client.post(ADD, {"source": bad})
    assert response.status_code == 200
    html = response.content.decode()
    assert "steps.route.branches[0].next: unknown step &#x27;managr_approval&#x27;" in html
    assert 'class="errorlist' in html
    assert not ProcessVersion.objects.exists()


def test_saving_a_valid_draft_then_publishing_it(client, process_admin) -> None:
    client.force_login(process_admin)
    response = client.post(ADD, {"source": PURCHASE_SOURCE, "_continue": "1"})
    version = ProcessVersion.objects.get()
    assert response.status_code == 302 and response.url == change_url(version)
    page = client.get(change_url(version)).content.decode()
    assert "<svg" in page and 'data-step="manager_approval"' in page
    assert "This is the first version." in page
    assert 'name="_publish"' in page
    # Publish leads to a page with the changes and a reason; only that publishes.
    response = client.post(change_url(version), {"_publish": "1", "source": PURCHASE_SOURCE})
    assert response.status_code == 302 and response.url == publish_url(version)
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT
    confirm = client.get(publish_url(version)).content.decode()
    assert "this will be the first" in confirm and 'name="reason"' in confirm
    no_reason = client.post(publish_url(version), {"reason": " "})
    assert no_reason.status_code == 200 and "This field is required." in no_reason.content.decode()
    version.refresh_from_db()
    assert version.status == VersionStatus.DRAFT
    done = client.post(publish_url(version), {"reason": "first go-live"})
    assert done.status_code == 302 and done.url == change_url(version)
    version.refresh_from_db()
    assert version.status == VersionStatus.PUBLISHED and version.published_by == process_admin
    event = ProcessEvent.objects.filter(kind="version.published").last()
    assert event.reason == "first go-live"


def test_published_version_is_read_only_and_shows_the_diff(client, process_admin) -> None:
    v1 = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    services.version_publish(version=v1, actor=None)
    v2 = services.version_save_draft(
        source=PURCHASE_SOURCE.replace("due: 2d", "due: 3d"), actor=None
    ).version
    client.force_login(process_admin)
    page = client.get(change_url(v1)).content.decode()
    assert "<textarea" not in page  # read-only
    assert 'name="_deprecate"' in page and 'name="_new_draft"' in page
    response = client.post(change_url(v1), {"source": "key: hacked"})
    assert response.status_code == 403
    v1.refresh_from_db()
    assert v1.source == PURCHASE_SOURCE
    diff = client.get(change_url(v2)).content.decode()
    assert 'class="diff"' in diff and 'class="diff_chg"' in diff
    assert "v1 (Published)" in diff


def test_editing_a_draft_cannot_change_its_key(client, process_admin) -> None:
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    client.force_login(process_admin)
    response = client.post(
        change_url(draft), {"source": PURCHASE_SOURCE.replace("key: purchase-approval", "key: x")}
    )
    assert response.status_code == 200
    assert "key: must stay &#x27;purchase-approval&#x27;" in response.content.decode()


def test_publish_needs_the_process_admin_role(client, roles) -> None:
    operator = make_user("otto", Role.OPERATOR, is_staff=True)
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    client.force_login(operator)
    page = client.get(change_url(draft)).content.decode()
    assert 'name="_publish"' not in page
    client.post(change_url(draft), {"_publish": "1"})
    assert client.post(publish_url(draft), {"reason": "mine now"}).status_code == 403
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT


def test_staff_without_a_role_sees_no_definitions(client, outsider) -> None:
    client.force_login(outsider)
    assert client.get(reverse("admin:orchestration_processversion_changelist")).status_code == 403
    assert client.get(ADD).status_code == 403


def test_publishing_a_second_version_shows_what_changes(client, process_admin) -> None:
    v1 = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    services.version_publish(version=v1, actor=None)
    v2 = services.version_save_draft(
        source=PURCHASE_SOURCE.replace("due: 2d", "due: 3d"), actor=None
    ).version
    client.force_login(process_admin)
    page = client.get(publish_url(v2)).content.decode()
    assert "v1 (published)" in page and 'class="diff_chg"' in page and "due:" in page
    # The list offers no bulk publish: one version at a time, with a reason.
    listing = client.get(reverse("admin:orchestration_processversion_changelist"))
    assert "publish_selected" not in listing.content.decode()


def test_new_draft_from_a_published_version(client, process_admin) -> None:
    v1 = services.version_save_draft(source=PURCHASE_SOURCE, actor=None).version
    services.version_publish(version=v1, actor=None)
    client.force_login(process_admin)
    response = client.post(change_url(v1), {"_new_draft": "1"})
    v2 = ProcessVersion.objects.get(number=2)
    assert response.status_code == 302 and response.url == change_url(v2)
    assert v2.status == VersionStatus.DRAFT and v2.source == PURCHASE_SOURCE


def test_version_list_query_count_does_not_grow(client, process_admin) -> None:
    def add_definitions(first: int, last: int) -> None:
        for n in range(first, last):
            source = PURCHASE_SOURCE.replace("key: purchase-approval", f"key: p{n}")
            version = services.version_save_draft(source=source, actor=process_admin).version
            services.version_publish(version=version, actor=process_admin)
            services.version_save_draft(source=source.replace("due: 2d", "due: 3d"), actor=None)

    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("admin:orchestration_processversion_changelist"))
        assert response.status_code == 200
        return len(queries)

    client.force_login(process_admin)
    add_definitions(0, 2)
    few = queries_for_the_list()
    add_definitions(2, 12)
    many = queries_for_the_list()
    assert ProcessVersion.objects.count() == 24
    assert few == many, f"{few} queries for 4 versions, {many} for 24"
    assert many <= 12


def test_publish_with_unsaved_edits_keeps_them_and_publishes_nothing(client, process_admin) -> None:
    client.force_login(process_admin)
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=process_admin).version
    edited = PURCHASE_SOURCE.replace("name: Purchase approval", "name: Purchase approval (new)")
    answer = client.post(change_url(draft), {"_publish": "1", "source": edited})
    assert answer.status_code == 302
    draft.refresh_from_db()
    assert draft.status == VersionStatus.DRAFT and draft.source == PURCHASE_SOURCE
    page = client.get(answer.url).content.decode()
    assert "Nothing was published: the editor has changes that are not saved." in page
    assert "Purchase approval (new)" in page  # the typed text, back in the editor
    assert "Purchase approval (new)" not in client.get(change_url(draft)).content.decode()


def test_a_failed_save_says_the_diagram_is_the_last_saved_one(client, process_admin) -> None:
    client.force_login(process_admin)
    draft = services.version_save_draft(source=PURCHASE_SOURCE, actor=process_admin).version
    bad = PURCHASE_SOURCE.replace("next: manager_approval", "next: nowhere")
    page = client.post(change_url(draft), {"_save": "1", "source": bad}).content.decode()
    assert 'id="stale-diagram"' in page and "still show the last saved version" in page
    fine = client.get(change_url(draft)).content.decode()
    assert 'id="stale-diagram"' not in fine


def test_the_admin_names_the_product(client, process_admin) -> None:
    client.force_login(process_admin)
    html = client.get(reverse("admin:index")).content.decode()
    assert "Process engine administration" in html and "Django administration" not in html


def test_new_definitions_start_from_a_gallery_of_templates(client, process_admin) -> None:
    from orchestration.definitions import gallery

    client.force_login(process_admin)
    page = client.get(ADD).content.decode()
    assert 'id="gallery"' in page and "definition reference" in page
    for template in gallery.templates():
        assert f'href="?template={template.slug}"' in page
        # Each template is a valid definition, shown in the editor when chosen.
        assert services.draft_errors(template.source)[1] == []
        chosen = client.get(ADD, {"template": template.slug}).content.decode()
        assert f"key: {services.draft_errors(template.source)[0]['key']}" in chosen
    # "Add" on the definitions list leads to the same page.
    add = client.get(reverse("admin:orchestration_processdefinition_add"))
    assert add.status_code == 302 and add.url == ADD


def test_the_editor_checks_as_one_types_without_saving(client, process_admin) -> None:
    client.force_login(process_admin)
    url = reverse("admin:orchestration_processversion_validate")
    bad = PURCHASE_SOURCE.replace("approve: place_order", "approve: place_ordr")
    answer = client.post(url, {"source": bad}).json()
    (error,) = answer["errors"]
    line = next(n for n, text in enumerate(bad.splitlines(), 1) if "place_ordr" in text)
    assert error["line"] == line and error["message"] == "unknown step 'place_ordr'"
    assert client.post(url, {"source": PURCHASE_SOURCE}).json() == {"errors": []}
    assert not ProcessVersion.objects.exists()
    page = client.get(ADD).content.decode()
    assert 'id="definition-schema"' in page and "orchestration/editor.js" in page


def test_the_editor_check_needs_the_process_admin_role(client, roles) -> None:
    operator = make_user("otto", Role.OPERATOR, is_staff=True)
    client.force_login(operator)
    url = reverse("admin:orchestration_processversion_validate")
    assert client.post(url, {"source": PURCHASE_SOURCE}).status_code == 403


def test_saving_lists_errors_by_line_with_the_first_cause_first(client, process_admin) -> None:
    client.force_login(process_admin)
    bad = PURCHASE_SOURCE.replace("approve: place_order", "approve: place_ordr")
    html = client.post(ADD, {"source": bad}).content.decode()
    errors = html.split('class="errorlist', 1)[1].split("</ul>", 1)[0]
    assert errors.count("<li>") == 1 and "line " in errors and "place_ordr" in errors
