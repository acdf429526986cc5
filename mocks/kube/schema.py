"""Structural-schema handling of custom resources: the connector's implementation
(`connector.crds.schema`), which the mock API server shares so that offline validation (`review`)
and the mock refuse the same objects with the same messages."""

from connector.crds.schema import Cause, Schema, format_ok, prepare, render, validate

__all__ = ["Cause", "Schema", "format_ok", "prepare", "render", "validate"]
