"""One device, one lock: connectors spelling a device's URL differently still share its lock."""

from __future__ import annotations

import pytest

from connector.store.locks import advisory_key, device_identity


@pytest.mark.parametrize("spelling", ["https://fw.example.com", "https://FW.Example.com/", "HTTPS://fw.example.com:443",
                                      "https://fw.example.com//"])
def test_spellings_of_one_url_share_a_key(spelling: str) -> None:
    assert device_identity(spelling) == "https://fw.example.com"
    assert advisory_key(spelling) == advisory_key("https://fw.example.com")


@pytest.mark.parametrize("other", ["https://fw.example.com:8443", "http://fw.example.com", "https://fw2.example.com",
                                   "https://fw.example.com/vdom-b"])
def test_other_devices_keep_their_own_key(other: str) -> None:
    assert advisory_key(other) != advisory_key("https://fw.example.com")


def test_ipv6_hosts_and_plain_names() -> None:
    assert device_identity("https://[FD00::1]:443/") == "https://[fd00::1]"
    assert device_identity("fw-1") == "fw-1"
