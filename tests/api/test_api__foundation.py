"""What every endpoint shares: keys, scopes, problem details, idempotency,
ETags, cursor pages, throttling, the schema."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from api.models import ApiKey, IdempotentRequest
from orchestration.models import ProcessEvent, ProcessInstance
from tests.api.conftest import api, key_for, post

pytestmark = pytest.mark.django_db
START = {"definition": "purchase-approval", "variables": {"item": "desk", "amount": 5000}}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:400]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["code"] == code
    assert body["type"] == f"urn:process-engine:problem:{code}"
    return body


def test_no_key_bad_key_and_revoked_key_are_401_problems(run) -> None:
    assert_problem(api().get("/api/v1/instances"), 401, "not_authenticated")
    assert_problem(
        api("pe_000000000000_nope").get("/api/v1/instances"), 401, "authentication_failed"
    )
    token = key_for("alice")
    assert api(token).get("/api/v1/instances").status_code == 200
    wrong_secret = token[:-4] + "AAAA"
    assert_problem(api(wrong_secret).get("/api/v1/instances"), 401, "authentication_failed")
    from api import keys, services

    services.api_key_revoke(actor=None, key_id=ApiKey.objects.get().pk)
    assert_problem(api(token).get("/api/v1/instances"), 401, "authentication_failed")
    # Another process learns of a revocation within keys.CACHE_SECONDS.
    other = key_for("alice", name="other")
    assert api(other).get("/api/v1/instances").status_code == 200
    ApiKey.objects.filter(name="other").update(revoked_at=run.now)
    assert api(other).get("/api/v1/instances").status_code == 200  # still cached here
    keys._recent.clear()  # as after CACHE_SECONDS
    assert_problem(api(other).get("/api/v1/instances"), 401, "authentication_failed")


def test_keys_are_stored_hashed_and_record_their_last_use(run) -> None:
    token = key_for("alice")
    key = ApiKey.objects.get()
    assert token.split("_")[2] not in (key.secret_hash, key.prefix)
    assert key.last_used_at is None
    api(token).get("/api/v1/instances")
    key.refresh_from_db()
    assert key.last_used_at == run.now


def test_a_key_acts_within_its_scopes_and_definitions(run) -> None:
    reader = key_for("alice", scopes=["instances:read"], name="reader")
    refused = assert_problem(
        post(api(reader), "/api/v1/instances", START), 403, "permission_denied"
    )
    assert "not scoped to 'instances:start'" in refused["detail"]
    other = key_for("alice", definitions=["loan-approval"], name="loans-only")
    refused = assert_problem(post(api(other), "/api/v1/instances", START), 403, "permission_denied")
    assert "not scoped to the definition 'purchase-approval'" in refused["detail"]
    assert not ProcessInstance.objects.exists()


def test_the_audit_log_names_the_key(run) -> None:
    token = key_for("alice", name="order-system")
    created = post(api(token), "/api/v1/instances", START)
    assert created.status_code == 201, created.content
    event = ProcessEvent.objects.filter(instance_id=created.json()["id"]).first()
    assert event.client == "api:order-system" and event.actor.username == "alice"


def test_bad_input_names_the_field_and_changes_nothing(run) -> None:
    token = key_for("alice")
    body = assert_problem(
        post(
            api(token),
            "/api/v1/instances",
            {"definition": "purchase-approval", "variables": {"item": "desk", "amount": "lots"}},
        ),
        400,
        "invalid_input",
    )
    assert "variables.amount" in body["errors"]
    body = assert_problem(
        post(api(token), "/api/v1/instances", {"variables": []}), 400, "invalid_input"
    )
    assert set(body["errors"]) == {"definition", "variables"}
    raw = api(token).post("/api/v1/instances", "{not json", content_type="application/json")
    assert_problem(raw, 400, "malformed_request")
    nan = api(token).post(
        "/api/v1/instances", '{"definition": NaN}', content_type="application/json"
    )
    assert_problem(nan, 400, "malformed_request")
    deep = api(token).post(
        "/api/v1/instances", "[" * 100_000 + "]" * 100_000, content_type="application/json"
    )
    assert deep.status_code in {400, 413}
    # Found by schemathesis: JSON's \\ud800 escapes carry text UTF-8 cannot hold.
    lone = api(token).post(
        "/api/v1/instances",
        '{"definition": "x", "variables": {"a": "\\ud800"}}',
        content_type="application/json",
    )
    assert (
        "variables.a: text with a lone surrogate"
        in assert_problem(lone, 400, "malformed_request")["detail"]
    )
    form = api(token).post(
        "/api/v1/instances", "a=b", content_type="application/x-www-form-urlencoded"
    )
    assert_problem(form, 415, "unsupported_media_type")
    assert not ProcessInstance.objects.exists()


def test_unknown_urls_and_methods_answer_problems_not_html(run) -> None:
    token = key_for("alice")
    assert_problem(api(token).get("/api/v1/nothing-here"), 404, "not_found")
    assert_problem(api(token).get("/api/v1/instances/999999"), 404, "not_found")
    assert_problem(api(token).delete("/api/v1/instances"), 405, "method_not_allowed")


def test_idempotency_key_replays_the_first_answer_without_acting_again(run) -> None:
    client = api(key_for("alice"))
    first = post(client, "/api/v1/instances", START, **{"Idempotency-Key": "order-1"})
    again = post(client, "/api/v1/instances", START, **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert ProcessInstance.objects.count() == 1
    # The same JSON spelled otherwise (key order, spaces) is the same request.
    respelled = json.dumps(dict(reversed(list(START.items()))), indent=2)
    replayed = client.post("/api/v1/instances", respelled, content_type="application/json",
                           headers={"Idempotency-Key": "order-1"})  # fmt: skip
    assert replayed.status_code == 201 and replayed["Idempotent-Replayed"] == "true"
    assert ProcessInstance.objects.count() == 1
    changed = {**START, "business_key": "other"}
    assert_problem(
        post(client, "/api/v1/instances", changed, **{"Idempotency-Key": "order-1"}),
        422,
        "idempotency_key_reused",
    )
    # A refusal is an answer too: replayed as it was.
    bad = {"definition": "purchase-approval", "variables": {"amount": "x"}}
    one = post(client, "/api/v1/instances", bad, **{"Idempotency-Key": "order-2"})
    two = post(client, "/api/v1/instances", bad, **{"Idempotency-Key": "order-2"})
    assert one.status_code == two.status_code == 400 and one.json() == two.json()
    # Another caller's key of the same name is theirs alone.
    other = post(
        api(key_for("carol")), "/api/v1/instances", START, **{"Idempotency-Key": "order-1"}
    )
    assert other.status_code == 403  # carol may not start purchases; not alice's answer
    assert ProcessInstance.objects.count() == 1


def test_idempotency_keys_are_forgotten_after_a_day(run) -> None:
    client = api(key_for("alice"))
    post(client, "/api/v1/instances", START, **{"Idempotency-Key": "k"})
    run.advance(hours=25)
    again = post(client, "/api/v1/instances", START, **{"Idempotency-Key": "k"})
    assert again.status_code == 201 and "Idempotent-Replayed" not in again
    assert ProcessInstance.objects.count() == 2 and IdempotentRequest.objects.count() == 1


def test_single_resources_carry_an_etag(run) -> None:
    client = api(key_for("alice"))
    pk = post(client, "/api/v1/instances", START).json()["id"]
    first = client.get(f"/api/v1/instances/{pk}")
    tag = first["ETag"]
    assert first.status_code == 200 and tag
    assert client.get(f"/api/v1/instances/{pk}", headers={"If-None-Match": tag}).status_code == 304
    run.run()  # the engine moves on: the representation, and so the tag, changes
    ProcessInstance.objects.filter(pk=pk).update(business_key="changed")
    assert client.get(f"/api/v1/instances/{pk}", headers={"If-None-Match": tag}).status_code == 200


def test_lists_are_cursor_pages(run) -> None:
    client = api(key_for("alice"))
    made = [post(client, "/api/v1/instances", START).json()["id"] for _ in range(5)]
    seen, url = [], "/api/v1/instances?limit=2"
    while url:
        page = client.get(url).json()
        assert len(page["results"]) <= 2
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == sorted(made, reverse=True)
    assert_problem(client.get("/api/v1/instances?cursor=garbage"), 404, "not_found")


def test_each_key_has_its_own_rate_limit(run, monkeypatch) -> None:
    from django.core.cache import cache

    from api.common import PerKeyThrottle

    cache.clear()
    monkeypatch.setattr(PerKeyThrottle, "THROTTLE_RATES", {"api": "3/min"})
    try:
        busy, calm = api(key_for("alice")), api(key_for("alice", name="calm"))
        answers = [busy.get("/api/v1/instances").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        limited = busy.get("/api/v1/instances")
        assert_problem(limited, 429, "throttled")
        assert int(limited["Retry-After"]) > 0
        assert calm.get("/api/v1/instances").status_code == 200
    finally:
        cache.clear()


def test_the_schema_and_its_docs_are_served_without_a_cdn(client, tmp_path) -> None:
    schema = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert schema.status_code == 200
    spec = schema.json()
    assert "/api/v1/instances" in spec["paths"]
    assert "Problem" in spec["components"]["schemas"]
    docs = client.get("/api/docs/")
    html = docs.content.decode()
    assert docs.status_code == 200 and "cdn" not in html.lower()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yaml"))


def test_the_schema_is_built_once_by_concurrent_first_requests(db, monkeypatch) -> None:
    """drf-spectacular's build is not thread-safe (gunicorn's threads answered
    500 to concurrent first requests): one build under a lock, then memory."""
    import threading

    from django.test import Client
    from drf_spectacular.generators import SchemaGenerator

    from api.schema import SchemaView

    monkeypatch.setattr(SchemaView, "_built", {})
    built, real = [], SchemaGenerator.get_schema

    def counted(self, *args, **kwargs):
        built.append(threading.get_ident())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(SchemaGenerator, "get_schema", counted)
    answers: list[tuple[int, bytes]] = []
    go = threading.Barrier(6)

    def fetch() -> None:
        go.wait()
        response = Client().get(
            "/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}
        )
        answers.append((response.status_code, response.content))

    threads = [threading.Thread(target=fetch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [status for status, _ in answers] == [200] * 6
    assert len({body for _, body in answers}) == 1 and len(built) == 1


def test_housekeeping_forgets_old_keys_and_kept_messages(run) -> None:
    from django_q.models import Schedule

    from api.jobs import housekeeping
    from orchestration.models import BufferedMessage

    client = api(key_for("alice"))
    post(client, "/api/v1/instances", START, **{"Idempotency-Key": "old"})
    BufferedMessage.objects.create(name="paid", business_key="X", expires_at=run.now)
    run.advance(hours=23)
    post(client, "/api/v1/instances", START, **{"Idempotency-Key": "new"})
    assert housekeeping() == {"idempotency_keys": 0, "buffered_messages": 0, "api_calls": 0}
    run.advance(hours=2)
    assert housekeeping() == {"idempotency_keys": 1, "buffered_messages": 1, "api_calls": 0}
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["new"]
    assert Schedule.objects.filter(name="api.housekeeping", func="api.jobs.housekeeping").exists()


def test_every_call_is_in_the_access_log(run, client) -> None:
    from accounts.models import User
    from api.models import ApiCall

    token = key_for("alice", name="shop")
    shop = api(token)
    shop.get("/api/v1/instances")
    post(shop, "/api/v1/instances", START, **{"Idempotency-Key": "a"})
    post(shop, "/api/v1/instances", START, **{"Idempotency-Key": "a"})  # a replay
    api("pe_000000000000_nope").get("/api/v1/tasks")
    calls = list(
        ApiCall.objects.order_by("pk").values_list(
            "key__name", "user__username", "method", "path", "status"
        )
    )
    assert calls == [
        ("shop", "alice", "GET", "/api/v1/instances", 200),
        ("shop", "alice", "POST", "/api/v1/instances", 201),
        ("shop", "alice", "POST", "/api/v1/instances", 201),
        (None, None, "GET", "/api/v1/tasks", 401),
    ]
    assert ApiCall.objects.exclude(request_id="").count() == 4
    # Auditors read it in the admin; others do not see it.
    client.force_login(User.objects.get(username="audrey"))
    assert client.get("/admin/api/apicall/").status_code == 200
    client.force_login(User.objects.get(username="otto"))
    assert client.get("/admin/api/apicall/").status_code in {302, 403}


def test_the_schema_passes_openapi_spec_validator(client) -> None:
    from openapi_spec_validator import validate

    spec = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    # Raises, naming the path, on any error (it found FailExternalRequest.code's
    # default '' under minLength 1).
    validate(spec)


def test_field_errors_speak_the_callers_language(run) -> None:
    token = key_for("alice")
    german = {"Accept-Language": "de"}
    bad = {"definition": "purchase-approval",
           "variables": {"item": "desk", "amount": -5, "colour": "rot"}}  # fmt: skip
    body = assert_problem(post(api(token), "/api/v1/instances", bad, **german), 400,
                          "invalid_input")  # fmt: skip
    assert body["errors"] == {
        "variables.amount": ["muss >= 0 sein"],
        "variables.colour": ["unbekannte Variable"],
    }
    english = assert_problem(post(api(token), "/api/v1/instances", bad), 400, "invalid_input")
    assert english["errors"]["variables.amount"] == ["must be >= 0"]
    assert not ProcessInstance.objects.exists()
