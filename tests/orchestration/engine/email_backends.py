"""An email backend for tests that is down while DOWN["down"] is true."""

from __future__ import annotations

from typing import Any

from django.core import mail
from django.core.mail.backends.locmem import EmailBackend

DOWN = {"down": False}


class FlakyBackend(EmailBackend):
    def send_messages(self, messages: Any) -> int:
        if DOWN["down"]:
            raise ConnectionRefusedError("the SMTP server is down")
        return super().send_messages(messages)


__all__ = ["DOWN", "FlakyBackend", "mail"]
