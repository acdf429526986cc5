"""Object metadata rules: names, timestamps, uids, generation and the built-in defaults."""

from __future__ import annotations

import random
import string
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from connector.crds import metadata as metadata_rules
from mocks.kube.errors import cause
from mocks.kube.resources import ResourceType

LABEL_NAMED = {("", "namespaces"), ("", "services")}
# kinds whose metadata.generation tracks spec changes (custom resources always do)
GENERATION_KINDS = {("", "pods"), ("apiextensions.k8s.io", "customresourcedefinitions")}
_SUFFIX = string.ascii_lowercase + string.digits
OMITTED_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def timestamp_in(seconds: float) -> str:
    """The timestamp `seconds` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def passed(timestamp: str) -> bool:
    """Whether a metadata timestamp is now or in the past (True when unreadable)."""
    try:
        moment = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return True
    return moment <= datetime.now(UTC)


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    return prefix + "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))


def name_causes(rtype: ResourceType, name: str) -> list[dict[str, str]]:
    """Causes for an invalid metadata.name (empty when valid): `connector.crds.metadata`."""
    return metadata_rules.name_causes(name, label=rtype.key in LABEL_NAMED)


def tracks_generation(rtype: ResourceType) -> bool:
    return rtype.custom or rtype.key in GENERATION_KINDS


def spec_part(rtype: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    """The part of an object whose change bumps metadata.generation."""
    skip = {"metadata", "apiVersion", "kind"}
    if rtype.status_subresource or not rtype.custom:
        skip.add("status")
    return {k: v for k, v in obj.items() if k not in skip}


def builtin_causes(rtype: ResourceType, obj: dict[str, Any]) -> list[dict[str, str]]:
    """The validation the real server applies to the built-in kinds that matter here."""
    causes: list[dict[str, str]] = []
    spec = obj.get("spec")
    if rtype.key == ("", "pods"):
        containers = (spec or {}).get("containers")
        if not containers:
            causes.append(cause("spec.containers", "Required value", "FieldValueRequired"))
        for index, container in enumerate(containers or []):
            if not isinstance(container, dict) or not container.get("name"):
                causes.append(cause(f"spec.containers[{index}].name", "Required value", "FieldValueRequired"))
            elif not container.get("image"):
                causes.append(
                    cause(f"spec.containers[{index}].image", "Required value", "FieldValueRequired")
                )
    elif rtype.key == ("", "services"):
        for index, port in enumerate((spec or {}).get("ports") or []):
            number = port.get("port") if isinstance(port, dict) else None
            if not isinstance(number, int) or not 1 <= number <= 65535:
                causes.append(
                    cause(
                        f"spec.ports[{index}].port",
                        f"Invalid value: {number}: must be between 1 and 65535, inclusive",
                    )
                )
    elif rtype.key == ("coordination.k8s.io", "leases"):
        duration = (spec or {}).get("leaseDurationSeconds")
        if duration is not None and (not isinstance(duration, int) or duration <= 0):
            causes.append(
                cause("spec.leaseDurationSeconds", f"Invalid value: {duration}: must be greater than 0")
            )
    elif rtype.key == ("discovery.k8s.io", "endpointslices") and obj.get("addressType") not in (
        "IPv4",
        "IPv6",
        "FQDN",
    ):
        causes.append(
            cause(
                "addressType",
                f'Unsupported value: "{obj.get("addressType")}": supported values: "FQDN", "IPv4", "IPv6"',
                "FieldValueNotSupported",
            )
        )
    return causes


def metadata_causes(obj: dict[str, Any]) -> list[dict[str, str]]:
    """Label keys and values, annotation keys and size, checked as for every kind on a real server
    (`connector.crds.metadata`)."""
    return metadata_rules.metadata_causes(obj)


def pod_defaults(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("serviceAccountName", "default")
    spec.setdefault("enableServiceLinks", True)
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            container.setdefault("imagePullPolicy", "IfNotPresent")
            container.setdefault("terminationMessagePath", "/dev/termination-log")
            container.setdefault("terminationMessagePolicy", "File")
            for port in container.get("ports") or []:
                if isinstance(port, dict):
                    port.setdefault("protocol", "TCP")


def service_defaults(obj: dict[str, Any]) -> None:
    spec = obj.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["type"] != "ExternalName":
        spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
    obj.setdefault("status", {"loadBalancer": {}})
