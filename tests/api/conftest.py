"""The API's tests run on the demo's people and purchase approval, with keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from api import keys
from api.models import SCOPES
from orchestration.demo import seed
from orchestration.testing import ProcessTest
from tests.orchestration.factories import PURCHASE_SOURCE


@pytest.fixture
def run(db) -> Iterator[ProcessTest]:
    seed.seed_users()
    with ProcessTest() as running:
        running.publish(PURCHASE_SOURCE)
        yield running


def key_for(
    username: str,
    *,
    scopes: list[str] | None = None,
    definitions: list[str] | None = None,
    name: str = "",
) -> str:
    """A token for a new key acting as `username` (every scope unless given)."""
    _, token = keys.issue(
        name=name or f"{username}-system",
        user=User.objects.get(username=username),
        scopes=list(SCOPES) if scopes is None else scopes,
        definitions=definitions or [],
    )
    return token


def api(token: str | None = None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def post(client: APIClient, url: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(url, body or {}, format="json", headers=headers)


@pytest.fixture(autouse=True)
def _fresh_key_cache() -> Iterator[None]:
    """Each test reads its keys from its own database (keys.CACHE_SECONDS)."""
    keys._recent.clear()
    yield
    keys._recent.clear()
