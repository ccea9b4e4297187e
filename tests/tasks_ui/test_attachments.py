"""Files on a start form and on a task: stored through Django's storage,
within a byte, count and type budget, shown and downloadable only to those
who may see them, in the audit log and the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from orchestration.models import Attachment, ProcessEvent, ProcessInstance
from tests.api.conftest import api, key_for
from tests.tasks_ui.conftest import login, purchase

pytestmark = pytest.mark.django_db
QUOTE = "Angebot Müller & Söhne.pdf"


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def start_with(client, *files) -> object:
    form = {"item": "desk", "amount": "5000", "files": list(files)}
    return client.post(reverse("tasks_ui:start", args=["purchase-approval"]), form)


def stored(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()]


def test_a_file_on_the_start_form_is_kept_shown_and_downloaded_by_those_who_see_it(
    client, run, media
) -> None:
    login(client, "alice")
    started = start_with(client, SimpleUploadedFile(QUOTE, b"%PDF-1.7 quote"))
    assert started.status_code == 302
    run.run()
    instance = ProcessInstance.objects.get()
    (file,) = Attachment.objects.filter(instance=instance)
    assert (file.name, file.size, file.content_type) == ("Angebot Müller _ Söhne.pdf", 14,
                                                         "application/pdf")  # fmt: skip
    assert len(stored(media)) == 1
    page = client.get(reverse("tasks_ui:instance", args=[instance.pk])).content.decode()
    assert "Angebot Müller _ Söhne.pdf" in page
    got = client.get(reverse("tasks_ui:attachment", args=[file.pk]))
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"%PDF-1.7 quote"
    assert (
        "attachment;" in got["Content-Disposition"]
        and "filename*=utf-8''" in got["Content-Disposition"]
    )
    # The approver sees it on the task; a director who has no part in it does not.
    bob = Client()
    login(bob, "bob")
    task = instance.tasks.get()
    assert "Angebot Müller" in bob.get(reverse("tasks_ui:task", args=[task.pk])).content.decode()
    assert bob.get(reverse("tasks_ui:attachment", args=[file.pk])).status_code == 200
    dave = Client()
    login(dave, "dave")
    assert dave.get(reverse("tasks_ui:attachment", args=[file.pk])).status_code == 404
    event = ProcessEvent.objects.get(kind="attachment.added")
    assert event.payload["sha256"] == file.sha256 and event.actor.username == "alice"


def test_a_refused_file_starts_nothing_and_stores_nothing(client, run, media, settings) -> None:
    login(client, "alice")
    refused = start_with(client, SimpleUploadedFile("quote.pdf", b"fine"),
                         SimpleUploadedFile("setup.exe", b"MZ"))  # fmt: skip
    assert refused.status_code == 400
    html = refused.content.decode()
    assert (
        'id="start-files-error">setup.exe: only pdf, png' in html and 'aria-invalid="true"' in html
    )
    assert not ProcessInstance.objects.exists() and not Attachment.objects.exists()
    assert stored(media) == []
    # The cap counts bytes: six characters of two bytes each are 12 bytes.
    settings.ORCHESTRATION_ATTACHMENT_MAX_BYTES = 10
    too_big = start_with(client, SimpleUploadedFile("ü.txt", "üüüüüü".encode()))
    assert too_big.status_code == 400 and "larger than 10 bytes" in too_big.content.decode()
    fits = start_with(client, SimpleUploadedFile("ü.txt", "üüüüü".encode()))
    assert fits.status_code == 302 and Attachment.objects.get().size == 10


def test_files_on_a_task_and_the_budget_per_instance(client, run, media, settings) -> None:
    task = purchase(run, "desk")
    login(client, "bob")
    url = reverse("tasks_ui:task-attach", args=[task.pk])
    added = client.post(url, {"files": [SimpleUploadedFile("invoice.png", b"\x89PNG")]})
    assert added.status_code == 302
    (file,) = Attachment.objects.all()
    assert file.task_id == task.pk and file.uploaded_by.username == "bob"
    settings.ORCHESTRATION_ATTACHMENTS_PER_INSTANCE = 1
    client.post(url, {"files": [SimpleUploadedFile("second.png", b"\x89PNG")]})
    assert Attachment.objects.count() == 1 and len(stored(media)) == 1
    # An auditor reads every task, so the file too; she may not add one.
    audrey = Client()
    login(audrey, "audrey")
    assert audrey.get(reverse("tasks_ui:attachment", args=[file.pk])).status_code == 200
    settings.ORCHESTRATION_ATTACHMENTS_PER_INSTANCE = 50
    audrey.post(url, {"files": [SimpleUploadedFile("mine.png", b"\x89PNG")]})
    assert Attachment.objects.count() == 1


def test_the_api_lists_adds_and_downloads_files(run, media) -> None:
    task = purchase(run, "desk")
    bob = api(key_for("bob"))
    url = f"/api/v1/instances/{task.instance_id}/attachments"
    made = bob.post(url, {"file": SimpleUploadedFile("Rechnung ÄÖÜ.pdf", b"%PDF"),
                          "task": task.pk}, format="multipart")  # fmt: skip
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["name"] == "Rechnung ÄÖÜ.pdf" and body["task"] == task.pk and body["size"] == 4
    assert [a["id"] for a in bob.get(url).json()] == [body["id"]]
    content = bob.get(body["url"])
    assert content.status_code == 200 and b"".join(content.streaming_content) == b"%PDF"
    bad = bob.post(url, {"file": SimpleUploadedFile("x.exe", b"MZ"), "task": task.pk},
                   format="multipart")  # fmt: skip
    assert bad.status_code == 400 and list(bad.json()["errors"]) == ["file"]
    # Bob may not add to the instance itself (he did not start it).
    own = bob.post(url, {"file": SimpleUploadedFile("y.pdf", b"%PDF")}, format="multipart")
    assert own.status_code == 403
    stranger = api(key_for("dave"))
    assert stranger.get(url).status_code == 404 and stranger.get(body["url"]).status_code == 404
