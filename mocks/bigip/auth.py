"""iControl REST authentication as BIG-IP does it: Basic auth or tokens from `/mgmt/shared/authn/login`.

Tokens expire after `lifetime` seconds (BIG-IP default 1200); an expired token gets 401
"X-F5-Auth-Token has expired.", an unknown one 401 "X-F5-Auth-Token does not exist.". A user other
than admin holds at most 100 active tokens (the 101st login gets 400); `DELETE
/mgmt/shared/authz/tokens/<token>` releases one.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from typing import Any

from mocks.common.http import Request, Response, json_response

MAX_TOKENS = 100  # active tokens per user; the admin user is exempt


def unauthorized(message: str, request: Request) -> Response:
    return json_response(401, {"code": 401, "message": message, "referer": request.client or "127.0.0.1",
                               "restOperationId": secrets.randbelow(10_000_000),
                               "kind": ":resterrorresponse"})


class TokenStore:
    """Credentials and the tokens issued for them."""

    def __init__(self, username: str, password: str, lifetime: float = 1200.0) -> None:
        self.username = username
        self.password = password
        self.lifetime = lifetime
        self._tokens: dict[str, tuple[float, float]] = {}  # token -> (start, expiry)
        self._lock = threading.Lock()

    def login(self, request: Request) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            body = {}
        if not isinstance(body, dict) or body.get("username") != self.username \
                or body.get("password") != self.password:
            return unauthorized("Authentication failed.", request)
        token = "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(26))
        now = time.time()
        with self._lock:
            active = sum(1 for _, expiry in self._tokens.values() if expiry > now)
            if active >= MAX_TOKENS and self.username != "admin":
                return json_response(400, {"code": 400, "message": f"user {self.username} has reached "
                                           "maximum active login tokens"})
            self._tokens[token] = (now, now + self.lifetime)
        item: dict[str, Any] = {
            "token": token, "name": token, "userName": self.username, "timeout": int(self.lifetime),
            "startTime": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)),
            "expirationMicros": int((now + self.lifetime) * 1_000_000),
            "kind": "shared:authz:tokens:authtokenitemstate",
            "selfLink": f"https://localhost/mgmt/shared/authz/tokens/{token}",
        }
        return json_response(200, {"username": self.username, "loginProviderName": "tmos", "token": item,
                                   "generation": 0, "lastUpdateMicros": 0})

    def check(self, request: Request) -> Response | None:
        """None when the request is authenticated, else the 401 to answer."""
        token = request.header("X-F5-Auth-Token")
        if token:
            with self._lock:
                entry = self._tokens.get(token)
            if entry is None:
                return unauthorized("X-F5-Auth-Token does not exist.", request)
            if time.time() >= entry[1]:
                return unauthorized("X-F5-Auth-Token has expired.", request)
            return None
        header = request.header("Authorization") or ""
        if header.startswith("Basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return unauthorized("Authentication failed.", request)
            if user == self.username and password == self.password:
                return None
            return unauthorized("Authentication failed.", request)
        return unauthorized("Authorization failed: no user authentication header or token detected. "
                            f"Uri:{request.path}", request)

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._tokens.pop(token, None) is not None

    def expire_all(self) -> int:
        """Make every issued token expired now; returns how many there were."""
        with self._lock:
            for token, (start, _) in list(self._tokens.items()):
                self._tokens[token] = (start, 0.0)
            return len(self._tokens)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()
