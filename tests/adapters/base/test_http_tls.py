"""The shared TLS contexts of the HTTP kit: built once per CA bundle file version, verifying."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import certifi
import pytest

from adapters.base.http import DeviceHttp, ssl_context, tls_verify


def test_the_default_context_is_built_once_and_verifies() -> None:
    context = ssl_context()
    assert context is ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0


def test_a_bundle_context_is_shared_until_the_file_changes(tmp_path: Path) -> None:
    pem = Path(certifi.where()).read_text()
    bundle = tmp_path / "ca.pem"
    bundle.write_text(pem)
    first = tls_verify(True, str(bundle))
    assert isinstance(first, ssl.SSLContext)
    assert first is tls_verify(True, str(bundle)) is ssl_context(str(bundle))
    assert first is not ssl_context()
    assert first.verify_mode == ssl.CERT_REQUIRED
    # a rotated bundle (other content, later modification time) is read afresh
    blocks = pem.split("-----END CERTIFICATE-----")
    bundle.write_text(blocks[0] + "-----END CERTIFICATE-----\n")
    stat = bundle.stat()
    os.utime(bundle, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = ssl_context(str(bundle))
    assert second is not first
    assert second.cert_store_stats()["x509_ca"] == 1 < first.cert_store_stats()["x509_ca"]


def test_a_missing_bundle_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ssl_context(str(tmp_path / "absent.pem"))


def test_adapters_share_the_default_context() -> None:
    first = DeviceHttp("a", "https://a.example")
    second = DeviceHttp("b", "https://b.example")
    try:
        assert first._client._transport._pool._ssl_context is ssl_context()  # type: ignore[attr-defined]
        assert second._client._transport._pool._ssl_context is ssl_context()  # type: ignore[attr-defined]
    finally:
        first.close()
        second.close()
