from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_json, env_list, env_str
from config.settings.base import database_from_url


def test_missing_required_variable_fails_loudly(monkeypatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ImproperlyConfigured, match="Set the environment variable NOT_SET_ANYWHERE"):
        env_str("NOT_SET_ANYWHERE")
    assert env_str("NOT_SET_ANYWHERE", "fallback") == "fallback"


def test_typed_readers(monkeypatch) -> None:
    monkeypatch.setenv("B", "yes")
    monkeypatch.setenv("I", "12")
    monkeypatch.setenv("L", "a.example.com, b.example.com:8443,,")
    assert env_bool("B") is True and env_int("I") == 12
    assert env_list("L") == ["a.example.com", "b.example.com:8443"]
    monkeypatch.setenv("B", "maybe")
    with pytest.raises(ImproperlyConfigured, match="B must be a boolean"):
        env_bool("B")
    monkeypatch.setenv("I", "twelve")
    with pytest.raises(ImproperlyConfigured, match="I must be an integer"):
        env_int("I")
    monkeypatch.setenv("J", '{"timezone": "UTC"}')
    assert env_json("J") == {"timezone": "UTC"} and env_json("UNSET_J", None) is None
    monkeypatch.setenv("J", "{timezone: UTC}")
    with pytest.raises(ImproperlyConfigured, match="J must be JSON"):
        env_json("J")


def test_sqlite_gets_wal_busy_timeout_and_immediate_transactions() -> None:
    config = database_from_url("sqlite:////tmp/x.sqlite3")
    assert config["OPTIONS"] == {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    pg = database_from_url("postgres://u@db:5432/app")
    assert pg["ENGINE"] == "django_prometheus.db.backends.postgresql" and pg["CONN_HEALTH_CHECKS"]


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path) -> None:
    # Found: W004 and W008 with the documented settings, and no setting for
    # HSTS includeSubDomains or preload. The block is read from the docs.
    import os
    import re
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    docs = (root / "docs" / "operations.md").read_text()
    block = docs.split("## A production environment that `check --deploy` passes")[1]
    env = dict(re.findall(r"^    ([A-Z_]+)=(\S+)$", block.split("## Environment")[0], re.M))
    assert env["DJANGO_HSTS_PRELOAD"] == "1" and env["DJANGO_SECURE_SSL_REDIRECT"] == "1"
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'deploy.sqlite3'}"  # nothing to reach here
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=root, env={"PATH": os.environ["PATH"], "PROCESS_ENGINE_NO_BOOTSTRAP": "1", **env},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_production_processes_log_json_and_only_web_processes_wrap_the_database(tmp_path) -> None:
    """Without LOG_FORMAT, a deployed process logs JSON; a worker (plain
    settings) leaves django-prometheus' query wrappers out, a web process
    (config/wsgi.py) puts them in (docs/operations.md)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {"PATH": os.environ["PATH"], "PROCESS_ENGINE_NO_BOOTSTRAP": "1",
           "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_ALLOWED_HOSTS": "example.com",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "config.settings.base"}  # fmt: skip
    show = ("from django.conf import settings; "
            "print(settings.LOG_FORMAT, settings.DATABASES['default']['ENGINE'])")  # fmt: skip
    worker = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {show}"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert worker.stdout.split() == ["json", "django.db.backends.sqlite3"], worker.stderr
    web = subprocess.run(
        [sys.executable, "-c", f"import config.wsgi; {show}"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert web.stdout.split() == ["json", "django_prometheus.db.backends.sqlite3"], web.stderr
