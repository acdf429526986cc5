"""Content negotiation as the real API server does it for the media types the mock speaks.

Request bodies: JSON, YAML and, for the kinds `mocks.kube.protobuf` reads, Kubernetes protobuf
(what kubectl's typed clients send; PATCH bodies have their own media types, see `mocks.kube.patch`).
Anything else is 415 UnsupportedMediaType with the server's wording. Responses: the first entry of
`Accept` the mock can produce wins: JSON, YAML, a `meta.k8s.io` Table (`as=Table`) or
PartialObjectMetadata (`as=PartialObjectMetadata[List]`); an `Accept` naming none of them (protobuf
only) is 406 NotAcceptable.
"""

from __future__ import annotations

from dataclasses import dataclass

from mocks.kube.errors import ApiError

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
BODY_TYPES = (JSON, YAML)
SERVED_TYPES = (JSON, YAML)
TABLE_VERSIONS = ("v1", "v1beta1")


@dataclass(frozen=True)
class Output:
    """What a response carries: `media` (JSON or YAML) and `view` ("" for the object itself,
    "Table", "PartialObjectMetadata" or "PartialObjectMetadataList") in meta.k8s.io `version`."""

    media: str = JSON
    view: str = ""
    version: str = "v1"


def _params(clause: str) -> tuple[str, dict[str, str]]:
    media, *rest = [part.strip() for part in clause.split(";")]
    params: dict[str, str] = {}
    for item in rest:
        key, _, value = item.partition("=")
        params[key.strip().lower()] = value.strip().strip('"')
    return media.lower(), params


def body_media(content_type: str | None) -> str:
    """The media type of a POST/PUT body (JSON, YAML or protobuf); 415 for any other."""
    media = (content_type or JSON).split(";")[0].strip().lower()
    if media in ("", "*/*"):
        return JSON
    if media in BODY_TYPES or media in ("application/x-yaml", "text/yaml"):
        return JSON if media == JSON else YAML
    if media == PROTOBUF:
        return PROTOBUF
    raise unsupported()


def unsupported() -> ApiError:
    """415 for a body the mock cannot read."""
    return ApiError(
        415,
        "the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(BODY_TYPES),
        "UnsupportedMediaType",
    )


def output(accept: str | None, views: bool = True) -> Output:
    """The response format for an `Accept` header; `views` False for endpoints that have no
    Table or metadata-only form (a clause asking for one is then skipped, as the server does)."""
    if not accept:
        return Output()
    for clause in accept.split(","):
        if not clause.strip():
            continue
        media, params = _params(clause)
        if params.get("q") == "0":
            continue
        if media in ("*/*", "application/*"):
            return Output()
        if media not in SERVED_TYPES:
            continue
        view = params.get("as", "")
        if not view:
            return Output(media)
        if not views or params.get("g") != "meta.k8s.io" or params.get("v") not in TABLE_VERSIONS:
            continue
        if view in ("Table", "PartialObjectMetadata", "PartialObjectMetadataList"):
            return Output(media, view, params["v"])
    raise ApiError(
        406,
        "only the following media types are accepted: " + ", ".join(SERVED_TYPES),
        "NotAcceptable",
    )
