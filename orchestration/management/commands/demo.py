"""One command to try the product: migrate, seed, then serve the web app and a worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from orchestration.demo import seed


class Command(BaseCommand):
    help = "Set up the demo (migrate, users, definitions) and run the web server and a worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--addrport",
            default="127.0.0.1:8000",
            help="address and port to serve on (default 127.0.0.1:8000), e.g. 127.0.0.1:8001",
        )
        parser.add_argument("--no-serve", action="store_true", help="set up only, then exit")
        parser.add_argument(
            "--force",
            action="store_true",
            help="run against a database other than the demo's own SQLite file",
        )

    def handle(
        self, *args: Any, addrport: str, no_serve: bool, force: bool, **options: Any
    ) -> None:
        database: dict[str, Any] = settings.DATABASES["default"]
        own = Path(settings.BASE_DIR) / "db.sqlite3"
        is_own = database["ENGINE"].endswith("sqlite3") and str(database["NAME"]) == str(own)
        if not is_own and not force:
            # It creates users with a published password and publishes demo
            # definitions: never by accident on a real database.
            raise CommandError(
                f"the demo runs on its own SQLite file ({own}), not on"
                f" {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}:"
                " it creates users whose password is 'demo'. Pass --force to run it there."
            )
        if not no_serve:
            _require_free(addrport)  # before seeding: a second demo must not half-start
        call_command("migrate", interactive=False, verbosity=0)
        users = seed.seed_users()
        seed.seed_definitions()
        history = seed.seed_history()
        self.stdout.write(self.style.SUCCESS("\nDemo ready."))
        self.stdout.write(f"  Open  http://{addrport}/  (admin: http://{addrport}/admin/)")
        self.stdout.write(f"  Logins (password '{seed.PASSWORD}' for all):")
        for user in users:
            roles = ", ".join(sorted(g.name for g in user.groups.all()))
            self.stdout.write(f"    {user.username:<8} {user.get_full_name():<18} {roles}")
        self.stdout.write(f"  Database: {settings.DATABASES['default']['NAME']}")
        if history:
            self.stdout.write(
                f"  History: {history} purchase approvals over the past 21 days, all ended:\n"
                "  log in as otto (operator) or audrey (auditor) and open Reports.\n"
            )
        self.stdout.write(
            "  Try it: log in as alice and start a Purchase approval (amount over 1000);\n"
            "  log out, log in as bob (an approver) and approve it in the inbox's Group queue.\n"
            "  Or start a Purchase request (withdrawable): lena, fred and sami review it, two\n"
            "  approvals order it, and alice may withdraw it from its page (Withdraw request).\n"
        )
        if no_serve:
            return
        # SIGTERM (kill, a supervisor) must stop the worker too, as Ctrl-C does.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        # Its own process group, so that stopping the demo stops every cluster process.
        worker = subprocess.Popen([sys.executable, manage, "qcluster"], start_new_session=True)  # noqa: S603
        self.stdout.write(f"  Worker started (pid {worker.pid}). Stop everything with Ctrl-C.\n")
        # The web server in a process of its own: runserver leaves with os._exit
        # when it cannot serve, which would skip stopping the worker here.
        server = subprocess.Popen([sys.executable, manage, "runserver", addrport, "--noreload"])  # noqa: S603
        try:
            server.wait()
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGINT)
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
            # SIGINT, as Ctrl-C in a terminal sends it to the whole group: django-q2
            # stops gracefully on it (its sentinel ignores it and tells the workers
            # to stop; a running engine loop ends after its round). SIGTERM to the
            # group would kill the sentinel outright and leave the cluster hanging.
            os.killpg(worker.pid, signal.SIGINT)
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        if server.returncode not in (0, None, -signal.SIGINT):
            raise CommandError(
                f"the web server stopped (exit status {server.returncode}); so did the worker"
            )


def _require_free(addrport: str) -> None:
    """Refuse at once, naming the way out, when the address is taken."""
    host, _, port = addrport.rpartition(":")
    host = (host or "127.0.0.1").strip("[]")
    if not port.isdigit():
        raise CommandError(f"--addrport must be host:port, got {addrport!r}")
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, int(port)))
        except OSError as exc:
            raise CommandError(
                f"cannot serve on {addrport}: {exc.strerror} (is a demo already running?)."
                " Stop it, or pass another address: manage.py demo --addrport 127.0.0.1:8001"
            ) from None
