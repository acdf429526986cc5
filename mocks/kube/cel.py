"""The CEL subset of `x-kubernetes-validations`: the connector's implementation (`connector.crds.cel`),
shared with the mock API server."""

from connector.crds.cel import CelError, compile_rule, evaluate

__all__ = ["CelError", "compile_rule", "evaluate"]
