"""API keys from the command line (for provisioning scripts and CI): create
prints the token once; revoke refuses every later call with it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from api import services
from api.models import SCOPES, ApiKey
from orchestration.problems import problem_for


class Command(BaseCommand):
    help = "Create or revoke an API key (create prints the token, shown only then)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="make a key and print its token")
        create.add_argument("name")
        create.add_argument("--user", required=True, help="the account the key acts as")
        create.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            default=[],
            choices=[*sorted(SCOPES), "all"],
            help="repeat for several; 'all' for every scope (same as --all-scopes)",
        )
        create.add_argument("--all-scopes", action="store_true", help="every scope")
        create.add_argument(
            "--definition",
            action="append",
            dest="definitions",
            default=[],
            help="limit the key to these definition keys (repeat)",
        )
        revoke = sub.add_parser("revoke", help="revoke a key by name")
        revoke.add_argument("name")

    def handle(self, *args: Any, action: str, name: str, **options: Any) -> None:
        try:
            if action == "create":
                user = User.objects.filter(username=options["user"]).first()
                if user is None:
                    raise CommandError(f"no user {options['user']!r}")
                every = options["all_scopes"] or "all" in options["scopes"]
                scopes = list(SCOPES) if every else options["scopes"]
                _, token = services.api_key_create(
                    actor=None,
                    name=name,
                    user=user,
                    scopes=scopes,
                    definitions=options["definitions"],
                )
                self.stdout.write(token)
            else:
                key = ApiKey.objects.filter(name=name).first()
                if key is None:
                    raise CommandError(f"no API key {name!r}")
                services.api_key_revoke(actor=None, key_id=key.pk)
                self.stdout.write(f"revoked {name}")
        except CommandError:
            raise
        except Exception as exc:
            problem = problem_for(exc)
            if problem is None:
                raise
            raise CommandError(problem.text()) from None
