from django.core.management.base import BaseCommand

from accounts.services import roles_sync


class Command(BaseCommand):
    help = "Create the role groups (requester, approver, process-admin, operator, auditor)."

    def handle(self, *args: object, **options: object) -> None:
        groups = roles_sync()
        self.stdout.write(", ".join(g.name for g in groups))
