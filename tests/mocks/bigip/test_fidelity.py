"""The AS3 mock where clients depend on AS3's exact behaviour: ports BIG-IP refuses, unprovisioned
modules, the lock held while a declaration is validated, and schema errors in AS3's AJV wording at
the declaration's path (checked with F5's schema when ../shared/vendor is present)."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.bigip import BigIpApp, add_arguments, create_app
from mocks.common.http import HttpServer
from tests.mocks.bigip.test_app import DECLARE, SCHEMA, adc, scoped, tenant

AFM = "One of these F5 modules needs to be provisioned"


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
    app.unprovisioned = frozenset()
    with httpx.Client(base_url=url, auth=("admin", "admin"), timeout=10) as c:
        yield c


def with_ports(*ports: Any) -> dict[str, Any]:
    body = tenant()
    body["Shared"]["ports"]["ports"] = list(ports)
    return body


@pytest.mark.parametrize("port", [70000, -1, "8000-70000", "9000-8000", "http"])
def test_a_port_bigip_refuses_fails_the_tenant(client: httpx.Client, port: Any) -> None:
    answer = client.post(DECLARE, json=adc(T1=with_ports(443, port)))
    assert answer.status_code == 422
    result = answer.json()["results"][0]
    assert (result["code"], result["message"], result["tenant"]) == (422, "declaration failed", "T1")
    assert f"({port})" in result["response"] and "/T1/Shared/ports" in result["response"]
    assert client.get(f"{DECLARE}/T1").status_code == 404


def test_ports_within_range_deploy(client: httpx.Client) -> None:
    assert client.post(DECLARE, json=adc(T1=with_ports(0, 65535, "1-65535"))).status_code == 200


def test_unprovisioned_afm_refuses_afm_classes_and_properties(client: httpx.Client,
                                                             server: tuple[BigIpApp, str]) -> None:
    assert client.post("/_mock/config", json={"unprovisioned": ["afm"]}).json()["unprovisioned"] == ["afm"]
    refused = client.post(DECLARE, json=adc(T1=tenant()))
    assert refused.status_code == 422
    body = refused.json()
    assert body["message"] == "declaration is invalid"
    assert body["errors"] == [f"/T1/Shared/src: {AFM}: afm"]
    service_only = {"class": "Tenant", "A": {"class": "Application", "vs": {
        "class": "Service_L4", "virtualAddresses": ["192.0.2.1"], "virtualPort": 80,
        "policyFirewallEnforced": {"bigip": "/Common/p"}}}}
    assert client.post(DECLARE, json=adc(T2=service_only)).json()["errors"] == \
        [f"/T2/A/vs/policyFirewallEnforced: {AFM}: afm"]
    del service_only["A"]["vs"]["policyFirewallEnforced"]
    assert client.post(DECLARE, json=adc(T2=service_only)).status_code == 200
    assert client.get("/_mock/tenants").json().keys() == {"T2"}
    # a log profile needs AFM or ASM: with ASM provisioned it passes, without either it does not
    logs = {"class": "Tenant", "A": {"class": "Application", "log": {"class": "Security_Log_Profile"}}}
    assert client.post(DECLARE, json=adc(T3=logs)).status_code == 200
    client.post("/_mock/config", json={"unprovisioned": ["afm", "asm"]}).raise_for_status()
    assert client.post(DECLARE, json=adc(T3=logs)).json()["errors"] == [f"/T3/A/log: {AFM}: afm, asm"]
    assert client.post("/_mock/config", json={"unprovisioned": ["bogus"]}).status_code == 400
    server[0].unprovisioned = frozenset()
    assert client.post(DECLARE, json=adc(T1=tenant())).status_code == 200


def test_unprovisioned_from_the_command_line() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    app = create_app(parser.parse_args(["--unprovisioned", "afm", "--unprovisioned", "asm"]))
    assert app.unprovisioned == {"afm", "asm"}
    with pytest.raises(SystemExit):
        parser.parse_args(["--unprovisioned", "nope"])


class _SlowSchema:
    """A schema validator that holds validation until released, to observe AS3's lock."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def first_error(self, declaration: Any) -> str | None:
        self.entered.set()
        assert self.release.wait(10)
        return None


def test_the_lock_covers_validation(server: tuple[BigIpApp, str], client: httpx.Client) -> None:
    app, url = server
    slow = _SlowSchema()
    app.schema = slow  # type: ignore[assignment]
    answers: list[int] = []
    try:
        first = threading.Thread(target=lambda: answers.append(
            httpx.post(f"{url}{DECLARE}", json=adc(T1=tenant()), auth=("admin", "admin"),
                       timeout=10).status_code))
        first.start()
        assert slow.entered.wait(10)
        concurrent = client.post(DECLARE, json=adc(T2=scoped(tenant(name="T2"), "10.2.0.0/16")))
        assert concurrent.status_code == 503 and "in progress" in concurrent.json()["message"]
        slow.release.set()
        first.join(10)
    finally:
        slow.release.set()
        app.schema = None
    assert answers == [200]
    assert client.post(DECLARE, json=adc(T2=scoped(tenant(name="T2"), "10.2.0.0/16"))).status_code == 200


@pytest.mark.skipif(not SCHEMA.is_file(), reason=f"needs F5's AS3 3.56 JSON schema at {SCHEMA}")
@pytest.mark.parametrize(("change", "error"), [
    (lambda t: t["Shared"]["vs"].update(virtualPort=70000), "/T1/Shared/vs/virtualPort: should be <= 65535"),
    (lambda t: t["Shared"]["rules_admin"]["rules"][0].update(action="allow"),
     '/T1/Shared/rules_admin/rules/0/action: should be equal to one of the allowed values '
     '["accept","drop","accept-decisively","reject"]'),
    (lambda t: t["Shared"]["rules_admin"]["rules"][0].pop("action"),
     "/T1/Shared/rules_admin/rules/0: should have required property 'action'"),
    (lambda t: t["Shared"]["src"].update(addresses=[]),
     "/T1/Shared/src/addresses: should NOT have fewer than 1 items"),
])
def test_schema_errors_use_as3_wording(change: Any, error: str) -> None:
    app = BigIpApp(processing_ms=0, schema_path=str(SCHEMA))
    body = tenant()
    change(body)
    with HttpServer(app) as srv, httpx.Client(base_url=srv.url, auth=("admin", "admin")) as c:
        answer = c.post(DECLARE, json={"class": "AS3", "declaration": adc(T1=body)})
        assert answer.status_code == 422
        assert answer.json()["errors"] == [error]
        assert c.post(DECLARE, json=adc(T1=tenant())).status_code == 200
