"""Wire constants and request signing of the generic REST protocol (`openapi.yaml` is the spec)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import httpx

MEDIA_TYPE = "application/vnd.fusion-connector.v1+json"
PROTOCOL = "fusion-connector.v1"
KINDS = ("address", "group", "service", "rule")
COLLECTIONS = {"group": "groups", "address": "addresses", "service": "services", "rule": "rules"}
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9._:/-]{0,254}$"

TIMESTAMP_HEADER = "X-FC-Timestamp"
DIGEST_HEADER = "X-FC-Content-SHA256"
SIGNATURE_HEADER = "X-FC-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_WINDOW_SECONDS = 300


def string_to_sign(method: str, target: str, timestamp: str, digest: str, idempotency_key: str) -> str:
    """`METHOD\\nPATH\\nTIMESTAMP\\nCONTENT_SHA256\\nIDEMPOTENCY_KEY` as the spec defines it."""
    return "\n".join((method.upper(), target, timestamp, digest, idempotency_key))


def signature(secret: str, method: str, target: str, timestamp: str, body: bytes,
              idempotency_key: str) -> tuple[str, str]:
    """(content digest, `v1=<hex>` signature) of one request."""
    digest = hashlib.sha256(body).hexdigest()
    text = string_to_sign(method, target, timestamp, digest, idempotency_key)
    mac = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return digest, f"v1={mac}"


class SigningTransport(httpx.BaseTransport):
    """Signs every request (each retry afresh) before handing it to `inner`."""

    def __init__(self, inner: httpx.BaseTransport, secret: Callable[[], str],
                 clock: Callable[[], float] = time.time) -> None:
        self._inner = inner
        self._secret = secret
        self._clock = clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        timestamp = str(int(self._clock()))
        target = request.url.raw_path.decode("ascii")
        digest, sig = signature(self._secret(), request.method, target, timestamp, body,
                                request.headers.get(IDEMPOTENCY_HEADER, ""))
        request.headers[TIMESTAMP_HEADER] = timestamp
        request.headers[DIGEST_HEADER] = digest
        request.headers[SIGNATURE_HEADER] = sig
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
