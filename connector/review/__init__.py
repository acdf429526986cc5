"""`review` and `snapshot` (docs/review.md): what a change of rule manifests would do, offline.

- `snapshot`: the cluster view as one versioned JSON document (write, read, validate).
- `manifests`: manifest files read, validated as the API server would, turned into changes.
- `decisions`: which destinations and ports change decision, per source, through
  `connector.evaluate` (the one first-match evaluation).
- `capacity`: per device, rules and objects against the device's capacity.
- `flows`: the extension point for observed flows whose decision would change.
- `review`: `run_review` puts it together; `render`: text, markdown and JSON.

Pure apart from reading files; the CLI reads the cluster and prints.
"""
