"""The F5 BIG-IP adapter (`type: f5-as3`): one AS3 tenant per cluster, applied as a whole.

`render` yields one DeviceObject per AS3 item of the tenant's `Shared` application plus the tenant
itself (kind `tenant`, carrying the owner mark in its `label`), so plans show what changes at object
granularity. `apply` never sends per-object calls: it POSTs the whole tenant built from the desired
objects (`async=true`, task polling), one declaration in flight per device (`AS3Client.lock`).
After a read, `apply` fetches the tenant again and posts only when it differs from the desired
objects (an unchanged tenant costs zero writes); after a skipped read (`observe`) a non-empty plan
is itself the difference, so the tenant is posted without fetching or comparing it. The request
body is joined from per-object JSON fragments (`adapters.f5.request`): a sync serializes only the
objects that changed. When the plan deletes the tenant (nothing left to enforce) the tenant is
removed with `DELETE /declare/<tenant>`. An unsafe plan (safety thresholds) is refused unless it
was forced. A tenant that exists without our mark is foreign: it is never written to and `apply`
fails with a `PermanentDeviceError` naming it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import httpx

from adapters.base.http import RetryPolicy, tls_verify
from adapters.base.memo import RenderMemo
from adapters.f5.capacity import table_usage as as3_tables
from adapters.f5.client import AS3Client
from adapters.f5.config import F5Device
from adapters.f5.declaration import (
    KIND_ORDER,
    TENANT,
    adc,
    canonical_tenant,
    split_tenant,
    tenant_declaration,
    tenant_label,
)
from adapters.f5.render import RenderSettings, render_objects
from adapters.f5.request import RequestWriter
from adapters.f5.rule_names import afm_rule_names, afm_rule_numbers
from connector.adapter import Adapter, ApplyResult, PermanentDeviceError, RuleNumbers
from connector.config import Secrets
from connector.model import Capabilities, DeviceState
from connector.planner.capacity import TableUsage
from connector.planner.types import DeviceObject, Op, Plan

log = logging.getLogger(__name__)

SCHEMA_VERSION = "3.36.0"
ROUTE_DOMAIN_SCHEMA_VERSION = "3.49.0"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


class AS3Adapter(Adapter):
    type_name = "f5-as3"
    # AFM resolves an address list's FQDNs itself (DNS resolver): a wildcard names no query
    capabilities: ClassVar[Capabilities] = Capabilities(fqdn=True, wildcard_fqdn=False, ipv6=True,
                                                        logging=True, incremental_members=False)
    kind_order: ClassVar[tuple[str, ...]] = KIND_ORDER
    ordered_kinds: ClassVar[frozenset[str]] = frozenset()
    # AS3 refuses an empty address list: it holds 0.0.0.0, which is never a source
    emptied_fields: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "address_list": {"addresses": ["0.0.0.0"], "addressLists": None, "fqdns": None}}

    def __init__(self, config: F5Device, cluster: str, secrets: Secrets,
                 transport: httpx.BaseTransport | None = None, *, retry: RetryPolicy | None = None,
                 poll_interval: float = 0.1, task_timeout: float = 600.0) -> None:
        super().__init__(config.name, cluster)
        self.config = config
        self.tenant = config.tenant_for(cluster)
        self.schema_version = (ROUTE_DOMAIN_SCHEMA_VERSION if config.attach.route_domain
                               else SCHEMA_VERSION)
        password = secrets.get(config.auth.password_env, f"device {config.name} password")
        self.client = AS3Client(
            config.name, config.url, config.auth.username, password,
            verify=tls_verify(config.verify_tls, config.ca_bundle), timeout=config.timeout,
            retry=retry, transport=transport, poll_interval=poll_interval,
            poll_max_interval=max(poll_interval, 10.0), task_timeout=task_timeout)
        self._version_checked = False
        self._memo = RenderMemo()
        self._writer = RequestWriter()
        self._observed: list[DeviceObject] | None = None

    @property
    def owner_mark(self) -> str:
        """`fusion-connector:<cluster>`, shortened with a stable hash to fit an AS3 label (≤64)."""
        return tenant_label(super().owner_mark)

    def close(self) -> None:
        self.client.close()

    def render(self, state: DeviceState) -> list[DeviceObject]:
        return render_objects(state, RenderSettings(self.tenant, self.owner_mark, self.config.attach),
                              self._memo)

    def rule_references(self, state: DeviceState) -> Mapping[str, str]:
        """Each enforced AFM rule's name (`acl_rule_name`) -> its rule's key (`rule_names`)."""
        return afm_rule_names(state)

    def rule_numbers(self, state: DeviceState, held: Sequence[DeviceObject]) -> RuleNumbers:
        """Each AFM rule of the enforced firewall policy in `held` (the tenant as read) standing
        for a rule of `state` -> its place in that policy, from 1, across the policy's rule lists
        in its order (a rule on several protocols has several)."""
        return RuleNumbers("policy-position", "AS3 rule", afm_rule_numbers(state, held))

    def table_usage(self, objects: Sequence[DeviceObject]) -> Sequence[TableUsage]:
        return as3_tables(objects, self.config.capacity, self.request_body)

    def observe(self, objects: Sequence[DeviceObject]) -> None:
        """The tenant as the device is known to hold it (the read was skipped): the next `apply`
        compares against these objects instead of fetching the tenant again."""
        self._observed = list(objects)

    def read(self) -> list[DeviceObject]:
        self._observed = None
        body = self.client.get_tenant(self.tenant)
        return split_tenant(self.tenant, body) if body is not None else []

    def declaration(self, desired: Sequence[DeviceObject]) -> dict[str, Any]:
        """The ADC declaration of our tenant holding `desired`."""
        return adc(self.tenant, tenant_declaration(self.tenant, desired), self.schema_version)

    def request_body(self, desired: Sequence[DeviceObject]) -> bytes:
        """The JSON text of the AS3 deploy request of `declaration(desired)`."""
        return self._writer.request(self.tenant, desired, self.schema_version)

    @property
    def writes(self) -> int:
        return self.client.http.writes

    def _apply(self, plan: Plan, desired: Sequence[DeviceObject], result: ApplyResult) -> None:
        observed, self._observed = self._observed, None
        with self.client.lock:
            self._check_version()
            held, label, current = self._held(observed)
            if held and label != self.owner_mark:
                raise PermanentDeviceError(
                    self.name, f"AS3 tenant exists without the mark {self.owner_mark!r} (label "
                    f"{label!r}); it is not ours and is left untouched",
                    object_kind=TENANT, object_name=self.tenant)
            ours = [o for o in desired if o.kind == TENANT or o.owner == self.owner_mark]
            if not ours:
                deletes_tenant = any(c.op is Op.DELETE and c.kind == TENANT and c.name == self.tenant
                                     for c in plan.changes)
                if held and deletes_tenant:
                    log.info("%s: deleting AS3 tenant %s", self.name, self.tenant)
                    self.client.delete_tenant(self.tenant)
                    result.applied = len(plan.changes)
            elif current is not None and current == {f"{o.kind}:{o.name}": o.body for o in ours}:
                log.info("%s: tenant %s already as desired; nothing posted", self.name, self.tenant)
            else:
                by_name = {o.name: o.kind for o in ours}
                results = self.client.declare(self.tenant, self.request_body(ours),
                                              lambda text: self._locate(text, by_name))
                result.details["results"] = results
                result.applied = len(plan.changes)

    def _held(self, observed: Sequence[DeviceObject] | None) -> tuple[bool, Any, dict[str, Any] | None]:
        """(whether the device holds the tenant, its label, its canonical form to compare with).
        From the `observed` objects when the read was skipped (the plan against them is the
        difference, so no form to compare), else fetched now."""
        if observed is not None:
            head = next((o for o in observed if o.kind == TENANT and o.name == self.tenant), None)
            return head is not None, head.body.get("label") if head is not None else None, None
        body = self.client.get_tenant(self.tenant)
        if body is None:
            return False, None, None
        return True, body.get("label"), canonical_tenant(self.tenant, body)

    def _check_version(self) -> None:
        if self._version_checked:
            return
        info = self.client.info()
        installed = str(info.get("version", ""))
        if _version(installed) < _version(self.schema_version):
            raise PermanentDeviceError(
                self.name, f"AS3 {installed or '(unknown version)'} is installed; this configuration needs "
                f"AS3 {self.schema_version} or later")
        self._version_checked = True

    def _locate(self, text: str, kinds: dict[str, str]) -> tuple[str, str]:
        """(kind, name) of the object an AS3 error path or message names, else the tenant."""
        match = re.search(rf"/{re.escape(self.tenant)}/Shared/([^/:\s'\"]+)", text)
        if match and match.group(1) in kinds:
            return kinds[match.group(1)], match.group(1)
        for name in sorted(kinds, key=len, reverse=True):
            if name in text and name != self.tenant:
                return kinds[name], name
        return TENANT, self.tenant
