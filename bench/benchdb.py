"""What every benchmark does before Django starts: point DATABASE_URL at its
own PostgreSQL database (BENCH_DATABASE_URL, or the given default), create that
database when missing, and run with production-like settings."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def use(default_url: str) -> str:
    """Prepare the environment for django.setup(); return the database URL."""
    import psycopg

    sys.path.insert(0, str(ROOT))
    url = os.environ.get("BENCH_DATABASE_URL", default_url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DJANGO_DEBUG"] = "0"  # as in production: no query recording
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return url
