"""The embedded default: a web process and a worker writing one SQLite file at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
WRITER = """
import django, sys
django.setup()
from django.db import transaction
from orchestration.models import ProcessEvent
for n in range(60):
    with transaction.atomic():
        ProcessEvent.objects.create(kind="test.write", payload={"writer": sys.argv[1], "n": n})
        ProcessEvent.objects.filter(kind="nothing").exists()
"""


@pytest.mark.skipif(connection.vendor != "sqlite", reason="checks the SQLite default only")
def test_two_processes_write_one_sqlite_file_without_lock_errors(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shared.sqlite3'}",
        "PROCESS_ENGINE_NO_BOOTSTRAP": "1",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(i)],
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for proc in writers:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    count = subprocess.run(
        [
            *manage,
            "shell",
            "--no-imports",
            "-c",
            "from orchestration.models import ProcessEvent as E; print(E.objects.count())",
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert count == "120"
    mode = subprocess.run(
        [
            *manage,
            "shell",
            "--no-imports",
            "-c",
            "from django.db import connection as c; c.cursor().execute('PRAGMA journal_mode'); "
            "print(c.cursor().execute('PRAGMA journal_mode').fetchone()[0])",
        ],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert mode == "wal"
