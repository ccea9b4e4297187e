"""What operators' tools read over HTTP: /metrics, /healthz and /readyz."""

from __future__ import annotations

import hmac
import ipaddress
import os
from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from orchestration import health
from orchestration.metrics.collector import EngineCollector


@cache
def _engine_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EngineCollector())
    return registry


def _web_registry() -> CollectorRegistry:
    """django-prometheus' web and database metrics: of every gunicorn worker on
    this host in multiprocess mode (PROMETHEUS_MULTIPROC_DIR), else of this one."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


@cache
def _networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False)
                 for item in settings.ORCHESTRATION_METRICS_ALLOWED_IPS)  # fmt: skip


def scraper_allowed(request: HttpRequest) -> bool:
    """A bearer token from ORCHESTRATION_METRICS_TOKEN, or an address in
    ORCHESTRATION_METRICS_ALLOWED_IPS; with neither configured, nobody."""
    token = settings.ORCHESTRATION_METRICS_TOKEN
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _networks())


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not scraper_allowed(request):
        return JsonResponse(
            {"detail": "Metrics need a bearer token (ORCHESTRATION_METRICS_TOKEN) or an"
                       " allowed address (ORCHESTRATION_METRICS_ALLOWED_IPS)."},
            status=403,
        )  # fmt: skip
    body = generate_latest(_web_registry()) + generate_latest(_engine_registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers (nothing else is asked: a load balancer's liveness probe)."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready to take work: 200, else 503 with the reason of each failed check."""
    answer = health.as_json(health.readiness())
    return JsonResponse(answer, status=200 if answer["ready"] else 503)
