"""`POST /v1/flows` on the controller's HTTP listener: token, device, size, validation, 202 with counts."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jsonschema
import pytest

from connector.flows.push import FlowPush
from connector.flows.record import FlowLine
from connector.http import HealthServer
from connector.reports.serve import HttpAnswer
from tests.adapters.rest.spec import conforms

TOKEN = "s3cret-flows"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RECORD = {"time": "2026-12-06T16:20:00.5Z", "src": "10.0.0.5", "srcPort": 40000, "dst": "203.0.113.9",
          "dstPort": 443, "protocol": "tcp", "action": "deny", "rule": "fc.prod.r1"}


class Probes:
    """Probes of a controller whose flow pushes go to `push`."""

    def __init__(self, push: FlowPush | None) -> None:
        self.push = push
        self.submitted: list[FlowLine] = []
        self.counted: list[tuple[str, str, int]] = []
        self.room = 1_000_000

    def alive(self) -> bool:
        return True

    def readiness(self) -> dict[str, Any]:
        return {"ready": True}

    def render_metrics(self) -> bytes:
        return b""

    def count(self, device: str, result: str, n: int) -> None:
        self.counted.append((device, result, n))

    def submit(self, lines: list[FlowLine]) -> int:
        taken = lines[:self.room]
        self.submitted.extend(taken)
        return len(taken)

    def flows_answer(self, query: str, authorization: str | None, content_type: str | None,
                     content_length: int | None, read: Callable[[int], bytes]) -> HttpAnswer:
        assert self.push is not None
        return self.push.answer(query, authorization, content_type, content_length, read)


class NoFlows:
    def alive(self) -> bool:
        return True

    def readiness(self) -> dict[str, Any]:
        return {"ready": True}

    def render_metrics(self) -> bytes:
        return b""


def serve(probes: Any) -> HealthServer:
    return HealthServer(probes, "127.0.0.1", 0).start()


@pytest.fixture
def one_rest() -> Iterator[tuple[Probes, str]]:
    probes = Probes(None)
    probes.push = FlowPush(TOKEN, ["soc"], probes.submit, max_body_bytes=64 * 1024, max_records=50,
                           count=probes.count)
    server = serve(probes)
    yield probes, f"{server.url}/v1/flows"
    server.stop()


def test_records_are_accepted_for_the_single_rest_device(one_rest: tuple[Probes, str]) -> None:
    probes, url = one_rest
    second = dict(RECORD, srcPort=None, dstPort=None, protocol="17", action="Allow", rule=None, count=3,
                  vendorField="ignored")
    response = httpx.post(url, json=[RECORD, second], headers=AUTH)
    assert response.status_code == 202
    assert response.json() == {"accepted": 2, "shed": 0}
    first, other = probes.submitted
    assert first == FlowLine(time=datetime(2026, 12, 6, 16, 20, 0, 500000, tzinfo=UTC), device="soc",
                             action="Deny", src="10.0.0.5", dst="203.0.113.9", protocol="TCP",
                             src_port=40000, dst_port=443, device_rule="fc.prod.r1")
    assert (other.action, other.protocol, other.src_port, other.device_rule, other.count) == (
        "Allow", "17", None, None, 3)


def test_the_vendor_media_type_and_an_empty_array_are_accepted(one_rest: tuple[Probes, str]) -> None:
    _, url = one_rest
    response = httpx.post(url, content=b"[]", headers={
        **AUTH, "Content-Type": "application/vnd.fusion-connector.v1+json"})
    assert response.status_code == 202 and response.json() == {"accepted": 0, "shed": 0}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}])
def test_a_missing_or_wrong_token_is_401(one_rest: tuple[Probes, str], headers: dict[str, str]) -> None:
    probes, url = one_rest
    response = httpx.post(url, json=[RECORD], headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] == "unauthorized"
    assert probes.submitted == []


@pytest.mark.parametrize(("record", "index_field", "words"), [
    ({"dstPort": 70000}, "dstPort", "is not a port"),
    ({"srcPort": "443"}, "srcPort", "is not a port"),
    ({"src": "10.0.0.300"}, "src", "is not an IP address"),
    ({"dst": None}, "dst", "an IP address is required"),
    ({"time": "yesterday"}, "time", "not an RFC 3339 time"),
    ({"time": "2026-12-06T16:20:00"}, "time", "no time zone"),
    ({"action": "drop"}, "action", "Allow or Deny"),
    ({"protocol": 6}, "protocol", "protocol"),
    ({"rule": 12}, "rule", "rule name"),
    ({"count": 0}, "count", "positive integer"),
])
def test_an_invalid_record_is_400_naming_its_index_and_field(
        one_rest: tuple[Probes, str], record: dict[str, Any], index_field: str, words: str) -> None:
    probes, url = one_rest
    response = httpx.post(url, json=[RECORD, dict(RECORD, **record)], headers=AUTH)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["index"], error["field"]) == ("invalid", 1, index_field)
    assert error["message"].startswith(f"[1].{index_field}: ") and words in error["message"]
    assert probes.submitted == []  # nothing of a bad body is taken
    assert probes.counted == [("soc", "malformed", 2)]  # its records are counted as malformed


@pytest.mark.parametrize(("body", "words"), [(b"{\"a\": 1}", "JSON array"), (b"[1, 2", "not JSON"),
                                             (b"[3]", "[0]: a record must be a JSON object")])
def test_a_body_that_is_not_an_array_of_records_is_400(one_rest: tuple[Probes, str], body: bytes,
                                                       words: str) -> None:
    _, url = one_rest
    response = httpx.post(url, content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 400 and words in response.json()["error"]["message"]


def test_a_body_of_another_media_type_is_415(one_rest: tuple[Probes, str]) -> None:
    _, url = one_rest
    response = httpx.post(url, content=b"[]", headers={**AUTH, "Content-Type": "text/plain"})
    assert response.status_code == 415


def test_too_many_records_is_413(one_rest: tuple[Probes, str]) -> None:
    _, url = one_rest
    response = httpx.post(url, json=[RECORD] * 51, headers=AUTH)
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_many_records"


def test_a_body_over_the_limit_is_413_without_being_read(one_rest: tuple[Probes, str]) -> None:
    _, url = one_rest
    host, port = url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"POST /v1/flows HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + TOKEN.encode() + b"\r\nContent-Length: 1000000000\r\n\r\n[")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.split()[1] == b"413"
    assert json.loads(rest.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "too_large"


def test_lines_the_pipeline_cannot_take_are_reported_as_shed(one_rest: tuple[Probes, str]) -> None:
    probes, url = one_rest
    probes.room = 1
    response = httpx.post(url, json=[RECORD, RECORD, RECORD], headers=AUTH)
    assert response.status_code == 202 and response.json() == {"accepted": 1, "shed": 2}


def test_the_device_is_named_when_several_rest_devices_push() -> None:
    probes = Probes(None)
    probes.push = FlowPush(TOKEN, ["soc", "lab"], probes.submit)
    server = serve(probes)
    try:
        url = f"{server.url}/v1/flows"
        unnamed = httpx.post(url, json=[RECORD], headers=AUTH)
        assert unnamed.status_code == 400
        assert unnamed.json()["error"]["field"] == "device"
        assert "configured: soc, lab" in unnamed.json()["error"]["message"]
        unknown = httpx.post(f"{url}?device=fgt-edge", json=[RECORD], headers=AUTH)
        assert unknown.status_code == 400 and "'fgt-edge' is not a configured device of type rest" in \
            unknown.json()["error"]["message"]
        named = httpx.post(f"{url}?device=lab", json=[RECORD], headers=AUTH)
        assert named.status_code == 202 and [line.device for line in probes.submitted] == ["lab"]
    finally:
        server.stop()


def test_404_when_flow_pushes_are_not_enabled() -> None:
    probes = Probes(None)
    probes.push = FlowPush(None, ["soc"], probes.submit)
    for target in (probes, NoFlows()):
        server = serve(target)
        try:
            response = httpx.post(f"{server.url}/v1/flows", json=[RECORD], headers=AUTH)
            assert response.status_code == 404
        finally:
            server.stop()
    assert probes.submitted == []


def test_other_post_paths_are_404(one_rest: tuple[Probes, str]) -> None:
    _, url = one_rest
    assert httpx.post(url.replace("/v1/flows", "/report"), json=[], headers=AUTH).status_code == 404


def test_requests_and_answers_fit_the_rest_specification(one_rest: tuple[Probes, str]) -> None:
    _, url = one_rest
    body = [RECORD, dict(RECORD, srcPort=None, rule=None, count=2)]
    conforms("FlowRecords", body)
    accepted = httpx.post(url, json=body, headers=AUTH)
    conforms("FlowPushResult", accepted.json())
    refused = httpx.post(url, json=[dict(RECORD, dstPort=-1)], headers=AUTH)
    conforms("Error", refused.json())
    with pytest.raises(jsonschema.ValidationError):
        conforms("FlowRecords", [dict(RECORD, dstPort=-1)])
