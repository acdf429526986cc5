"""Weakened transport security, said once at start: a warning line each, the
`insecure_transport{device,reason}` gauge (device empty for the Kubernetes API), and the list in
/readyz and the report (`findings`)."""

from __future__ import annotations

import logging

from kubernetes import client as k8s_client

from connector.config import Config
from connector.controller.metrics import ControllerMetrics
from connector.security import TransportWarning, transport_warnings

log = logging.getLogger(__name__)


class TransportSecurity:
    """The transport-security findings of `config` and the Kubernetes client in use."""

    def __init__(self, config: Config, metrics: ControllerMetrics) -> None:
        self.config = config
        self.metrics = metrics
        self.findings: list[TransportWarning] = []

    def announce(self, api: k8s_client.ApiClient) -> None:
        """Find, log and count every weakening. The kubeconfig's `insecure-skip-tls-verify` is
        told apart from `kubernetes.verifyTls: false` by the client configuration it produced."""
        kube_insecure = not api.configuration.verify_ssl and self.config.kubernetes.verify_tls
        self.findings = transport_warnings(self.config, kube_insecure)
        for finding in self.findings:
            log.warning("insecure transport: %s", finding.message)
            self.metrics.insecure_transport.labels(finding.device, finding.reason).set(1)
