"""The REST receiver mock enforces the protocol of adapters/rest/openapi.yaml."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mocks.common.http import HttpServer
from mocks.rest import RestMock
from tests.adapters.rest.spec import SPEC, conforms

MEDIA = "application/vnd.fusion-connector.v1+json"
OWNER = "fusion-connector:c1"
class Client:
    def __init__(self, url: str, token: str = "T", secret: str | None = None) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        self.token = token
        self.secret = secret

    def request(self, method: str, path: str, body: Any = None, key: str | None = None,
                headers: dict[str, str] | None = None, timestamp: int | None = None) -> httpx.Response:
        content = json.dumps(body).encode() if body is not None else b""
        merged = {"Authorization": f"Bearer {self.token}", "Accept": MEDIA}
        if body is not None:
            merged["Content-Type"] = MEDIA
        if key is not None:
            merged["Idempotency-Key"] = key
        if self.secret is not None:
            stamp = str(int(time.time()) if timestamp is None else timestamp)
            digest = hashlib.sha256(content).hexdigest()
            text = "\n".join((method, path, stamp, digest, key or ""))
            merged["X-FC-Timestamp"] = stamp
            merged["X-FC-Content-SHA256"] = digest
            merged["X-FC-Signature"] = "v1=" + hmac.new(self.secret.encode(), text.encode(),
                                                         hashlib.sha256).hexdigest()
        merged.update(headers or {})
        return self.http.request(method, path, content=content, headers=merged)

    def changes(self, changes: list[dict[str, Any]], key: str, owner: str = OWNER) -> httpx.Response:
        return self.request("POST", "/changes", {"owner": owner, "changes": changes}, key=key)

    def state(self) -> dict[str, Any]:
        response = self.request("GET", "/state")
        assert response.status_code == 200
        document: dict[str, Any] = response.json()
        return document


@pytest.fixture
def mock() -> Iterator[tuple[RestMock, Client]]:
    app = RestMock(token="T")
    with HttpServer(app) as server:
        yield app, Client(server.url)


def create(kind: str, **obj: Any) -> dict[str, Any]:
    return {"op": "create", "kind": kind, "object": obj}


BASE = [
    create("group", name="g1", members=["10.0.0.1", "fd00::1"]),
    create("address", name="a1", networks=["192.0.2.0/24"], fqdns=["api.example.com"]),
    create("service", name="s1", ports=[{"protocol": "tcp", "start": 443, "end": 443}]),
    create("rule", name="r1", source="g1", destination="a1", service="s1", action="allow", log=False),
    create("rule", name="r2", source="g1", destination=None, service=None, action="deny", log=True),
]


def error_of(response: httpx.Response) -> dict[str, Any]:
    conforms("Error", response.json())
    assert response.headers["Content-Type"] == MEDIA
    error: dict[str, Any] = response.json()["error"]
    return error


def test_capabilities_health_and_state_follow_the_schemas(mock: tuple[RestMock, Client]) -> None:
    _, client = mock
    info = client.request("GET", "/")
    assert info.status_code == 200 and info.headers["Content-Type"] == MEDIA
    conforms("Capabilities", info.json())
    health = client.http.get("/healthz")  # no token needed
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert client.changes(BASE, "k1").status_code == 200
    state = client.state()
    conforms("State", state)
    assert [r["name"] for r in state["rules"]] == ["r1", "r2"] and state["revision"] == 1
    assert all(o["owner"] == OWNER for c in ("groups", "addresses", "services", "rules") for o in state[c])


def test_auth_and_media_type_are_enforced(mock: tuple[RestMock, Client]) -> None:
    _, client = mock
    assert error_of(client.http.get("/state"))["code"] == "unauthorized"
    assert client.http.get("/state", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.request("GET", "/state", headers={"Accept": "text/html"}).status_code == 406
    lenient = client.request("GET", "/state", headers={"Accept": "application/json, */*;q=0.1"})
    assert lenient.status_code == 200
    wrong = client.request("POST", "/changes", {"owner": OWNER, "changes": BASE}, key="k",
                           headers={"Content-Type": "application/json"})
    assert wrong.status_code == 415 and error_of(wrong)["code"] == "unsupported_media_type"


def test_change_sets_need_an_idempotency_key_and_a_valid_body(mock: tuple[RestMock, Client]) -> None:
    _, client = mock
    keyless = client.request("POST", "/changes", {"owner": OWNER, "changes": BASE})
    assert error_of(keyless)["code"] == "bad_request"
    assert client.request("POST", "/changes", {"changes": BASE}, key="k").status_code == 422
    assert client.request("POST", "/changes", {"owner": OWNER, "changes": []}, key="k").status_code == 422
    bad = client.changes([create("group", name="9bad", members=[])], "k2")
    assert bad.status_code == 422 and error_of(bad)["code"] == "invalid"


def test_replayed_key_returns_the_first_result_without_reapplying(mock: tuple[RestMock, Client]) -> None:
    _, client = mock
    first = client.changes(BASE, "key-1")
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    conforms("ChangeResult", first.json())
    again = client.changes(BASE, "key-1")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() == {"applied": 5, "revision": 1}
    assert client.state()["revision"] == 1
    reused = client.changes([{"op": "delete", "kind": "rule", "name": "r2"}], "key-1")
    assert reused.status_code == 422 and error_of(reused)["code"] == "idempotency_key_reused"
    assert client.changes(BASE, "key-2").status_code == 409  # a new key is a new change set


def test_change_sets_are_atomic_and_name_the_failing_change(mock: tuple[RestMock, Client]) -> None:
    _, client = mock
    failing = [*BASE[:3], create("rule", name="r9", source="g1", destination="missing", service=None,
                                 action="allow", log=False)]
    response = client.changes(failing, "k")
    assert response.status_code == 409
    assert error_of(response) | {"message": ""} == {"code": "missing_reference", "message": "", "index": 3,
                                                    "kind": "rule", "name": "r9"}
    assert client.state() == {"revision": 0, "groups": [], "addresses": [], "services": [], "rules": []}
    assert client.changes(failing[:3], "k").status_code == 200  # failures are not remembered


@pytest.mark.parametrize(("changes", "status", "code", "index"), [
    ([create("group", name="g1", members=[])], 409, "exists", 0),
    ([{"op": "delete", "kind": "group", "name": "g1"}], 409, "in_use", 0),
    ([{"op": "delete", "kind": "group", "name": "nope"}], 409, "not_found", 0),
    ([{"op": "update", "kind": "rule", "object": {"name": "r1", "source": "g1", "destination": None,
                                                    "service": None, "action": "maybe", "log": False}}],
     422, "invalid", 0),
    ([{"op": "order", "kind": "rule", "names": ["r2", "r1", "r2"]}], 422, "invalid", 0),
    ([{"op": "order", "kind": "group", "names": ["g1"]}], 422, "invalid", 0),
    ([{"op": "delete", "kind": "rule", "name": "r1"}, {"op": "delete", "kind": "rule", "name": "r1"}],
     409, "not_found", 1),
    ([{"op": "frobnicate", "kind": "rule"}], 422, "invalid", 0),
    ([create("service", name="s2", ports=[{"protocol": "tcp", "start": 10, "end": 5}])], 422, "invalid", 0),
    ([create("address", name="a2", networks=["300.1.1.1"], fqdns=[])], 422, "invalid", 0),
    ([create("address", name="a2", networks=[], fqdns=["bad_name.example"])], 422, "invalid", 0),
])
def test_integrity_and_validation(mock: tuple[RestMock, Client], changes: list[dict[str, Any]], status: int,
                                  code: str, index: int) -> None:
    _, client = mock
    assert client.changes(BASE, "base").status_code == 200
    before = client.state()
    response = client.changes(changes, "next")
    assert response.status_code == status
    error = error_of(response)
    assert (error["code"], error["index"]) == (code, index)
    assert client.state() == before


def test_objects_of_other_owners_cannot_be_changed(mock: tuple[RestMock, Client]) -> None:
    _app, client = mock
    assert client.changes(BASE, "base").status_code == 200
    for change in ({"op": "delete", "kind": "rule", "name": "r1"},
                   {"op": "update", "kind": "group", "object": {"name": "g1", "members": []}},
                   {"op": "order", "kind": "rule", "names": ["r2", "r1"]}):
        response = client.changes([change], f"other-{change['op']}", owner="someone-else")
        assert response.status_code == 409 and error_of(response)["code"] == "not_owner"


def test_create_appends_and_order_permutes_in_place(mock: tuple[RestMock, Client]) -> None:
    _app, client = mock
    assert client.changes(BASE, "base").status_code == 200
    seeded = httpx.post(f"{client.http.base_url}/_mock/seed", json={"rules": [
        {"name": "theirs", "owner": "secops", "source": "g1", "destination": None, "service": None,
         "action": "allow", "log": False}]})
    assert seeded.status_code == 200
    changes = [create("rule", name="r3", source="g1", destination=None, service="s1", action="allow",
                      log=False),
               {"op": "order", "kind": "rule", "names": ["r3", "r2", "r1"]}]
    assert client.changes(changes, "k").status_code == 200
    assert [r["name"] for r in client.state()["rules"]] == ["r3", "r2", "theirs", "r1"]
    assert {r["name"]: r["owner"] for r in client.state()["rules"]}["theirs"] == "secops"


def test_hand_edits_bump_the_revision(mock: tuple[RestMock, Client]) -> None:
    _app, client = mock
    assert client.changes(BASE, "base").status_code == 200
    url = client.http.base_url
    assert httpx.post(f"{url}/_mock/delete", json={"kind": "group", "name": "g1"}).status_code == 409
    assert httpx.post(f"{url}/_mock/delete", json={"kind": "rule", "name": "r2"}).status_code == 200
    assert httpx.post(f"{url}/_mock/delete", json={"kind": "rule", "name": "r2"}).status_code == 404
    bad_seed = httpx.post(f"{url}/_mock/seed", json={"rules": [
        {"name": "x", "source": "nope", "destination": None, "service": None, "action": "allow",
         "log": False}]})
    assert bad_seed.status_code == 409
    state = client.state()
    assert state["revision"] == 2 and [r["name"] for r in state["rules"]] == ["r1"]
    assert httpx.get(f"{url}/_mock/state").json() == state
    assert httpx.post(f"{url}/_mock/reset").status_code == 200
    assert client.state()["revision"] == 0


def test_limits(mock: tuple[RestMock, Client]) -> None:
    app, client = mock
    app.max_changes = 2
    response = client.changes(BASE, "k")
    assert response.status_code == 413 and error_of(response)["code"] == "too_many_changes"
    app.max_changes = 100
    app.store.max_objects = 3
    response = client.changes(BASE, "k")
    assert response.status_code == 422 and error_of(response) | {"message": ""} == {
        "code": "limit_exceeded", "message": "", "index": 3, "kind": "rule", "name": "r1"}


def test_injected_faults_use_the_protocol_envelope(mock: tuple[RestMock, Client]) -> None:
    _app, client = mock
    httpx.post(f"{client.http.base_url}/_mock/faults", json={"status": 429, "times": 1, "retryAfter": 2})
    response = client.request("GET", "/state")
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert error_of(response)["code"] == "too_many_requests"
    assert client.request("GET", "/state").status_code == 200


def test_signatures_are_verified() -> None:
    app = RestMock(token="T", hmac_secret="S")
    with HttpServer(app) as server:
        good = Client(server.url, secret="S")
        assert good.request("GET", "/state").status_code == 200
        assert good.changes(BASE, "k").status_code == 200
        assert good.request("GET", "/").json()["capabilities"]["signature"] is True
        assert httpx.get(f"{server.url}/healthz").status_code == 200
        unsigned = Client(server.url)
        assert error_of(unsigned.request("GET", "/state"))["code"] == "invalid_signature"
        wrong = Client(server.url, secret="X")
        assert error_of(wrong.request("GET", "/state"))["code"] == "invalid_signature"
        stale = good.request("GET", "/state", timestamp=int(time.time()) - 301)
        assert error_of(stale)["code"] == "signature_expired"
        # the body and the idempotency key are covered by the signature
        tampered = good.request("POST", "/changes", {"owner": OWNER, "changes": BASE}, key="k2",
                                headers={"Idempotency-Key": "k3"})
        assert error_of(tampered)["code"] == "invalid_signature"


def test_command_line_prints_the_listening_line() -> None:
    process = subprocess.Popen([sys.executable, "-m", "mocks", "rest", "--port", "0", "--token", "abc"],
                               stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parents[3])
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        assert Client(url, token="abc").request("GET", "/").status_code == 200
        assert Client(url, token="mock-token").request("GET", "/").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_specification_is_valid_openapi_3_1() -> None:
    from openapi_spec_validator import validate

    validate(SPEC)
    assert SPEC["openapi"] == "3.1.0"
    assert set(SPEC["paths"]) == {"/", "/healthz", "/state", "/changes", "/v1/flows"}
