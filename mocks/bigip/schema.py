"""Whole-declaration validation against the AS3 JSON schema, reported in AS3's own wording.

AS3 validates the ADC declaration (not the request wrapper) with AJV 6 (`jsonPointers`, first
error only) and renders that error with `util.formatAjvErr`: `"<dataPath>: <message>"`, the
message AJV 6's (`should be <= 65535`, `should have required property 'x'`, ...), an `enum`
followed by its allowed values, a `const` by its value, a `pattern` preceded by the data.
`SchemaValidator.first_error(declaration)` returns that line (None when valid): it validates
against `#/definitions/ADC` so paths are the declaration's, and descends into `oneOf`/`anyOf`
to the deepest failing branch, which is where AJV's first error points.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

_LIMITS = {"maximum": "should be <= {}", "minimum": "should be >= {}", "exclusiveMaximum": "should be < {}",
           "exclusiveMinimum": "should be > {}", "maxLength": "should NOT be longer than {} characters",
           "minLength": "should NOT be shorter than {} characters",
           "maxItems": "should NOT have more than {} items",
           "minItems": "should NOT have fewer than {} items",
           "maxProperties": "should NOT have more than {} properties",
           "minProperties": "should NOT have fewer than {} properties"}


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def ajv_message(error: ValidationError) -> str:
    """The message AJV 6 (as AS3's `formatAjvErr` prints it) gives for this jsonschema error."""
    keyword, value = error.validator, error.validator_value
    if keyword in _LIMITS:
        return _LIMITS[str(keyword)].format(value)
    if keyword == "type":
        return "should be " + (",".join(value) if isinstance(value, list) else str(value))
    if keyword == "required":
        missing = re.match(r"^'(.*)' is a required property$", error.message)
        return f"should have required property '{missing.group(1) if missing else error.message}'"
    if keyword == "additionalProperties":
        return "should NOT have additional properties"
    if keyword == "enum":
        return f"should be equal to one of the allowed values {_compact(value)}"
    if keyword == "const":
        return f"should be equal to constant {_compact(value)}"
    if keyword == "pattern":
        return f'data {_compact(error.instance)} should match pattern "{value}"'
    if keyword == "format":
        return f'should match format "{value}"'
    if keyword == "oneOf":
        return "should match exactly one schema in oneOf"
    if keyword == "anyOf":
        return "should match some schema in anyOf"
    if keyword == "uniqueItems":
        return "should NOT have duplicate items"
    if keyword == "not":
        path = [str(part) for part in error.relative_schema_path]
        return f"{path[-2]} is NOT valid" if len(path) > 1 else "should NOT be valid"
    return str(error.message)


def _deepest(error: ValidationError) -> ValidationError:
    while error.validator in ("oneOf", "anyOf") and error.context:
        error = max(error.context, key=lambda inner: len(inner.absolute_path))
    return error


def data_path(error: ValidationError) -> str:
    """AJV's JSON-pointer `dataPath` of the error (`/` for the declaration itself)."""
    return "/" + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in error.absolute_path)


class SchemaValidator:
    """The AS3 schema's `ADC` definition, ready to validate declarations (draft-07)."""

    def __init__(self, path: str) -> None:
        schema = json.loads(Path(path).read_text())
        root = {key: value for key, value in schema.items() if key not in ("oneOf", "title", "description")}
        root["$ref"] = "#/definitions/ADC"
        self._validator = Draft7Validator(root)

    def first_error(self, declaration: Any) -> str | None:
        """AS3's error line for the declaration, or None when it is valid."""
        error = next(iter(self._validator.iter_errors(declaration)), None)
        if error is None:
            return None
        error = _deepest(error)
        return f"{data_path(error)}: {ajv_message(error)}"
