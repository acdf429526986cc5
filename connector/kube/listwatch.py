"""List, watch and discovery calls on raw JSON: the I/O edge of the watch layer (`connector.sources`).

`ListWatchApi` is what reflectors need; `KubeListWatch` implements it with the official client's
API functions called with `_preload_content=False`, so responses are parsed as JSON here and never
deserialized into client model objects (at 100,000 pods that cost dominates). HTTP errors surface
as `KubernetesStatusError`; connection problems as whatever urllib3/OSError raises.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from kubernetes import client as k8s_client

from connector.cluster import Kind, KindInfo, Obj
from connector.kube.errors import KubernetesStatusError

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 10.0
LIST_READ_TIMEOUT = 120.0


class WatchStream(Protocol):
    """An open watch: iterating yields decoded events (`{"type": ..., "object": {...}}`) until
    the server ends the stream. `close()` may be called from another thread and unblocks a pending
    read (iteration then ends or raises)."""

    def __iter__(self) -> Iterator[Obj]: ...

    def close(self) -> None: ...


class ListWatchApi(Protocol):
    """List, watch and discovery for one kind at a time, across all namespaces."""

    def list(self, info: KindInfo, limit: int | None, continue_token: str | None) -> Obj:
        """One page of the collection as the server's List JSON."""

    def watch(self, info: KindInfo, resource_version: str, timeout_seconds: int,
              read_timeout: float) -> WatchStream:
        """Open a watch from `resource_version` with bookmarks."""

    def served(self, info: KindInfo) -> bool:
        """Whether the API server serves `info` now (discovery)."""


def _status_error(exc: k8s_client.ApiException) -> KubernetesStatusError:
    message = exc.reason or ""
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if body:
        try:
            message = str(json.loads(body).get("message") or message)
        except (ValueError, AttributeError):
            message = str(body)[:200]
    return KubernetesStatusError(int(exc.status or 0), message)


class _UrllibWatchStream:
    """A watch response read line by line; `close()` shuts the socket down from any thread."""

    def __init__(self, response: Any) -> None:
        self._response = response
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[Obj]:
        buffer = b""
        try:
            for chunk in self._response.stream(amt=None, decode_content=True):
                if self._closed.is_set():
                    return
                if b"\n" not in chunk:
                    buffer += chunk
                    continue
                lines = (buffer + chunk).split(b"\n")
                buffer = lines.pop()
                for line in lines:
                    if line.strip():
                        yield json.loads(line)
            if buffer.strip() and not self._closed.is_set():
                yield json.loads(buffer)
        finally:
            self._release()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self._response.shutdown()
        except Exception:  # the socket may already be gone; closing is best effort
            log.debug("shutting down a watch response failed", exc_info=True)

    def _release(self) -> None:
        self._closed.set()
        try:
            self._response.close()
            self._response.release_conn()
        except Exception:
            log.debug("releasing a watch connection failed", exc_info=True)


class KubeListWatch:
    """`ListWatchApi` over a `kubernetes.client.ApiClient`."""

    def __init__(self, api_client: k8s_client.ApiClient) -> None:
        self._core = k8s_client.CoreV1Api(api_client)
        self._discovery = k8s_client.DiscoveryV1Api(api_client)
        self._custom = k8s_client.CustomObjectsApi(api_client)

    def _list_function(self, info: KindInfo) -> Callable[..., Any]:
        core: dict[Kind, Callable[..., Any]] = {
            Kind.NAMESPACE: self._core.list_namespace,
            Kind.POD: self._core.list_pod_for_all_namespaces,
            Kind.SERVICE: self._core.list_service_for_all_namespaces,
            Kind.NODE: self._core.list_node,
            Kind.ENDPOINT_SLICE: self._discovery.list_endpoint_slice_for_all_namespaces,
        }
        function = core.get(info.kind)
        if function is not None:
            return function
        return functools.partial(self._custom.list_cluster_custom_object, info.group, info.version,
                                 info.kind.value)

    def _call(self, info: KindInfo, **params: Any) -> Any:
        arguments = {key: value for key, value in params.items() if value is not None}
        try:
            return self._list_function(info)(_preload_content=False, **arguments)
        except k8s_client.ApiException as exc:
            raise _status_error(exc) from exc

    def list(self, info: KindInfo, limit: int | None, continue_token: str | None) -> Obj:
        response = self._call(info, limit=limit, _continue=continue_token,
                              _request_timeout=(CONNECT_TIMEOUT, LIST_READ_TIMEOUT))
        try:
            data: Obj = json.loads(response.data)
        finally:
            response.release_conn()
        return data

    def watch(self, info: KindInfo, resource_version: str, timeout_seconds: int,
              read_timeout: float) -> WatchStream:
        response = self._call(info, watch=True, allow_watch_bookmarks=True,
                              resource_version=resource_version or None,
                              timeout_seconds=timeout_seconds,
                              _request_timeout=(CONNECT_TIMEOUT, read_timeout))
        return _UrllibWatchStream(response)

    def served(self, info: KindInfo) -> bool:
        if not info.group:
            return True
        try:
            response: Any = self._custom.get_api_resources(info.group, info.version, _preload_content=False,
                                                      _request_timeout=(CONNECT_TIMEOUT, 30.0))
        except k8s_client.ApiException as exc:
            if exc.status == 404:
                return False
            raise _status_error(exc) from exc
        try:
            data = json.loads(response.data)
        finally:
            response.release_conn()
        names = {resource.get("name") for resource in data.get("resources") or []}
        return info.kind.value in names
