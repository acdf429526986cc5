"""Generic REST adapter: the project's own protocol, specified in `openapi.yaml` next to this file."""

from adapters.rest.adapter import RestAdapter

__all__ = ["RestAdapter"]
