"""Test settings: SQLite in memory unless DATABASE_URL points at PostgreSQL."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-test-key")
os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")
os.environ.setdefault("ORCHESTRATION_HTTP_ALLOWED_HOSTS", "127.0.0.1:8000,api.example.com")

os.environ.setdefault("ORCHESTRATION_HANDLER_MODULES", "orchestration.demo.handlers")
os.environ.setdefault("ORCHESTRATION_DEMO", "1")
os.environ.setdefault("ORCHESTRATION_TRACING_SAMPLE", "1")  # the trace tests keep every trace
os.environ.setdefault("DATABASE_METRICS", "1")  # the web layer's query metrics, tested
os.environ.setdefault(  # a fixed test key: sensitive values are tested encrypted
    "ORCHESTRATION_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWtleS1ub3QtZm9yLWRlcGxveW1lbnQ="
)

from .base import *  # noqa: F403
from .base import Q_CLUSTER

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# django-q2 reads its settings once at import: sync must be set here, not overridden.
Q_CLUSTER = {**Q_CLUSTER, "sync": True}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
