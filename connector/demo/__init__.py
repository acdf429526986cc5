"""`fusion-connector demo`: the mocks on loopback, an example cluster, one apply, and what each
device holds afterwards. The mocks come from their own distribution (`fusion-connector-mocks`,
mocks-dist/, installed by the `demo` extra); `fusion-connector demo` checks they are there.

- `scenario`: the example as package data (the chart's CRDs and docs/examples through links, plus
  `cluster.yaml` around them; `probes.yaml` the sample questions).
- `environment`: `DemoEnvironment`, the mock API server and devices with a private directory.
- `run`: `run_demo`, the apply, the check that every device is in sync, read-back and answers.
- `live`: the controller in process for `demo --serve`.
- `holdings`, `text`, `summary`: what the CLI prints, as lines.
"""
