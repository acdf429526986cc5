"""The realistic processing model end to end, at a tiny time scale: small declarations answer at once,
large ones swap to async (202 + task), the device stays busy (503) meanwhile, GETs are served."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.bigip import BigIpApp, add_arguments, create_app
from mocks.common.http import HttpServer
from tests.mocks.bigip.test_timing import firewall_tenant

DECLARE = "/mgmt/shared/appsvcs/declare"
TASK = "/mgmt/shared/appsvcs/task"
SCALE = 0.01  # a 45 s async swap becomes 0.45 s; the large tenant below (~150 s) takes ~1.5 s


def adc(**tenants: Any) -> dict[str, Any]:
    return {"class": "ADC", "schemaVersion": "3.50.0", **tenants}


SMALL = firewall_tenant(lists=2, addresses_per_list=3, rules=2)
LARGE = firewall_tenant(lists=3000, addresses_per_list=10, rules=3000)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    app = BigIpApp(processing_model="realistic", processing_scale=SCALE)
    with HttpServer(app) as server, httpx.Client(base_url=server.url, auth=("admin", "admin"),
                                                 timeout=30) as c:
        yield c


def wait_for(client: httpx.Client, task_id: str) -> dict[str, Any]:
    for _ in range(1000):
        record: dict[str, Any] = client.get(f"{TASK}/{task_id}").json()
        if record["results"][0]["message"] != "in progress":
            return record
        time.sleep(0.02)
    raise AssertionError(f"task {task_id} still in progress")


def test_a_small_declaration_answers_synchronously_and_leaves_a_task_record(client: httpx.Client) -> None:
    response = client.post(f"{DECLARE}/T1", json=adc(T1=SMALL))
    assert response.status_code == 200, response.text
    assert [(r["tenant"], r["message"]) for r in response.json()["results"]] == [("T1", "success")]
    items = client.get(TASK).json()["items"]
    assert len(items) == 1 and items[0]["results"][0]["message"] == "success"


def test_a_large_declaration_swaps_to_async_and_keeps_the_device_busy(client: httpx.Client) -> None:
    submitted = client.post(f"{DECLARE}/T1", json=adc(T1=LARGE))
    assert submitted.status_code == 202, submitted.text
    body = submitted.json()
    assert body["results"][0]["message"] == "Declaration successfully submitted"
    task_id = body["id"]
    running = client.get(f"{TASK}/{task_id}").json()
    assert running["results"][0] == {"message": "in progress", "tenant": "", "host": "", "runTime": 0,
                                      "code": 0}
    busy = client.post(f"{DECLARE}/T2", json=adc(T2=SMALL))
    assert busy.status_code == 503
    assert "Configuration operation in progress on device" in busy.json()["message"]
    assert client.delete(f"{DECLARE}/T1").status_code == 503
    assert client.get(DECLARE).status_code == 204, "GETs are served while AS3 works"
    record = wait_for(client, task_id)
    assert [(r["tenant"], r["message"], r["code"]) for r in record["results"]] == [("T1", "success", 200)]
    assert "T1" in client.get(DECLARE).json()
    assert client.post(f"{DECLARE}/T2", json=adc(T2=SMALL)).status_code == 200, "free again"


def test_async_true_answers_202_at_once_and_failures_reach_the_task(client: httpx.Client) -> None:
    bad = firewall_tenant(lists=1, addresses_per_list=1, rules=1)
    bad["Shared"]["src0"]["addresses"] = ["10.0.0.300"]  # mcpd refuses it: "declaration failed"
    submitted = client.post(f"{DECLARE}/T1", params={"async": "true"}, json=adc(T1=bad))
    assert submitted.status_code == 202
    record = wait_for(client, submitted.json()["id"])
    assert record["results"][0]["message"] == "declaration failed" and record["results"][0]["code"] == 422


def test_the_stored_tenant_counts_too(client: httpx.Client) -> None:
    """Replacing a large tenant by a small one still costs the poll of the large one."""
    first = client.post(f"{DECLARE}/T1", params={"async": "true"}, json=adc(T1=LARGE))
    wait_for(client, first.json()["id"])
    assert client.post(f"{DECLARE}/T1", json=adc(T1=SMALL)).status_code == 202


def test_model_and_scale_are_configurable(client: httpx.Client) -> None:
    shown = client.post("/_mock/config", json={"processingModel": "none", "processingMs": 0}).json()
    assert (shown["processingModel"], shown["processingScale"]) == ("none", SCALE)
    assert client.post(f"{DECLARE}/T1", json=adc(T1=LARGE)).status_code == 200, "none: fixed time, sync"
    assert client.get(TASK).json()["items"] == [], "none: no record for synchronous declarations"
    for bad in ({"processingModel": "slow"}, {"processingScale": 0}, {"processingScale": "x"}):
        assert client.post("/_mock/config", json=bad).status_code == 400
    assert client.post("/_mock/config", json={"processingModel": "realistic"}).status_code == 200
    assert client.post(f"{DECLARE}/T1", json=adc(T1=LARGE)).status_code == 202


def test_command_line_flags() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    default = create_app(parser.parse_args([]))
    assert (default.processing_model, default.processing_scale) == ("none", 1.0)
    app = create_app(parser.parse_args(["--processing-model", "realistic", "--processing-scale", "0.01"]))
    assert (app.processing_model, app.processing_scale) == ("realistic", 0.01)
    for bad in (["--processing-model", "fast"], ["--processing-scale", "0"], ["--processing-scale", "x"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
