"""An email backend for tests that is down while DOWN["down"] is true, and
refuses the addresses in REFUSE (a 550, as a server does for an unknown user)."""

from __future__ import annotations

import smtplib
from typing import Any

from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

DOWN = {"down": False}
REFUSE: set[str] = set()


class FlakyBackend(EmailBackend):
    def send_messages(self, messages: Any) -> int:
        if DOWN["down"]:
            raise ConnectionRefusedError("the SMTP server is down")
        refused = {to: (550, b"no such user") for m in messages for to in m.to if to in REFUSE}
        if refused:
            raise smtplib.SMTPRecipientsRefused(refused)
        return super().send_messages(messages)


__all__ = ["DOWN", "REFUSE", "FlakyBackend", "mail"]
