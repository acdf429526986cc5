"""Shared fixtures."""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Iterator
from typing import Any

import httpx._transports.default as httpx_transports
import pytest

# the `shared` and `world` fixtures of the controller end-to-end tests
pytest_plugins = ("tests.connector.controller.harness",)


@pytest.fixture(scope="session", autouse=True)
def _one_default_tls_context() -> Iterator[None]:
    """httpx builds a TLS context for every client it opens, including each `httpx.get(...)`,
    loading the whole CA bundle (tens of milliseconds of CPU); the tests open thousands, many
    in polling loops beside the processes under test. In this process the default verifying
    context (`verify=True`, no client certificate) is built once per trust-store setting and
    shared, as the adapters' HTTP kit does (`adapters.base.http.ssl_context`). Other `verify`
    values and every subprocess are untouched."""
    create = httpx_transports.create_ssl_context

    @functools.cache
    def default(trust_env: bool, cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
        return create(verify=True, cert=None, trust_env=trust_env)

    def shared(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is True and cert is None:
            return default(trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        return create(verify=verify, cert=cert, trust_env=trust_env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx_transports, "create_ssl_context", shared)
        yield

