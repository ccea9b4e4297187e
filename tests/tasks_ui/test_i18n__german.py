"""German is shipped complete: the person's own setting first, then the
browser's; dates and numbers written the German way."""

from __future__ import annotations

import contextlib
import re
import string
from pathlib import Path

import polib
import pytest
from django.test import Client
from django.urls import reverse

from orchestration.models import ProcessEvent
from tests.tasks_ui.conftest import login, purchase

pytestmark = pytest.mark.django_db
PO = Path(__file__).resolve().parents[2] / "locale/de/LC_MESSAGES/django.po"
DE = {"HTTP_ACCEPT_LANGUAGE": "de-DE,de;q=0.9,en;q=0.5"}


def placeholders(text: str) -> set[str]:
    """The %(name)s fields gettext fills and the {name!r} fields str.format fills
    (the definition validator's messages)."""
    found = {f"%{name}" for name in re.findall(r"%\((\w+)\)[sdr]", text)}
    with contextlib.suppress(ValueError):  # not a format string (a lone brace)
        found |= {f"{field}!{conv}" for _, field, _, conv in string.Formatter().parse(text)
                  if field}  # fmt: skip
    return found


def test_every_message_has_a_german_translation_with_the_same_placeholders() -> None:
    catalogue = polib.pofile(str(PO))
    assert len(catalogue) > 250
    assert catalogue.untranslated_entries() == [] and catalogue.fuzzy_entries() == []
    for entry in catalogue:
        if entry.msgid_plural:  # German has two forms: one, and the plural's
            pairs = [(entry.msgstr_plural[0], entry.msgid),
                     (entry.msgstr_plural[1], entry.msgid_plural)]  # fmt: skip
        else:
            pairs = [(entry.msgstr, entry.msgid)]
        for german, english in pairs:
            assert placeholders(german) == placeholders(english), english


def test_the_browser_language_chooses_german_pages_with_german_dates_and_numbers(
    client, run
) -> None:
    task = purchase(run, "desk", amount=2400)
    login(client, "bob")
    inbox = client.get(reverse("tasks_ui:inbox"), **DE).content.decode()
    assert '<html lang="de">' in inbox
    for german in ("Posteingang", "Meine Aufgaben", "Gruppenaufgaben", "Genehmigen", "Fällig",
                   "in 2 Tagen", "Abmelden"):  # fmt: skip
        assert german in inbox, german
    assert ">Inbox<" not in inbox and "My tasks" not in inbox
    page = client.get(reverse("tasks_ui:task", args=[task.pk]), **DE).content.decode()
    assert "Angefordert von" in page and "Einzelheiten des Antrags" in page
    assert '<span class="badge open" id="task-status">Offen' in page  # a status label
    assert "aktueller Schritt" in page and "genommener Weg" in page  # the diagram's legend
    assert "2.400" in page  # the amount, grouped the German way
    due = re.search(r'id="task-due"><time datetime="[^"]+">([^<]+)</time>', page).group(1)
    # German date format: weekday, day with a full stop, month, year (config/formats/de).
    assert re.fullmatch(r"\w\w, \d{1,2}\. \w+\.? \d{4}, \d\d:\d\d UTC", due), due
    refused = client.post(reverse("tasks_ui:decide", args=[task.pk]),
                          {"outcome": "reject", "comment": ""}, **DE)  # fmt: skip
    assert "Pflicht bei: Ablehnen" in refused.content.decode()  # the box's label
    assert 'id="e-comment">Pflicht bei reject<' in refused.content.decode()  # the service's rule
    # The policy's refusals read in German too (the requester may not decide her own).
    alice = Client()
    login(alice, "alice")
    own = alice.get(reverse("tasks_ui:task", args=[task.pk]), **DE).content.decode()
    assert ("alice: hat diese Instanz gestartet, daher von der Entscheidung ausgeschlossen"
            " (Vier-Augen-Prinzip)") in own  # fmt: skip


def test_a_persons_own_language_wins_over_the_browser(client, run) -> None:
    bob = login(client, "bob")
    url = reverse("tasks_ui:preferences")
    saved = client.post(url, {"language": "de", "timezone": "Europe/Berlin"})
    assert saved.status_code == 302
    bob.refresh_from_db()
    assert (bob.language, bob.timezone) == ("de", "Europe/Berlin")
    english_browser = client.get(reverse("tasks_ui:inbox"), HTTP_ACCEPT_LANGUAGE="en")
    assert "Posteingang" in english_browser.content.decode()
    assert english_browser["Content-Language"] == "de"
    event = ProcessEvent.objects.get(kind="user.preferences_changed")
    assert event.payload["after"] == {"language": "de", "timezone": "Europe/Berlin"}
    bad = client.post(url, {"language": "de", "timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and "Mars/Olympus" in bad.content.decode()
    bob.refresh_from_db()
    assert bob.timezone == "Europe/Berlin"
    client.post(url, {"language": "", "timezone": "UTC"})  # back to the browser's choice
    carol = Client()
    login(carol, "bob")
    assert "Posteingang" in carol.get(reverse("tasks_ui:inbox"), **DE).content.decode()
    assert "Posteingang" not in carol.get(reverse("tasks_ui:inbox")).content.decode()


def test_emails_speak_each_readers_language(run) -> None:
    from django.core import mail

    from accounts.models import User

    User.objects.filter(username="carol").update(language="de", timezone="Europe/Berlin")
    purchase(run, "desk")  # offered to the managers: bob (English) and carol (German)
    run.advance(seconds=1)  # the mail goes out on the next round (sealed rows first)
    by_reader = {m.to[0].split("@")[0]: m for m in mail.outbox if "desk" in m.subject}
    assert by_reader["bob"].subject == "New task: Approve desk for 5000"
    assert by_reader["carol"].subject == "Neue Aufgabe: Approve desk for 5000"
    assert "Fällig: " in by_reader["carol"].body and "(Europe/Berlin)" in by_reader["carol"].body
    assert "Prozess: purchase-approval" in by_reader["carol"].body
    assert "Due: " in by_reader["bob"].body
