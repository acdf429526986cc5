"""The AS3 mock speaks AS3 3.56: status codes, envelopes, per-tenant replace, tasks, busy, tokens."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mocks.bigip import BigIpApp
from mocks.common.http import HttpServer

DECLARE = "/mgmt/shared/appsvcs/declare"
REPO = Path(__file__).resolve().parents[3]
SCHEMA = REPO.parent / "shared" / "vendor" / "as3" / "as3-schema-3.56.0-10.json"


def tenant(label: str = "fusion-connector:c1", addresses: list[str] | None = None,
           name: str = "T1") -> dict[str, Any]:
    return {"class": "Tenant", "label": label, "Shared": {
        "class": "Application", "template": "shared",
        "src": {"class": "Firewall_Address_List", "addresses": addresses or ["10.0.0.1"]},
        "dst": {"class": "Firewall_Address_List", "fqdns": ["api.example.com"]},
        "ports": {"class": "Firewall_Port_List", "ports": [443, "8000-8080"]},
        "rules_admin": {"class": "Firewall_Rule_List", "rules": [
            {"name": "allow", "action": "accept-decisively", "protocol": "tcp",
             "source": {"addressLists": [{"use": "src"}]},
             "destination": {"addressLists": [{"use": f"/{name}/Shared/dst"}],
                             "portLists": [{"use": "ports"}]}}]},
        "policy": {"class": "Firewall_Policy", "rules": [{"use": "rules_admin"}]},
        "vs": {"class": "Service_L4", "virtualAddresses": ["0.0.0.0"], "virtualPort": 0, "layer4": "any",
               "policyFirewallEnforced": {"use": "policy"}}}}


def adc(**tenants: Any) -> dict[str, Any]:
    return {"class": "ADC", "schemaVersion": "3.36.0", **tenants}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BigIpApp, str]]:
    app = BigIpApp(processing_ms=0)
    srv = HttpServer(app).start()
    yield app, srv.url
    srv.stop()


@pytest.fixture
def client(server: tuple[BigIpApp, str]) -> Iterator[httpx.Client]:
    app, url = server
    app.reset()
    app.processing_ms = 0
    with httpx.Client(base_url=url, auth=("admin", "admin"), timeout=10) as c:
        yield c


@pytest.fixture
def app(server: tuple[BigIpApp, str]) -> BigIpApp:
    return server[0]


def test_info_reports_as3_3_56(client: httpx.Client) -> None:
    info = client.get("/mgmt/shared/appsvcs/info").json()
    assert info["version"] == "3.56.0" and info["schemaCurrent"] == "3.56.0"


def test_get_status_codes_when_empty_and_when_missing(client: httpx.Client) -> None:
    assert client.get(DECLARE).status_code == 204
    missing = client.get(f"{DECLARE}/T1")
    assert missing.status_code == 404
    client.post(DECLARE, json=adc(T1=tenant()))
    response = client.get(f"{DECLARE}/T2")
    assert response.status_code == 404
    assert response.json()["message"] == "specified Tenant(s) 'T2' not found in declaration"
    whole = client.get(DECLARE).json()
    assert whole["class"] == "ADC" and "T1" in whole


def test_post_success_then_no_change(client: httpx.Client) -> None:
    first = client.post(f"{DECLARE}/T1", json={"class": "AS3", "action": "deploy",
                                                "declaration": adc(T1=tenant())})
    assert first.status_code == 200
    results = first.json()["results"]
    assert [(r["tenant"], r["message"], r["code"]) for r in results] == [("T1", "success", 200)]
    second = client.post(f"{DECLARE}/T1", json=adc(T1=tenant()))
    assert [r["message"] for r in second.json()["results"]] == ["no change"]
    assert client.get(f"{DECLARE}/T1").json()["T1"] == tenant()


def scoped(body: dict[str, Any], source: str) -> dict[str, Any]:
    """`body` with its virtual taking only traffic from `source` (distinct from other tenants')."""
    body["Shared"]["vs"]["virtualAddresses"] = [["0.0.0.0", source]]
    return body


def test_tenant_is_replaced_whole_and_others_untouched(client: httpx.Client) -> None:
    client.post(DECLARE, json=adc(T1=tenant(), T2=scoped(tenant("other"), "10.2.0.0/16")))
    smaller = tenant()
    del smaller["Shared"]["vs"]
    client.post(f"{DECLARE}/T1", json=adc(T1=smaller))
    stored = client.get(DECLARE).json()
    assert "vs" not in stored["T1"]["Shared"]
    assert stored["T2"] == scoped(tenant("other"), "10.2.0.0/16")


def test_a_virtual_identical_to_another_tenants_is_refused(client: httpx.Client) -> None:
    assert client.post(DECLARE, json=adc(T1=tenant())).status_code == 200
    refused = client.post(f"{DECLARE}/T2", json=adc(T2=tenant("other", name="T2")))
    assert refused.status_code == 422
    result = refused.json()["results"][0]
    assert (result["tenant"], result["message"]) == ("T2", "declaration failed")
    assert "/T2/Shared/vs illegally shares" in result["response"] and "/T1/Shared/vs" in result["response"]
    assert client.get(f"{DECLARE}/T2").status_code == 404
    # scoped by source address, in another route domain, or on another port: no conflict
    for name, body in (("T2", scoped(tenant("other", name="T2"), "10.2.0.0/16")),
                       ("T3", {**tenant("other", name="T3"), "defaultRouteDomain": 3}),
                       ("T4", tenant("other", name="T4"))):
        if name == "T4":
            body["Shared"]["vs"]["virtualPort"] = 53
        answer = client.post(f"{DECLARE}/{name}", json=adc(**{name: body}))
        assert answer.status_code == 200, answer.text
    # a tenant re-declaring its own virtual is no conflict with itself
    assert client.post(f"{DECLARE}/T1", json=adc(T1=tenant())).json()["results"][0]["message"] == "no change"
    # two tenants of one declaration conflict too
    both = client.post(DECLARE, json=adc(T5=tenant(name="T5"), T6=scoped(tenant(name="T6"), "10.2.0.0/16")))
    assert {r["tenant"]: r["code"] for r in both.json()["results"]} == {"T5": 422, "T6": 422}


def test_path_names_which_tenants_are_deployed(client: httpx.Client) -> None:
    response = client.post(f"{DECLARE}/T1", json=adc(T1=tenant(), T2=tenant("other")))
    assert [r["tenant"] for r in response.json()["results"]] == ["T1"]
    assert client.get(f"{DECLARE}/T2").status_code == 404


def test_empty_tenant_deletes_it_and_delete_removes(client: httpx.Client) -> None:
    client.post(DECLARE, json=adc(T1=tenant(), T2=tenant()))
    response = client.post(f"{DECLARE}/T1", json=adc(T1={"class": "Tenant"}))
    assert response.json()["results"][0]["message"] == "success"
    assert client.get(f"{DECLARE}/T1").status_code == 404
    deleted = client.delete(f"{DECLARE}/T2")
    assert deleted.status_code == 200
    assert deleted.json()["results"][0]["tenant"] == "T2"
    assert client.get(DECLARE).status_code == 204


@pytest.mark.parametrize(("mutate", "error"), [
    (lambda t: t["Shared"]["src"].__setitem__("addresses", []),
     "/T1/Shared/src/addresses: should NOT have fewer than 1 items"),
    (lambda t: t["Shared"]["rules_admin"]["rules"][0].__setitem__("action", "allow"),
     "/T1/Shared/rules_admin/rules/0/action: should be equal to one of the allowed values"),
    (lambda t: t["Shared"]["policy"]["rules"].append({"use": "nowhere"}),
     "/T1/Shared/policy/rules/1/use: contains path to non-existent object nowhere"),
    (lambda t: t["Shared"]["vs"].__setitem__("policyFirewallEnforced", {"use": "src"}),
     "/T1/Shared/vs/policyFirewallEnforced/use: AS3 pointer src does not point to required object type"),
    (lambda t: t["Shared"].__setitem__("9bad", {"class": "Firewall_Port_List", "ports": [1]}),
     "/T1/Shared/9bad: property name should match pattern"),
    (lambda t: t["Shared"]["rules_admin"]["rules"][0].pop("name"),
     "/T1/Shared/rules_admin/rules/0: should have required property 'name'"),
    (lambda t: t["Shared"]["vs"].pop("virtualPort"),
     "/T1/Shared/vs: should have required property 'virtualPort'"),
])
def test_invalid_declarations_are_422_naming_the_path(client: httpx.Client, mutate: Any, error: str) -> None:
    body = tenant()
    mutate(body)
    response = client.post(f"{DECLARE}/T1", json=adc(T1=body))
    assert response.status_code == 422
    payload = response.json()
    assert payload["message"] == "declaration is invalid"
    assert payload["errors"][0].startswith(error)
    assert client.get(f"{DECLARE}/T1").status_code == 404, "nothing deployed"


def test_path_longer_than_255_is_400(client: httpx.Client) -> None:
    body = tenant()
    body["Shared"]["p" * 189] = {"class": "Firewall_Port_List", "ports": [1]}
    body["Shared"]["rules_admin"]["rules"][0]["destination"]["addressLists"] = [{"use": "dst"}]
    response = client.post(DECLARE, json=adc(**{"T" * 60: body}))
    assert response.status_code == 400
    assert "exceeds the 255 full path character limit" in response.json()["message"]


def test_mcpd_failure_fails_one_tenant_207_or_all_422(client: httpx.Client) -> None:
    good, bad = tenant(), tenant(addresses=["10.0.0.300"])
    mixed = client.post(DECLARE, json=adc(T1=good, T3=bad))
    assert mixed.status_code == 207
    by_tenant = {r["tenant"]: r for r in mixed.json()["results"]}
    assert by_tenant["T1"]["message"] == "success"
    assert by_tenant["T3"]["message"] == "declaration failed" and by_tenant["T3"]["code"] == 422
    assert "/T3/Shared/src" in by_tenant["T3"]["response"]
    only_bad = client.post(f"{DECLARE}/T3", json=adc(T3=bad))
    assert only_bad.status_code == 422


def test_async_task_lifecycle(client: httpx.Client, app: BigIpApp) -> None:
    app.processing_ms = 150
    submitted = client.post(f"{DECLARE}/T1", params={"async": "true"}, json=adc(T1=tenant()))
    assert submitted.status_code == 202
    task_id = submitted.json()["id"]
    assert submitted.json()["results"][0]["message"] == "Declaration successfully submitted"
    running = client.get(f"/mgmt/shared/appsvcs/task/{task_id}").json()
    assert running["results"][0] == {"message": "in progress", "tenant": "", "host": "", "runTime": 0,
                                      "code": 0}
    busy = client.post(f"{DECLARE}/T2", json=adc(T2=tenant(name="T2")))
    assert busy.status_code == 503
    assert "Configuration operation in progress on device" in busy.json()["message"]
    assert client.get(DECLARE).status_code == 204, "GET is served while busy"
    for _ in range(200):
        record = client.get(f"/mgmt/shared/appsvcs/task/{task_id}").json()
        if record["results"][0]["message"] != "in progress":
            break
        time.sleep(0.02)
    assert record["results"][0]["message"] == "success"
    assert "T1" in record["declaration"]
    assert [item["id"] for item in client.get("/mgmt/shared/appsvcs/task").json()["items"]] == [task_id]
    unknown = client.get("/mgmt/shared/appsvcs/task/nope")
    assert unknown.status_code == 404 and unknown.json()["message"] == "No record found with ID of nope"


def test_busy_lock_allows_one_operation_at_a_time(client: httpx.Client, app: BigIpApp) -> None:
    app.processing_ms = 100
    statuses: list[int] = []

    def post(name: str) -> None:
        statuses.append(client.post(f"{DECLARE}/{name}", json=adc(**{name: tenant(name=name)})).status_code)

    threads = [threading.Thread(target=post, args=(f"T{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses).count(200) >= 1 and 503 in statuses


def test_token_login_expiry_and_errors(server: tuple[BigIpApp, str]) -> None:
    app, url = server
    app.reset()
    with httpx.Client(base_url=url) as c:
        assert c.get(DECLARE).status_code == 401
        refused = c.post("/mgmt/shared/authn/login", json={"username": "admin", "password": "nope"})
        assert refused.status_code == 401
        login = c.post("/mgmt/shared/authn/login",
                       json={"username": "admin", "password": "admin", "loginProviderName": "tmos"})
        token = login.json()["token"]
        assert token["timeout"] == 1200 and token["userName"] == "admin"
        headers = {"X-F5-Auth-Token": token["token"]}
        assert c.get(DECLARE, headers=headers).status_code == 204
        c.post("/_mock/tokens/expire")
        expired = c.get(DECLARE, headers=headers)
        assert expired.status_code == 401
        assert expired.json()["message"] == "X-F5-Auth-Token has expired."
        unknown = c.get(DECLARE, headers={"X-F5-Auth-Token": "NOPE"})
        assert unknown.json()["message"] == "X-F5-Auth-Token does not exist."
        assert c.get(DECLARE, auth=("admin", "wrong")).status_code == 401


def test_token_lifetime_knob(server: tuple[BigIpApp, str]) -> None:
    app, url = server
    app.reset()
    with httpx.Client(base_url=url) as c:
        c.post("/_mock/config", json={"tokenLifetime": 0.05}).raise_for_status()
        token = c.post("/mgmt/shared/authn/login", json={"username": "admin", "password": "admin"}).json()
        time.sleep(0.1)
        assert c.get(DECLARE, headers={"X-F5-Auth-Token": token["token"]["token"]}).status_code == 401
    app.tokens.lifetime = 1200.0


def test_seed_requests_faults_and_reset(client: httpx.Client) -> None:
    client.post("/_mock/seed", json=adc(Foreign=tenant("someone"))).raise_for_status()
    assert client.get(f"{DECLARE}/Foreign").json()["Foreign"]["label"] == "someone"
    client.post("/_mock/faults", json={"status": 503, "times": 1}).raise_for_status()
    injected = client.get(DECLARE)
    assert injected.status_code == 503 and "try again in 2 minutes" in injected.json()["message"]
    log = client.get("/_mock/requests").json()["requests"]
    assert [r["status"] for r in log][-1] == 503
    client.post("/_mock/reset").raise_for_status()
    assert client.get(DECLARE).status_code == 204


@pytest.mark.skipif(not SCHEMA.is_file(), reason=f"needs F5's AS3 3.56 JSON schema at {SCHEMA} (vendor"
                    " reference data, kept beside the checkout, never in the repository)")
def test_full_schema_validation() -> None:
    app = BigIpApp(processing_ms=0, schema_path=str(SCHEMA))
    with HttpServer(app) as srv, httpx.Client(base_url=srv.url, auth=("admin", "admin")) as c:
        assert c.post(DECLARE, json=adc(T1=tenant())).status_code == 200
        body = tenant()
        body["Shared"]["vs"]["snat"] = "bogus"
        response = c.post(DECLARE, json=adc(T1=body))
        assert response.status_code == 422
        assert response.json()["errors"][0].startswith("/T1/Shared/vs")
        assert c.get(f"{DECLARE}/T1").json()["T1"] == tenant()


def test_cli_prints_listening_line() -> None:
    process = subprocess.Popen([sys.executable, "-m", "mocks", "bigip", "--port", "0", "--password", "pw"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        with httpx.Client(base_url=url) as c:
            assert c.get(DECLARE, auth=("admin", "pw")).status_code == 204
            assert c.get(DECLARE, auth=("admin", "admin")).status_code == 401
            assert json.loads(c.get("/_mock/requests").text)["requests"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_token_cap_per_user_and_release() -> None:
    app = BigIpApp("fusion", "pw", processing_ms=0)
    with HttpServer(app) as srv, httpx.Client(base_url=srv.url) as c:
        credentials = {"username": "fusion", "password": "pw"}
        tokens = [c.post("/mgmt/shared/authn/login", json=credentials).json()["token"]["token"]
                  for _ in range(100)]
        refused = c.post("/mgmt/shared/authn/login", json=credentials)
        assert refused.status_code == 400
        assert refused.json()["message"] == "user fusion has reached maximum active login tokens"
        released = c.delete(f"/mgmt/shared/authz/tokens/{tokens[0]}", headers={"X-F5-Auth-Token": tokens[1]})
        assert released.status_code == 200
        assert c.post("/mgmt/shared/authn/login", json=credentials).status_code == 200


EXAMPLE = SCHEMA.parent / "example-egress-declaration.json"


@pytest.mark.skipif(not EXAMPLE.is_file(), reason=f"needs the AS3 example declaration at {EXAMPLE} (vendor"
                    " reference data, kept beside the checkout, never in the repository)")
def test_vendor_example_declaration_is_accepted(client: httpx.Client) -> None:
    body = json.loads(EXAMPLE.read_text())
    response = client.post(DECLARE, json=body)
    assert response.status_code == 200, response.text
    tenant_name = next(k for k, v in body["declaration"].items()
                       if isinstance(v, dict) and v.get("class") == "Tenant")
    assert client.get(f"{DECLARE}/{tenant_name}").json()[tenant_name] == body["declaration"][tenant_name]
