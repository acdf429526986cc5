"""The shared adapter HTTP kit maps failures onto the error taxonomy and retries only transient ones."""

from __future__ import annotations

import logging

import httpx
import pytest

from adapters.base.http import DeviceHttp, RetryPolicy, tls_verify
from connector.adapter import DeviceAuthError, PermanentDeviceError, TransientDeviceError

FAST = RetryPolicy(attempts=4, deadline=5, initial=0.001, maximum=0.01, jitter=0.001)


def scripted(statuses: list[int | type[Exception]]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        outcome = statuses[min(len(seen) - 1, len(statuses) - 1)]
        if isinstance(outcome, type):
            raise outcome("boom", request=request)
        return httpx.Response(outcome, json={"n": len(seen)})

    return httpx.MockTransport(handler), seen


def make(statuses: list[int | type[Exception]], **kwargs: object) -> tuple[DeviceHttp, list[httpx.Request]]:
    transport, seen = scripted(statuses)
    http = DeviceHttp("dev1", "http://device", retry=FAST, transport=transport,
                      auth=lambda: {"Authorization": "Bearer s3cret-token"}, **kwargs)  # type: ignore[arg-type]
    return http, seen


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_status_is_retried_until_success(status: int) -> None:
    http, seen = make([status, status, 200])
    assert http.request("GET", "/x").json() == {"n": 3}
    assert len(seen) == 3


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError])
def test_transport_errors_are_transient(error: type[Exception]) -> None:
    http, seen = make([error, 200])
    assert http.request("POST", "/x", json={}).status_code == 200
    assert len(seen) == 2 and http.writes == 2


def test_retries_are_bounded() -> None:
    http, seen = make([503])
    with pytest.raises(TransientDeviceError) as caught:
        http.request("GET", "/x")
    assert caught.value.status == 503 and len(seen) == FAST.attempts


def test_permanent_error_is_not_retried_and_names_the_object() -> None:
    http, seen = make([422])
    with pytest.raises(PermanentDeviceError) as caught:
        http.request("POST", "/x", object_kind="address", object_name="fc_a")
    assert len(seen) == 1
    assert "address 'fc_a'" in str(caught.value) and caught.value.status == 422


def test_auth_failure_is_its_own_class() -> None:
    http, _ = make([401])
    with pytest.raises(DeviceAuthError):
        http.request("GET", "/x")


def test_expected_status_is_returned() -> None:
    http, _ = make([404])
    assert http.request("GET", "/x", expected={404}).status_code == 404


def test_retry_after_is_honoured_within_the_cap() -> None:
    policy = RetryPolicy(attempts=2, deadline=5, initial=0.001, maximum=0.05, jitter=0)
    seen: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        if len(seen) == 1:
            return httpx.Response(429, headers={"Retry-After": "30"})
        return httpx.Response(200)

    http = DeviceHttp("d", "http://device", retry=policy, transport=httpx.MockTransport(handler))
    assert http.request("GET", "/").status_code == 200


def test_secrets_never_reach_the_log(caplog: pytest.LogCaptureFixture) -> None:
    http, _ = make([httpx.ConnectError, 500, 200])
    with caplog.at_level(logging.DEBUG):
        http.request("GET", "/x")
    assert "s3cret-token" not in caplog.text


def test_tls_verification_is_on_by_default() -> None:
    assert tls_verify(True, None) is True
    assert tls_verify(False, "/nonexistent") is False
