"""`POST /_mock/traffic` on the REST receiver mock: the protocol's first-match semantics over the
held rules, and the flow records it pushes to a small HTTP server standing for `POST /v1/flows`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.common.http import HttpServer
from mocks.rest import RestMock
from tests.mocks.common.listeners import FlowsReceiver

SEED: dict[str, list[dict[str, Any]]] = {
    "groups": [
        {"name": "pods-a", "members": ["10.244.1.0/24"]},
        {"name": "pods-b", "members": ["10.244.2.7"]},
        {"name": "union", "members": [], "groups": ["pods-a", "pods-b"]},
        {"name": "cluster", "members": ["10.244.0.0/16"], "groups": ["union"]},
    ],
    "addresses": [{"name": "payments", "networks": ["203.0.113.0/24"], "fqdns": ["api.example.com"]}],
    "services": [{"name": "web", "ports": [{"protocol": "tcp", "start": 443, "end": 443},
                                           {"protocol": "tcp", "start": 8000, "end": 8080}]}],
    "rules": [
        {"name": "allow-web", "source": "union", "destination": "payments", "service": "web",
         "action": "allow", "log": True},
        {"name": "deny-b", "source": "pods-b", "destination": None, "service": None, "action": "deny",
         "log": True},
        {"name": "allow-quiet", "source": "cluster", "destination": "payments", "service": None,
         "action": "allow", "log": False},
    ],
}
RECORD_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class Receiver:
    def __init__(self, app: RestMock, api: httpx.Client, flows: FlowsReceiver) -> None:
        self.app, self.api, self.flows = app, api, flows

    def traffic(self, **flow: Any) -> dict[str, Any]:
        body = {"srcPort": 40000, "protocol": "TCP", **flow}
        response = self.api.post("/_mock/traffic", json=body)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def decided(self, src: str, dst: str, port: int, **extra: Any) -> tuple[str, str | None]:
        answer = self.traffic(src=src, dst=dst, dstPort=port, **extra)
        return answer["action"], answer["rule"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    flows = FlowsReceiver()
    app = RestMock(token="T", flows=flows.url, flows_token="flow-secret")
    try:
        with HttpServer(app) as server, httpx.Client(base_url=server.url) as api:
            assert api.post("/_mock/seed", json=SEED).status_code == 200
            yield Receiver(app, api, flows)
    finally:
        app.flows.close()
        flows.close()


def test_first_match_over_the_held_rules(receiver: Receiver) -> None:
    r = receiver
    assert r.decided("10.244.1.9", "203.0.113.5", 443) == ("allow", "allow-web"), "through the union group"
    assert r.decided("10.244.2.7", "203.0.113.5", 8080) == ("allow", "allow-web"), "range end"
    assert r.decided("10.244.2.7", "203.0.113.5", 8081) == ("deny", "deny-b")
    assert r.decided("10.244.3.1", "203.0.113.5", 8081) == ("allow", "allow-quiet"), "cluster, any port"
    assert r.decided("10.244.3.1", "198.51.100.1", 443) == ("deny", None), "the receiver's own default"
    assert r.decided("10.244.1.9", "192.0.2.1", 443, dstName="api.example.com.") == ("allow", "allow-web")
    assert r.decided("10.244.1.9", "203.0.113.5", 443, protocol="UDP") == ("allow", "allow-quiet")
    assert r.traffic(src="10.244.2.7", dst="203.0.113.5", protocol="ICMP", srcPort=None)["rule"] == "deny-b"


def test_an_order_change_changes_the_decision(receiver: Receiver) -> None:
    r = receiver
    assert r.decided("10.244.2.7", "203.0.113.5", 443) == ("allow", "allow-web")
    for rule in SEED["rules"]:
        r.api.post("/_mock/delete", json={"kind": "rule", "name": rule["name"]})
    reordered = {"rules": [SEED["rules"][1], SEED["rules"][0]]}
    assert r.api.post("/_mock/seed", json=reordered).status_code == 200
    assert r.decided("10.244.2.7", "203.0.113.5", 443) == ("deny", "deny-b")


def test_logged_flows_are_pushed_as_one_array_with_the_token(receiver: Receiver) -> None:
    r = receiver
    answer = r.traffic(src="10.244.1.9", srcPort=51000, dst="203.0.113.5", dstPort=443,
                       time="2026-03-01T10:11:12.25+01:00", count=3)
    assert (answer["action"], answer["rule"], answer["pushed"]) == ("allow", "allow-web", 3)
    assert r.traffic(src="10.244.3.1", dst="203.0.113.5", dstPort=22)["pushed"] == 0, "log: false"
    assert r.traffic(src="10.244.2.7", dst="198.51.100.1", dstPort=22, protocol="UDP")["pushed"] == 1
    posts = r.flows.posts(2)
    assert len(posts) == 2
    path, headers, body, _ = posts[0]
    assert path == "/v1/flows"
    assert headers["Authorization"] == "Bearer flow-secret"
    assert headers["Content-Type"] == "application/json"
    assert body == [{"time": "2026-03-01T09:11:12.250Z", "src": "10.244.1.9", "srcPort": 51000,
                     "dst": "203.0.113.5", "dstPort": 443, "protocol": "TCP", "action": "Allow",
                     "rule": "allow-web"}] * 3
    denied = posts[1][2]
    assert len(denied) == 1 and (denied[0]["action"], denied[0]["rule"], denied[0]["protocol"]) == \
        ("Deny", "deny-b", "UDP")
    assert RECORD_TIME.match(denied[0]["time"])
    assert r.app.flows.pusher is not None and r.app.flows.pusher.flush()
    shown = r.api.get("/_mock/flows").json()
    assert (shown["sent"], shown["records"], shown["failed"], shown["lastStatus"]) == (2, 4, 0, 202)


def test_default_decisions_are_pushed_only_with_log_default(receiver: Receiver) -> None:
    r = receiver
    assert r.traffic(src="10.9.9.9", dst="198.51.100.1", dstPort=22)["pushed"] == 0
    assert r.api.post("/_mock/flows", json={"logDefault": True}).json()["logDefault"] is True
    assert r.traffic(src="10.9.9.8", dst="198.51.100.1", dstPort=22)["pushed"] == 1
    posts = r.flows.posts(1)
    assert len(posts) == 1
    assert [(rec["src"], rec["action"], rec["rule"]) for rec in posts[0][2]] == [("10.9.9.8", "Deny", None)]


def test_a_retryable_answer_is_retried_and_settings_change_at_run_time() -> None:
    flows = FlowsReceiver(statuses=[503, 200])
    other = FlowsReceiver(statuses=[401])
    app = RestMock(token="T")
    try:
        with HttpServer(app) as server, httpx.Client(base_url=server.url) as api:
            api.post("/_mock/seed", json=SEED)
            flow = {"src": "10.244.2.7", "srcPort": 1, "dst": "198.51.100.1", "dstPort": 22,
                    "protocol": "TCP"}
            assert api.post("/_mock/traffic", json=flow).json()["pushed"] == 0, "no target yet"
            shown = api.post("/_mock/flows", json={"target": flows.url, "token": "t1"}).json()
            assert (shown["target"], shown["token"]) == (flows.url, True)
            assert api.post("/_mock/traffic", json=flow).json()["pushed"] == 1
            posts = flows.posts(2)
            assert [status for *_, status in posts] == [503, 200], "503 is retried"
            assert posts[0][2] == posts[1][2]
            api.post("/_mock/flows", json={"target": other.url, "token": None})
            api.post("/_mock/traffic", json=flow)
            assert app.flows.pusher is not None and app.flows.pusher.flush()
            posts = other.posts(1)
            assert len(posts) == 1 and "Authorization" not in posts[0][1]
            shown = api.get("/_mock/flows").json()
            assert (shown["failed"], shown["lastStatus"]) == (1, 401), "401 is not retried"
            for bad, field in (({"target": "ftp://x"}, "http://"), ({"token": 5}, "token"),
                               ({"logDefault": "yes"}, "logDefault"), ({"colour": 1}, "colour")):
                response = api.post("/_mock/flows", json=bad)
                assert response.status_code == 400 and field in response.json()["error"], bad
            assert api.post("/_mock/reset").status_code == 200
            assert api.get("/_mock/flows").json()["target"] is None, "reset: the start settings"
    finally:
        app.flows.close()
        flows.close()
        other.close()


def test_bad_traffic_requests_get_400(receiver: Receiver) -> None:
    response = receiver.api.post("/_mock/traffic", json={"src": "10.0.0.1", "dst": "10.0.0.2", "dstPort": 1,
                                                         "srcPort": 1, "protocol": "TCP", "vdom": "root"})
    assert response.status_code == 400 and "'vdom'" in response.json()["error"]
    response = receiver.api.post("/_mock/traffic", json={"src": "10.0.0.1", "dst": "10.0.0.2", "dstPort": 1,
                                                         "srcPort": 1, "protocol": "TCP", "dstName": "a b"})
    assert response.status_code == 400 and "dstName" in response.json()["error"]


def test_the_command_line_takes_flows_options() -> None:
    flows = FlowsReceiver()
    process = subprocess.Popen([sys.executable, "-m", "mocks", "rest", "--port", "0", "--flows", flows.url,
                                "--flows-token", "cli-token"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        rule = {"name": "all", "source": "g", "destination": None, "service": None, "action": "deny",
                "log": True}
        httpx.post(f"{url}/_mock/seed", json={"groups": [{"name": "g", "members": ["10.0.0.0/8"]}],
                                              "rules": [rule]})
        flow = {"src": "10.0.0.1", "srcPort": 1, "dst": "192.0.2.1", "dstPort": 22, "protocol": "TCP"}
        assert httpx.post(f"{url}/_mock/traffic", json=flow).json()["pushed"] == 1
        posts = flows.posts(1)
        assert posts and posts[0][1]["Authorization"] == "Bearer cli-token"
    finally:
        process.terminate()
        process.wait(timeout=10)
        flows.close()


def test_the_connector_reads_the_pushed_records_back(receiver: Receiver) -> None:
    from connector.flows.push import parse_body

    receiver.traffic(src="10.244.1.9", srcPort=51000, dst="203.0.113.5", dstPort=443,
                     time="2026-03-01T10:11:12.25Z", count=2)
    posts = receiver.flows.posts(1)
    assert posts
    lines = parse_body(json.dumps(posts[0][2]).encode(), "rest1")
    assert len(lines) == 2
    line = lines[0]
    assert (line.time.isoformat(), line.device, line.action, line.src, line.src_port, line.dst, line.dst_port,
            line.protocol, line.device_rule) == (
        "2026-03-01T10:11:12.250000+00:00", "rest1", "Allow", "10.244.1.9", 51000, "203.0.113.5", 443, "TCP",
        "allow-web")
