"""Sensitive values' envelopes (orchestration.sensitive): encrypted at rest,
masked wherever stored JSON is shown, readable with any configured key, and
sealed again under the newest key by a rotation."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from orchestration import sensitive

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
IBAN = "DE89 3704 0044 0532 0130 00"


@pytest.fixture
def keys(settings):
    settings.ORCHESTRATION_ENCRYPTION_KEYS = OLD
    return settings


def test_a_sealed_value_is_not_in_clear_and_opens_again(keys) -> None:
    values = {"salary": 85000.5, "review": {"iban": IBAN, "note": "ok"}, "name": "Zoë"}
    stored = sensitive.sealed_at(values, {"salary", "review.iban", "missing", "name.x"})
    text = json.dumps(stored, ensure_ascii=False)
    assert IBAN not in text and "85000" not in text and "Zoë" in text and "ok" in text
    assert sensitive.is_sealed(stored["salary"]) and sensitive.is_sealed(stored["review"]["iban"])
    assert sensitive.opened(stored) == values
    assert sensitive.masked(stored) == {
        "salary": sensitive.MASK, "review": {"iban": sensitive.MASK, "note": "ok"}, "name": "Zoë",
    }  # fmt: skip
    assert sensitive.holds_sealed(stored) and not sensitive.holds_sealed(values)
    assert sensitive.seal(stored["salary"]) is stored["salary"]  # never sealed twice


def test_rotation_keeps_every_value_readable_and_retires_the_old_key(keys) -> None:
    stored = sensitive.sealed_at({"iban": IBAN, "list": [1, 2]}, {"iban", "list"})
    keys.ORCHESTRATION_ENCRYPTION_KEYS = f"{NEW},{OLD}"  # a new key in front
    assert sensitive.opened(stored) == {"iban": IBAN, "list": [1, 2]}  # the old one still opens
    again, count = sensitive.rotated(stored)
    assert count == 2 and again != stored
    keys.ORCHESTRATION_ENCRYPTION_KEYS = NEW  # the old key dropped
    assert sensitive.opened(again) == {"iban": IBAN, "list": [1, 2]}
    with pytest.raises(sensitive.Unreadable):
        sensitive.opened(stored)  # what was not rotated no longer opens


def test_a_changed_token_or_no_key_is_refused(keys) -> None:
    stored = sensitive.seal(IBAN)
    token = stored[sensitive.FIELD]
    changed = {sensitive.FIELD: token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")}
    with pytest.raises(sensitive.Unreadable):
        sensitive.open_(changed)
    keys.ORCHESTRATION_ENCRYPTION_KEYS = ""
    with pytest.raises(sensitive.NoKeys, match="ORCHESTRATION_ENCRYPTION_KEYS is empty"):
        sensitive.seal("x")
    keys.ORCHESTRATION_ENCRYPTION_KEYS = "not-a-key"
    with pytest.raises(sensitive.ImproperlyConfigured, match="32 url-safe base64"):
        sensitive.seal("x")
