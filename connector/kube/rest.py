"""Raw JSON calls to the Kubernetes API server for the controller's writes (Leases, Events, rule
status), through the official client's `ApiClient` (its configuration carries host, TLS and
credentials). Answers are (HTTP status, parsed JSON body); connection failures raise
`KubernetesUnavailable`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kubernetes import client as k8s_client

from connector.cluster import Obj
from connector.kube.errors import KubernetesUnavailable

log = logging.getLogger(__name__)

MERGE_PATCH = "application/merge-patch+json"
TIMEOUT = (5.0, 15.0)


class KubeApi:
    """GET/POST/PUT/PATCH of JSON objects by URL path."""

    def __init__(self, api: k8s_client.ApiClient) -> None:
        self._api = api

    def call(self, method: str, path: str, body: Obj | None = None,
             content_type: str = "application/json") -> tuple[int, Obj]:
        headers = {"Content-Type": content_type, "Accept": "application/json"}
        try:
            params = self._api.param_serialize(method=method, resource_path=path, header_params=headers,
                                               body=body, auth_settings=["BearerToken"])
            response: Any = self._api.call_api(*params, _request_timeout=TIMEOUT)
            response.read()
        except k8s_client.ApiException as exc:  # raised for some transport-level statuses
            return int(exc.status or 0), _parse(exc.body)
        except Exception as exc:  # urllib3 and OS errors alike
            raise KubernetesUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        return int(response.status), _parse(response.data)

    def get(self, path: str) -> tuple[int, Obj]:
        return self.call("GET", path)

    def create(self, path: str, body: Obj) -> tuple[int, Obj]:
        return self.call("POST", path, body)

    def replace(self, path: str, body: Obj) -> tuple[int, Obj]:
        return self.call("PUT", path, body)

    def merge_patch(self, path: str, body: Obj) -> tuple[int, Obj]:
        return self.call("PATCH", path, body, MERGE_PATCH)


def _parse(raw: Any) -> Obj:
    if not raw:
        return {}
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    try:
        data = json.loads(raw)
    except ValueError:
        return {"message": str(raw)[:500]}
    return data if isinstance(data, dict) else {"items": data}
