"""The suite-wide fixtures of tests/conftest.py."""

from __future__ import annotations

import ssl

import httpx


def _context(client: httpx.Client) -> ssl.SSLContext:
    context: ssl.SSLContext = client._transport._pool._ssl_context  # type: ignore[attr-defined]
    return context


def test_default_verifying_clients_share_one_tls_context() -> None:
    with httpx.Client() as first, httpx.Client() as second:
        assert _context(first) is _context(second)
        assert _context(first).verify_mode == ssl.CERT_REQUIRED
        assert _context(first).check_hostname
        assert _context(first).cert_store_stats()["x509_ca"] > 0


def test_other_verify_settings_are_built_as_asked() -> None:
    with httpx.Client(verify=False) as insecure, httpx.Client() as default:
        assert _context(insecure) is not _context(default)
        assert _context(insecure).verify_mode == ssl.CERT_NONE
