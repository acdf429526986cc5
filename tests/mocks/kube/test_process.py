"""`python -m mocks kube --port 0` as a real process, driven by the real client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from kubernetes import client

ROOT = Path(__file__).resolve().parents[3]


def test_subprocess_serves_the_api() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mocks",
            "kube",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-controllers",
            "--nodes",
            "2",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.removeprefix("listening on ")
        api_client = client.ApiClient(client.Configuration(host=url))
        core = client.CoreV1Api(api_client)
        core.create_namespace({"metadata": {"name": "proc"}})
        created = core.create_namespaced_pod(
            "proc", {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        )
        assert created.status.phase == "Pending"
        assert [p.metadata.name for p in core.list_namespaced_pod("proc").items] == ["p"]
        assert [n.metadata.name for n in core.list_node().items] == ["node-1", "node-2"]
        api_client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
