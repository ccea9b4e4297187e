"""Development conveniences: a local SQLite file and demo-friendly defaults.

Every value here is only a default for a variable that is not set.
"""

from __future__ import annotations

import os
from pathlib import Path

from config.env import require_development_checkout

_ROOT = Path(__file__).resolve().parent.parent.parent
require_development_checkout(_ROOT)
os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-local-development-key-do-not-deploy")
os.environ.setdefault("DJANGO_DEBUG", "1")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_ROOT / 'db.sqlite3'}")
os.environ.setdefault("ORCHESTRATION_HTTP_ALLOWED_HOSTS", "127.0.0.1:8000,localhost:8000")

os.environ.setdefault("ORCHESTRATION_HANDLER_MODULES", "orchestration.demo.handlers")
os.environ.setdefault("ORCHESTRATION_DEMO", "1")
os.environ.setdefault("LOG_FORMAT", "plain")  # people read the demo's terminal
os.environ.setdefault("DATABASE_METRICS", "1")  # the demo shows the web layer's query metrics
os.environ.setdefault(  # a development key, known to all: never deploy it
    "ORCHESTRATION_ENCRYPTION_KEYS", "bG9jYWwtZGV2ZWxvcG1lbnQta2V5LWRvLW5vdC11c2U="
)

from .base import *  # noqa: E402, F403
