"""The fusion-connector CustomResourceDefinitions and their validation, as the API server does it.

- `definitions/`: the chart's CRD files (helm/fusion-connector/crds), shipped with the package.
- `schema`: structural pruning, defaulting and OpenAPI validation with the API server's messages.
- `cel`: the CEL subset of `x-kubernetes-validations`.
- `metadata`: names, label and annotation syntax and size (ObjectMeta validation).
- `validation`: `ManifestValidator` checks one manifest the way a create request would be checked.

This is the one implementation: the mock Kubernetes API server (`mocks.kube`) imports it.
"""
