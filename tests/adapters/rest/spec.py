"""Validation of documents against the component schemas of adapters/rest/openapi.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).parents[3] / "adapters" / "rest" / "openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
_REGISTRY = Registry().with_resource("urn:spec",
                                     Resource.from_contents(SPEC, default_specification=DRAFT202012))


def conforms(schema_name: str, document: Any) -> None:
    """Raise jsonschema.ValidationError unless `document` fits `#/components/schemas/<schema_name>`."""
    schema = {"$ref": f"urn:spec#/components/schemas/{schema_name}"}
    jsonschema.Draft202012Validator(schema, registry=_REGISTRY).validate(document)
