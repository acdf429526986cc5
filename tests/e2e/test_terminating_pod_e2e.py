"""A gracefully deleted pod keeps its address on the devices while it terminates, and loses it once
it is gone: the controller runs against the kube mock with a Node (pods are scheduled, so deletion
is graceful) and a REST device, the pod is deleted with a grace period, and the device's decision
for the pod's traffic is read back from the device while the pod exists and after."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from kubernetes.client.exceptions import ApiException

from connector.evaluate import Probe
from tests.connector.controller.harness import (
    CONNECTOR_NS,
    Cluster,
    Connector,
    device_deciders,
    eventually,
    external_service,
    namespace,
    pod,
    rule,
    write_config,
)
from tests.e2e.conftest import start_mock

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

GRACE = "3"
STRIPE = ("198.51.100.10", 443)


def test_a_terminating_pod_keeps_its_address_on_the_device_until_it_is_gone() -> None:
    with (
        start_mock("kube", "--nodes", "1", "--pod-grace-seconds", GRACE, "--bookmark-interval", "1") as (
            kube,
            _,
        ),
        start_mock("rest") as (soc, _),
        tempfile.TemporaryDirectory() as tmp,
    ):
        mocks = SimpleNamespace(kube=kube, soc=soc, bigip="", fgt="")
        cluster = Cluster(kube)
        connector = None
        try:
            cluster.install_crds()
            cluster.apply(
                namespace(CONNECTOR_NS, managed=False),
                namespace("shop"),
                pod("shop", "web-1", {"app": "web"}),
                external_service("shop", "stripe", ["198.51.100.0/24"], [{"port": "443"}]),
                rule(
                    "NamespaceEgressRule",
                    "to-stripe",
                    "shop",
                    action="Allow",
                    priority=100,
                    externalServices=["stripe"],
                ),
            )
            address = cluster.core.read_namespaced_pod("web-1", "shop").status.pod_ip
            assert address
            probe = Probe(address, *STRIPE)
            config = write_config(Path(tmp), mocks, devices=("soc",))  # type: ignore[arg-type]
            connector = Connector(config, "--mode=apply")

            def decision() -> str | None:
                return device_deciders(mocks, ("soc",))["soc"](probe)  # type: ignore[arg-type]

            eventually(lambda: decision() == "Allow", 60, what="the device allows the pod's traffic")
            cluster.core.delete_namespaced_pod("web-1", "shop")
            observed = 0
            while True:
                try:
                    terminating = cluster.core.read_namespaced_pod("web-1", "shop")
                except ApiException as exc:
                    assert exc.status == 404
                    break
                assert (
                    terminating.metadata is not None and terminating.metadata.deletion_timestamp is not None
                )
                assert decision() == "Allow", "a terminating pod still sends traffic"
                observed += 1
                time.sleep(0.2)
            assert observed >= 1  # the pod was seen terminating
            eventually(lambda: decision() is None, 60, what="the device forgets the deleted pod's address")
        finally:
            if connector is not None:
                connector.stop()
                connector.close()
            cluster.close()
