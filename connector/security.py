"""Transport-security findings of a configuration: where TLS is weakened or credentials travel in clear.

Contract: `transport_warnings` is pure (no I/O, no logging); callers decide how to show the
findings (the CLI prints them on stderr, the controller logs and counts them, the report lists
them). A finding about the Kubernetes API has `device == ""`. The order is stable: the Kubernetes
API first, then the devices in configuration order, one finding per (device, reason).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connector.config import Config


class TransportReason(StrEnum):
    """Why a connection is weaker than the default."""

    TLS_VERIFY_DISABLED = "TLSVerifyDisabled"
    PLAINTEXT_CREDENTIALS = "PlaintextCredentials"
    KUBE_INSECURE_SKIP_VERIFY = "KubeInsecureSkipVerify"


@dataclass(frozen=True, slots=True)
class TransportWarning:
    """One weakening of transport security: `device` ("" for the Kubernetes API), a stable
    `reason` (a `TransportReason` value) and a one-line `message` for people."""

    device: str
    reason: str
    message: str

    def __str__(self) -> str:
        return self.message


def _is_plain_http(url: str | None) -> bool:
    return bool(url) and str(url).lower().startswith("http://")


def transport_warnings(config: Config, kube_insecure: bool) -> list[TransportWarning]:
    """Every weakening of transport security in `config`.

    `kube_insecure` is True when the kubeconfig in use sets `insecure-skip-tls-verify` (the
    caller reads the kubeconfig; this function does no I/O). Reported, per connection:
    `TLSVerifyDisabled` for `verifyTls: false`, `PlaintextCredentials` for an `http://` URL
    that carries a token, password or HMAC secret, and `KubeInsecureSkipVerify` for the
    kubeconfig flag. An `http://` URL without credentials is not reported (a lab receiver).
    """
    found: list[TransportWarning] = []
    kube = config.kubernetes
    if kube_insecure:
        found.append(TransportWarning(
            "", TransportReason.KUBE_INSECURE_SKIP_VERIFY.value,
            "Kubernetes API: the kubeconfig sets insecure-skip-tls-verify; the API server's"
            " certificate is not checked"))
    if not kube.verify_tls:
        found.append(TransportWarning(
            "", TransportReason.TLS_VERIFY_DISABLED.value,
            "Kubernetes API: kubernetes.verifyTls is false; the API server's certificate is"
            " not checked"))
    if _is_plain_http(kube.host) and kube.token_env:
        found.append(TransportWarning(
            "", TransportReason.PLAINTEXT_CREDENTIALS.value,
            f"Kubernetes API: host {kube.host} is plain http:// and the token from"
            f" {kube.token_env} is sent unencrypted"))
    for device in config.devices:
        url = getattr(device, "url", "")
        if _is_plain_http(url):
            envs = [variable for variable, _key in device.secret_keys()]
            if envs:
                found.append(TransportWarning(
                    device.name, TransportReason.PLAINTEXT_CREDENTIALS.value,
                    f"device {device.name}: {url} is plain http:// and the credentials from"
                    f" {', '.join(envs)} are sent unencrypted"))
        elif not getattr(device, "verify_tls", True):
            found.append(TransportWarning(
                device.name, TransportReason.TLS_VERIFY_DISABLED.value,
                f"device {device.name}: verifyTls is false; the device's certificate is not"
                " checked"))
    return found
