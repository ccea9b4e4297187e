from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orchestration.exceptions import InvalidInput
from orchestration.retention import erasure


class Command(BaseCommand):
    help = (
        "Erase a data subject's personal data now: a value (what a definition's `subject` "
        "names, e.g. an e-mail or a business key) or a user account. Prints what was erased "
        "and what is kept and why; exits 2 when something could be erased by a later run "
        "(running instances, rows not yet read by mail or webhooks)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        subject = parser.add_mutually_exclusive_group(required=True)
        subject.add_argument("--value", help="the subject's value")
        subject.add_argument("--user", help="the username of the account")
        parser.add_argument("--reason", required=True, help="why (the request's reference)")
        parser.add_argument("--dry-run", action="store_true", help="report, change nothing")
        parser.add_argument("--json", action="store_true", help="the report as JSON")

    def handle(self, *args: Any, value: str | None, user: str | None, reason: str,
               dry_run: bool, json: bool, **options: Any) -> None:  # fmt: skip
        account = None
        if user is not None:
            model = get_user_model()
            account = model.objects.filter(**{model.USERNAME_FIELD: user}).first()
            if account is None:
                raise CommandError(f"--user: no user {user!r}")
        try:
            report = erasure.erase(actor=None, reason=reason, value=value, user=account,
                                   dry_run=dry_run)  # fmt: skip
        except InvalidInput as exc:
            raise CommandError(
                "; ".join(f"--{k}: {' '.join(v)}" for k, v in exc.errors.items())
            ) from exc
        if json:
            self.stdout.write(_json(report.as_dict()))
        else:
            head = "would erase" if dry_run else "erased"
            self.stdout.write(f"{head} ({report.subject}):")
            for name, count in report.erased.items():
                self.stdout.write(f"  {count} {name.replace('_', ' ')}")
            self.stdout.write("kept:")
            for kept in report.kept:
                self.stdout.write(f"  {kept['what']}: {kept['why']}")
        if not report.complete:
            raise SystemExit(2)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)
