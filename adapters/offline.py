"""Adapters that never reach their device, for what is computed offline (`review`'s capacity
figures: rendering a desired state and counting its tables).

`offline_transport()` answers the one request a render may make, the generic REST protocol's
`GET /` (protocol, capabilities), as a receiver declaring group references (a union group then
refers to its member groups instead of repeating their addresses: the same count of groups and
rules, rendered far faster), wildcard names (sent only when the device is configured for them, so
offline the configuration decides) and no limit (so only the configured `capacity` bounds a REST device
offline), and refuses every other request with 503. `offline_secrets(variables)` gives a
placeholder for each secret variable: nothing is sent anywhere, so no real secret is needed.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from adapters.rest.protocol import MEDIA_TYPE, PROTOCOL
from connector.config import Secrets

PLACEHOLDER = "offline"


def _answer(request: httpx.Request) -> httpx.Response:
    if request.method == "GET" and request.url.path in ("", "/"):
        return httpx.Response(200, json={"protocol": PROTOCOL, "capabilities": {"groupReferences": True,
                                                                                "wildcardFqdn": True}},
                              headers={"Content-Type": MEDIA_TYPE})
    return httpx.Response(503, json={"message": "offline: this adapter never reaches its device"})


def offline_transport() -> httpx.BaseTransport:
    """A transport answering as described in the module docstring."""
    return httpx.MockTransport(_answer)


def offline_secrets(variables: Iterable[str]) -> Secrets:
    """Secrets holding a placeholder for each of `variables`."""
    return Secrets({name: PLACEHOLDER for name in variables})
