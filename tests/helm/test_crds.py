"""Validate objects against the chart's CRDs the way the API server does, for tests.

The openAPIV3Schema is checked with `jsonschema`, adapted to Kubernetes: unknown fields are errors
(as with `kubectl --validate=strict`), `x-kubernetes-validations` (CEL) rules are evaluated by their
Python twins in `CEL_TWINS` (a rule without a twin is an error, so a new rule cannot go untested),
and defaults are applied like the API server does before validation. Errors name the field path in
the API server's notation (`spec.ports[0].port`).
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "helm" / "fusion-connector" / "crds"
GROUP = "fusion-connector.io"
API_VERSION = f"{GROUP}/v1alpha1"


def _port_ranges_ordered(value: str) -> bool:
    try:
        for item in value.split(","):
            if "-" in item:
                start, end = item.split("-")
                if int(start) > int(end):
                    return False
    except ValueError:
        return False  # CEL's int() fails on a malformed string: the API server reports the rule
    return True


def _unique_port_names(ports: list[dict[str, Any]]) -> bool:
    names = [port["name"] for port in ports if "name" in port]
    return len(names) == len(set(names))


_DOMAIN = re.compile(r"^(\*\.)?([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.)+"
                     r"[A-Za-z]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\.?$")


def _plain_ip(text: str) -> bool:
    """Kubernetes `isIP`: no zone, no IPv4-mapped IPv6 form (Python refuses leading zeros)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return "%" not in text and not (address.version == 6 and address.ipv4_mapped is not None)


def _address_ok(value: str) -> bool:
    """An IP address, a CIDR (`isCIDR`: decimal prefix without leading zero), a domain name or a
    `*.` wildcard before a domain of two or more labels."""
    address, slash, prefix = value.partition("/")
    if slash:
        return (_plain_ip(address) and prefix.isdigit() and prefix == str(int(prefix))
                and int(prefix) <= ipaddress.ip_address(address).max_prefixlen)
    return _plain_ip(value) or _DOMAIN.search(value) is not None


def _values_match_operator(requirement: dict[str, Any]) -> bool:
    if requirement["operator"] in ("In", "NotIn"):
        return bool(requirement.get("values"))
    return not requirement.get("values")


ADDRESS_RULE = (r"isIP(self) || isCIDR(self) || self.matches('^(\\*\\.)?([A-Za-z0-9]([-A-Za-z0-9]{0,61}"
                r"[A-Za-z0-9])?\\.)+[A-Za-z]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\\.?$')")

CEL_TWINS: dict[str, Callable[[Any], bool]] = {
    ADDRESS_RULE: _address_ok,
    "self.split(',').all(r, !r.contains('-') || int(r.split('-')[0]) <= int(r.split('-')[1]))":
        _port_ranges_ordered,
    "self.all(p, !has(p.name) || self.filter(q, has(q.name) && q.name == p.name).size() == 1)":
        _unique_port_names,
    "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0)"
    " : (!has(self.values) || size(self.values) == 0)": _values_match_operator,
}


@dataclass(frozen=True)
class Crd:
    kind: str
    plural: str
    namespaced: bool
    document: dict[str, Any]

    @property
    def schema(self) -> dict[str, Any]:
        version: dict[str, Any] = self.document["spec"]["versions"][0]
        return version["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def load_crds() -> dict[str, Crd]:
    """The chart's CRDs by kind."""
    crds: dict[str, Crd] = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        document = yaml.safe_load(path.read_text())
        spec = document["spec"]
        crds[spec["names"]["kind"]] = Crd(spec["names"]["kind"], spec["names"]["plural"],
                                          spec["scope"] == "Namespaced", document)
    return crds


def format_path(parts: list[Any] | tuple[Any, ...]) -> str:
    """`["spec", "ports", 0, "port"]` -> `spec.ports[0].port`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy where objects with declared properties refuse unknown fields; `metadata` is the API
    server's own (ObjectMeta) and is not described by the CRDs."""
    schema = copy.deepcopy(schema)

    def walk(node: dict[str, Any]) -> None:
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
        for child in node.get("properties", {}).values():
            walk(child)
        if isinstance(node.get("items"), dict):
            walk(node["items"])
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"])

    walk(schema)
    schema["properties"].setdefault("metadata", {"type": "object"})
    return schema


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """`value` with the schema's defaults filled in where fields are absent (as the API server does)."""
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
            if name in value:
                value[name] = apply_defaults(child, value[name])
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for name in value:
                value[name] = apply_defaults(extra, value[name])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], item) for item in value]
    return value


def failing_cel_rules(schema: dict[str, Any], value: Any,
                      path: list[Any]) -> list[tuple[str, str, Any, str]]:
    """(field path, rule, value at the path, message) for every CEL rule `value` breaks."""
    failing: list[tuple[str, str, Any, str]] = []
    for rule in schema.get("x-kubernetes-validations", []):
        twin = CEL_TWINS.get(rule["rule"])
        if twin is None:
            failing.append((format_path(path), rule["rule"], value, "CEL rule without a Python twin"))
        elif not twin(value):
            failing.append((format_path(path), rule["rule"], value, rule["message"]))
    if isinstance(value, dict):
        for name, child in schema.get("properties", {}).items():
            if name in value:
                failing.extend(failing_cel_rules(child, value[name], [*path, name]))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            failing.extend(failing_cel_rules(schema["items"], item, [*path, index]))
    return failing


def _cel_errors(schema: dict[str, Any], value: Any, path: list[Any]) -> list[str]:
    return [f"{where}: Invalid value: {message}" if message != "CEL rule without a Python twin"
            else f"{where}: {message}: {rule}"
            for where, rule, _, message in failing_cel_rules(schema, value, path)]


def _error_path(error: jsonschema.ValidationError) -> str:
    parts = list(error.absolute_path)
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return format_path([*parts, missing[0]]) + ": Required value"
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return format_path([*parts, unknown[0]]) + ": unknown field"
    if error.validator == "pattern":
        return f"{format_path(parts)}: Invalid value: {error.instance!r} does not match the pattern"
    return f"{format_path(parts)}: {error.message}"


def validate(crd: Crd, obj: dict[str, Any]) -> list[str]:
    """API-server-style errors (`field.path: reason`) for `obj`, after defaulting; [] when valid."""
    obj = apply_defaults(crd.schema, copy.deepcopy(obj))
    validator = jsonschema.Draft7Validator(_strict(crd.schema))
    schema_errors = sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path)))
    errors = [_error_path(error) for error in schema_errors]
    if not errors:
        errors = _cel_errors(crd.schema, obj, [])
    return errors


def structural_problems(schema: dict[str, Any], path: str = "openAPIV3Schema") -> list[str]:
    """Violations of the Kubernetes structural-schema rules (empty when the schema is structural)."""
    problems: list[str] = []
    if "type" not in schema:
        problems.append(f"{path}: no type")
    for forbidden in ("$ref", "allOf", "anyOf", "oneOf", "not", "additionalItems", "definitions"):
        if forbidden in schema:
            problems.append(f"{path}: {forbidden} is not used in these CRDs")
    if "properties" in schema and "additionalProperties" in schema:
        problems.append(f"{path}: properties and additionalProperties are mutually exclusive")
    if schema.get("type") == "array":
        if not isinstance(schema.get("items"), dict):
            problems.append(f"{path}: an array needs a single items schema")
        list_type = schema.get("x-kubernetes-list-type")
        items = schema.get("items", {})
        if list_type == "set" and items.get("type") in ("object", "array"):
            problems.append(f"{path}: a set must hold scalars")
        if list_type == "map":
            for key in schema.get("x-kubernetes-list-map-keys", []):
                if key not in items.get("required", []) and "default" not in items["properties"][key]:
                    problems.append(f"{path}: map key {key} must be required or defaulted")
    if "default" in schema:
        try:
            jsonschema.Draft7Validator(schema).validate(schema["default"])
        except jsonschema.ValidationError as exc:
            problems.append(f"{path}: default does not validate: {exc.message}")
    for name, child in schema.get("properties", {}).items():
        problems.extend(structural_problems(child, f"{path}.properties.{name}"))
    if isinstance(schema.get("items"), dict):
        problems.extend(structural_problems(schema["items"], f"{path}.items"))
    if isinstance(schema.get("additionalProperties"), dict):
        problems.extend(structural_problems(schema["additionalProperties"], f"{path}.additionalProperties"))
    return problems


# ---------------------------------------------------------------------------------------------
# Tests

CRDS = load_crds()
RULE_KINDS = ("ClusterEgressRule", "NamespaceEgressRule", "ServiceEgressRule")
CES_SHORT_NAMES = {"exsvc", "cgr", "nsgr", "svcgr"}
EXAMPLES_DIR = REPO / "docs" / "examples"
RESOURCES_MD = REPO / "docs" / "resources.md"


def example_documents() -> list[tuple[str, dict[str, Any]]]:
    """(origin, object) for every fusion-connector object in docs/examples/ and docs/resources.md."""
    found: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc is not None:
                found.append((f"{path.name}#{index}", doc))
    if RESOURCES_MD.exists():
        blocks = re.findall(r"^```yaml\n(.*?)^```", RESOURCES_MD.read_text(), re.S | re.M)
        for number, block in enumerate(blocks):
            for index, doc in enumerate(yaml.safe_load_all(block)):
                if doc is not None:
                    found.append((f"resources.md block {number}#{index}", doc))
    return [(origin, doc) for origin, doc in found if doc.get("apiVersion") == API_VERSION]


EXAMPLES = example_documents()


def test_the_four_kinds_are_defined_in_the_api_group() -> None:
    assert set(CRDS) == {"ExternalService", *RULE_KINDS}
    for crd in CRDS.values():
        doc = crd.document
        assert doc["apiVersion"] == "apiextensions.k8s.io/v1"
        assert doc["metadata"]["name"] == f"{crd.plural}.{GROUP}"
        assert doc["spec"]["group"] == GROUP
        assert [v["name"] for v in doc["spec"]["versions"]] == ["v1alpha1"]
        version = doc["spec"]["versions"][0]
        assert version["served"] and version["storage"]
        assert version["subresources"] == {"status": {}}
        assert doc["spec"]["names"]["categories"] == ["fusion-connector"]
    assert not CRDS["ClusterEgressRule"].namespaced
    assert all(CRDS[kind].namespaced for kind in ("ExternalService", "NamespaceEgressRule",
                                                  "ServiceEgressRule"))


def test_short_names_are_unique_and_do_not_clash_with_ces() -> None:
    short = [name for crd in CRDS.values() for name in crd.document["spec"]["names"]["shortNames"]]
    assert len(short) == len(set(short)) == 4
    assert not set(short) & CES_SHORT_NAMES


def _schema_at(schema: dict[str, Any], json_path: str) -> dict[str, Any]:
    node = schema
    for part in re.sub(r"\[\?\(.*?\)\]", "", json_path).strip(".").split("."):
        node = node["items"] if node.get("type") == "array" else node
        node = node["properties"][part] if part != "metadata" else {"type": "object"}
        if part == "metadata":
            return node
    return node


@pytest.mark.parametrize("kind", RULE_KINDS)
def test_rule_printer_columns(kind: str) -> None:
    crd = CRDS[kind]
    columns = crd.document["spec"]["versions"][0]["additionalPrinterColumns"]
    default_view = [(c["name"], c["jsonPath"]) for c in columns if not c.get("priority")]
    assert default_view == [
        ("Action", ".spec.action"),
        ("Priority", ".spec.priority"),
        ("Programmed", '.status.conditions[?(@.type=="Programmed")].status'),
        ("Age", ".metadata.creationTimestamp"),
    ]
    for column in columns:
        assert "type" in _schema_at(crd.schema, column["jsonPath"]), column


def test_external_service_printer_columns() -> None:
    columns = CRDS["ExternalService"].document["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns if not c.get("priority")] == ["Addresses", "Age"]


@pytest.mark.parametrize("kind", sorted(CRDS))
def test_schema_is_structural(kind: str) -> None:
    assert structural_problems(CRDS[kind].schema) == []


def _walk_rules(schema: dict[str, Any]) -> list[str]:
    rules = [rule["rule"] for rule in schema.get("x-kubernetes-validations", [])]
    for child in schema.get("properties", {}).values():
        rules.extend(_walk_rules(child))
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            rules.extend(_walk_rules(schema[key]))
    return rules


def test_every_cel_rule_has_a_python_twin_and_every_twin_is_used() -> None:
    used = {rule for crd in CRDS.values() for rule in _walk_rules(crd.schema)}
    assert used == set(CEL_TWINS)


def test_status_schema_of_rules() -> None:
    for kind in RULE_KINDS:
        status = CRDS[kind].schema["properties"]["status"]["properties"]
        assert set(status) == {"observedGeneration", "conditions", "devices", "sources", "audit"}
        assert set(status["audit"]["required"]) == {"matched", "wouldChange", "since"}
        assert set(status["devices"]["items"]["properties"]) == {"name", "programmed", "message",
                                                                 "lastSyncTime"}
        condition = status["conditions"]["items"]
        assert set(condition["required"]) == {"type", "status", "lastTransitionTime", "reason", "message"}
        assert status["conditions"]["x-kubernetes-list-map-keys"] == ["type"]


def obj(kind: str, spec: dict[str, Any], name: str = "r1",
        namespace: str | None = "payments") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if CRDS[kind].namespaced and namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def test_defaults_are_applied() -> None:
    rule = apply_defaults(CRDS["ClusterEgressRule"].schema, obj("ClusterEgressRule", {"action": "Deny"}))
    assert rule["spec"] == {"action": "Deny", "tier": "Admin", "priority": 500, "logging": False,
                            "mode": "Enforce"}
    for kind in ("NamespaceEgressRule", "ServiceEgressRule"):
        rule = apply_defaults(CRDS[kind].schema, obj(kind, {"action": "Allow", "service": "api"}))
        assert rule["spec"]["priority"] == 500 and rule["spec"]["logging"] is False
        assert rule["spec"]["mode"] == "Enforce"
        assert "tier" not in rule["spec"]
    service = apply_defaults(CRDS["ExternalService"].schema,
                             obj("ExternalService", {"addresses": ["192.0.2.1"], "ports": [{"port": "53"}]}))
    assert service["spec"]["ports"] == [{"port": "53", "protocol": "TCP"}]


def test_examples_exist_for_every_kind() -> None:
    kinds = {doc["kind"] for _, doc in EXAMPLES}
    assert kinds == set(CRDS)


@pytest.mark.parametrize(("origin", "example"), EXAMPLES, ids=[origin for origin, _ in EXAMPLES])
def test_example_is_valid(origin: str, example: dict[str, Any]) -> None:
    crd = CRDS[example["kind"]]
    assert validate(crd, example) == []
    assert ("namespace" in example["metadata"]) == crd.namespaced


ES = {"addresses": ["api.stripe.com", "198.51.100.0/24", "2001:db8::1"],
      "ports": [{"name": "https", "protocol": "TCP", "port": "443"}, {"port": "8000-8080,9443"}]}
CER = {"tier": "Admin", "priority": 100, "action": "Deny",
       "namespaceSelector": {"matchLabels": {"env": "prod"}}, "externalServices": ["tor-exits"],
       "logging": True, "devices": ["bigip-dc1"]}
NER = {"priority": 200, "action": "Allow", "externalServices": ["stripe"],
       "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["checkout"]}]}}
SER = {"priority": 200, "action": "Allow", "externalServices": ["stripe"], "service": "checkout"}
VALID = {"ExternalService": ES, "ClusterEgressRule": CER, "NamespaceEgressRule": NER,
         "ServiceEgressRule": SER}


@pytest.mark.parametrize("kind", sorted(VALID))
def test_the_design_examples_are_valid(kind: str) -> None:
    assert validate(CRDS[kind], obj(kind, VALID[kind])) == []


def _with(spec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`spec` with the dotted `path` set to `value` (a value of `...` deletes it)."""
    spec = copy.deepcopy(spec)
    node: Any = spec
    parts = [int(p) if p.isdigit() else p for p in path.split(".")]
    for part in parts[:-1]:
        node = node[part]
    if value is ...:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return spec


INVALID: list[tuple[str, str, Any, str]] = [
    ("ClusterEgressRule", "priority", 1001, "spec.priority"),
    ("ClusterEgressRule", "priority", -1, "spec.priority"),
    ("ClusterEgressRule", "action", "Maybe", "spec.action"),
    ("ClusterEgressRule", "action", ..., "spec.action: Required value"),
    ("ClusterEgressRule", "tier", "Namespace", "spec.tier"),
    ("ClusterEgressRule", "logging", "yes", "spec.logging"),
    ("ClusterEgressRule", "mode", "DryRun", "spec.mode"),
    ("NamespaceEgressRule", "mode", "audit", "spec.mode"),
    ("ServiceEgressRule", "mode", True, "spec.mode"),
    ("ClusterEgressRule", "externalServices", [], "spec.externalServices"),
    ("ClusterEgressRule", "externalServices", ["Tor_Exits"], "spec.externalServices[0]"),
    ("ClusterEgressRule", "devices", ["BIG IP"], "spec.devices[0]"),
    ("ClusterEgressRule", "podSelector", {}, "spec.podSelector: unknown field"),
    ("ClusterEgressRule", "namespaceSelector.matchExpressions",
     [{"key": "env", "operator": "Near", "values": ["x"]}],
     "spec.namespaceSelector.matchExpressions[0].operator"),
    ("ClusterEgressRule", "namespaceSelector.matchExpressions",
     [{"key": "env", "operator": "In"}], "spec.namespaceSelector.matchExpressions[0]: Invalid value"),
    ("ClusterEgressRule", "namespaceSelector.matchExpressions",
     [{"key": "env", "operator": "Exists", "values": ["a"]}],
     "spec.namespaceSelector.matchExpressions[0]: Invalid value"),
    ("NamespaceEgressRule", "tier", "Admin", "spec.tier: unknown field"),
    ("NamespaceEgressRule", "namespaceSelector", {}, "spec.namespaceSelector: unknown field"),
    ("NamespaceEgressRule", "priority", 1000.5, "spec.priority"),
    ("ServiceEgressRule", "service", ..., "spec.service: Required value"),
    ("ServiceEgressRule", "service", "Checkout", "spec.service"),
    ("ServiceEgressRule", "colour", "red", "spec.colour: unknown field"),
    ("ServiceEgressRule", "podSelector", {}, "spec.podSelector: unknown field"),
    ("ExternalService", "addresses", [], "spec.addresses"),
    ("ExternalService", "addresses", ["999.1.1.1"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["10.0.0.0/33"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["2001:db8::1::2"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["2001:db8::/129"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["*.com"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["*"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["api.*.example.com"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["::ffff:192.0.2.1"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["fe80::1%eth0"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["http://example.com"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["localhost"], "spec.addresses[0]"),
    ("ExternalService", "addresses", ["192.0.2.1"] * 1001, "spec.addresses"),
    ("ExternalService", "addresses", ..., "spec.addresses: Required value"),
    ("ExternalService", "ports.0.port", "70000", "spec.ports[0].port"),
    ("ExternalService", "ports.0.port", "0", "spec.ports[0].port"),
    ("ExternalService", "ports.0.port", "80-20", "spec.ports[0].port: Invalid value"),
    ("ExternalService", "ports.0.port", "443, 80", "spec.ports[0].port"),
    ("ExternalService", "ports.0.port", 443, "spec.ports[0].port"),
    ("ExternalService", "ports.0.protocol", "ICMP", "spec.ports[0].protocol"),
    ("ExternalService", "ports.0.protocol", "tcp", "spec.ports[0].protocol"),
    ("ExternalService", "ports.0.bandwidth", "bwc-1mbps-irule", "spec.ports[0].bandwidth: unknown field"),
    ("ExternalService", "ports.1.name", "https", "spec.ports: Invalid value: port names must be unique"),
]


@pytest.mark.parametrize(("kind", "path", "value", "expected"), INVALID,
                         ids=[f"{k}-{p}-{v!r:.20}" for k, p, v, _ in INVALID])
def test_invalid_resource_is_rejected_naming_the_field(kind: str, path: str, value: Any,
                                                       expected: str) -> None:
    errors = validate(CRDS[kind], obj(kind, _with(VALID[kind], path, value)))
    assert any(error.startswith(expected) for error in errors), errors


def test_missing_spec_is_rejected() -> None:
    rule = obj("NamespaceEgressRule", {})
    del rule["spec"]
    assert validate(CRDS["NamespaceEgressRule"], rule) == ["spec: Required value"]


ADDRESS_ITEMS = CRDS["ExternalService"].schema["properties"]["spec"]["properties"]["addresses"]["items"]


def test_the_address_rule_is_the_one_with_a_twin() -> None:
    assert [r["rule"] for r in ADDRESS_ITEMS["x-kubernetes-validations"]] == [ADDRESS_RULE]
    assert "pattern" not in ADDRESS_ITEMS  # the refusal is the rule's short message


class _AddressPattern:
    """The address rule as evaluated by the connector's CEL (the API server mock's)."""

    @staticmethod
    def search(text: str) -> bool:
        from connector.crds import cel

        outcome = cel.evaluate(ADDRESS_RULE, text)
        assert outcome is not None and outcome == _address_ok(text), text
        return outcome


ADDRESS_PATTERN = _AddressPattern()
PORT_PATTERN = re.compile(
    CRDS["ExternalService"].schema["properties"]["spec"]["properties"]["ports"]["items"]["properties"]["port"]
    ["pattern"])


def _v6_with_v4_tail(n: int) -> str:
    """An IPv6 address written with an embedded IPv4 tail, compressed where possible."""
    address = ipaddress.IPv6Address(n)
    groups = address.exploded.split(":")[:6]
    tail = str(ipaddress.IPv4Address(n & 0xFFFFFFFF))
    head = ":".join(g.lstrip("0") or "0" for g in groups)
    text = f"{head}:{tail}"
    zeros = re.search(r"(^|:)0(:0)+(:|$)", head + ":")
    if zeros:
        text = head[:zeros.start()] + "::" + (head + ":")[zeros.end():] + tail
    return text


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 32))
def test_address_pattern_accepts_every_ipv4_address_and_cidr(n: int, prefix: int) -> None:
    address = str(ipaddress.IPv4Address(n))
    assert ADDRESS_PATTERN.search(address)
    assert ADDRESS_PATTERN.search(f"{address}/{prefix}")


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**128 - 1) | st.sampled_from([0, 1, 2**128 - 1, 2**64, 0xFFFF00000000]),
       st.integers(0, 128))
def test_address_pattern_accepts_every_ipv6_address_form(n: int, prefix: int) -> None:
    address = ipaddress.IPv6Address(n)
    if address.ipv4_mapped is not None:  # isIP refuses the IPv4-mapped form: the firewall sees IPv4
        assert not ADDRESS_PATTERN.search(str(address))
        return
    for text in (address.compressed, address.exploded, _v6_with_v4_tail(n)):
        ipaddress.IPv6Address(text)  # the test's own spelling is a valid address
        assert ADDRESS_PATTERN.search(text), text
        assert ADDRESS_PATTERN.search(f"{text}/{prefix}"), text


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789abcdef:./", min_size=1, max_size=45))
def test_address_pattern_accepts_ip_like_text_only_when_it_is_an_address(text: str) -> None:
    if not ADDRESS_PATTERN.search(text):
        return
    address, _, prefix = text.partition("/")
    if ":" not in address and re.fullmatch(r"[0-9.]+", address) is None:
        return  # an FQDN such as "a.b"
    ip = ipaddress.ip_address(address)
    if prefix:
        assert int(prefix) <= ip.max_prefixlen and str(int(prefix)) == prefix


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 70000), st.integers(0, 70000))
def test_port_pattern_accepts_exactly_1_to_65535(a: int, b: int) -> None:
    valid = 1 <= a <= 65535 and 1 <= b <= 65535
    assert bool(PORT_PATTERN.search(f"{a}")) == (1 <= a <= 65535)
    assert bool(PORT_PATTERN.search(f"{a}-{b},{b}")) == valid
    assert not PORT_PATTERN.search(f"0{a}")


@pytest.mark.parametrize("name", ["api.stripe.com", "pool.ntp.org.", "xn--bcher-kva.example", "a-1.b2.io",
                                  "*.example.com", "*.api.example.co.uk"])
def test_address_pattern_accepts_fqdns(name: str) -> None:
    assert ADDRESS_PATTERN.search(name)


@pytest.mark.parametrize("name", ["*", "*.com", "**.example.com", "a*.example.com", "api.*.example.com",
                                  "*example.com", "example.*", "localhost", "http://example.com"])
def test_address_pattern_refuses_other_wildcards_and_names(name: str) -> None:
    assert not ADDRESS_PATTERN.search(name)


# ---------------------------------------------------------------------------------------------
# The same CRDs installed into the mock API server with the real Kubernetes client.

@dataclass
class Cluster:
    extensions: Any
    custom: Any
    url: str


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    from kubernetes import client

    from mocks.common.http import HttpServer
    from mocks.kube import KubeApp

    server = HttpServer(KubeApp()).start()
    try:
        configuration = client.Configuration()
        configuration.host = server.url
        api = client.ApiClient(configuration)
        extensions = client.ApiextensionsV1Api(api)
        for crd in CRDS.values():
            extensions.create_custom_resource_definition(crd.document)
        core = client.CoreV1Api(api)
        namespaces = {"payments", "fusion-system"} | {
            doc["metadata"]["namespace"] for _, doc in EXAMPLES if "namespace" in doc["metadata"]}
        for namespace in sorted(namespaces):
            core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        yield Cluster(extensions, client.CustomObjectsApi(api), server.url)
    finally:
        server.stop()


def _create(cluster: Cluster, resource: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(HTTP status, body) of creating `resource` through CustomObjectsApi."""
    from kubernetes.client import ApiException

    crd = CRDS[resource["kind"]]
    group, version = resource["apiVersion"].split("/")
    try:
        if crd.namespaced:
            body = cluster.custom.create_namespaced_custom_object(
                group, version, resource["metadata"]["namespace"], crd.plural, resource)
        else:
            body = cluster.custom.create_cluster_custom_object(group, version, crd.plural, resource)
    except ApiException as exc:
        return exc.status, json.loads(exc.body)
    return 201, body


def test_crds_are_registered_and_served(cluster: Cluster) -> None:
    served = {item.metadata.name for item in cluster.extensions.list_custom_resource_definition().items}
    assert served >= {f"{crd.plural}.{GROUP}" for crd in CRDS.values()}
    assert cluster.custom.list_cluster_custom_object(GROUP, "v1alpha1", "clusteregressrules")["items"] == []


@pytest.mark.parametrize(("origin", "example"), EXAMPLES, ids=[origin for origin, _ in EXAMPLES])
def test_example_is_created_by_the_api_server(cluster: Cluster, origin: str, example: dict[str, Any]) -> None:
    resource = copy.deepcopy(example)  # the same example may appear in several places: a unique name
    resource["metadata"]["name"] += f"-{[o for o, _ in EXAMPLES].index(origin)}"
    status, body = _create(cluster, resource)
    assert status == 201, body
    assert body["spec"] == apply_defaults(CRDS[example["kind"]].schema, copy.deepcopy(example))["spec"]
    assert not body.get("status")  # with the status subresource, create ignores the status
    if "status" in example:
        crd = CRDS[example["kind"]]
        group, version = example["apiVersion"].split("/")
        body["status"] = example["status"]
        if crd.namespaced:
            updated = cluster.custom.replace_namespaced_custom_object_status(
                group, version, body["metadata"]["namespace"], crd.plural, body["metadata"]["name"], body)
        else:
            updated = cluster.custom.replace_cluster_custom_object_status(
                group, version, crd.plural, body["metadata"]["name"], body)
        assert updated["status"] == example["status"]


def test_api_server_applies_defaults(cluster: Cluster) -> None:
    status, body = _create(cluster, obj("ClusterEgressRule", {"action": "Deny"}, name="defaults"))
    assert status == 201
    assert body["spec"] == {"action": "Deny", "tier": "Admin", "priority": 500, "logging": False,
                            "mode": "Enforce"}
    status, body = _create(cluster, obj("ServiceEgressRule", {"action": "Allow", "service": "api"},
                                        name="defaults"))
    assert status == 201
    assert body["spec"] == {"action": "Allow", "service": "api", "priority": 500, "logging": False,
                            "mode": "Enforce"}
    status, body = _create(cluster, obj("ExternalService", {"addresses": ["192.0.2.1"],
                                                            "ports": [{"port": "53"}]}, name="defaults"))
    assert status == 201
    assert body["spec"]["ports"] == [{"port": "53", "protocol": "TCP"}]


def test_api_server_refuses_an_invalid_status(cluster: Cluster) -> None:
    from kubernetes.client import ApiException

    status, body = _create(cluster, obj("NamespaceEgressRule", {"action": "Deny"}, name="bad-status"))
    assert status == 201
    body["status"] = {"sources": -1, "conditions": [
        {"type": "Accepted", "status": "Maybe", "reason": "Accepted", "message": "",
         "lastTransitionTime": "2026-01-12T09:30:00Z"}]}
    with pytest.raises(ApiException) as refused:
        cluster.custom.replace_namespaced_custom_object_status(
            GROUP, "v1alpha1", "payments", "namespaceegressrules", "bad-status", body)
    assert refused.value.status == 422
    fields = {cause["field"] for cause in json.loads(refused.value.body)["details"]["causes"]}
    assert fields == {"status.sources", "status.conditions[0].status"}


def _mock_evaluates(rule: str, value: Any) -> bool:
    from mocks.kube import cel

    return cel.evaluate(rule, value) is not None


_MOCK_ROWS = [row for row in INVALID if "unknown field" not in row[3]]
_UNKNOWN_FIELD_ROWS = [row for row in INVALID if "unknown field" in row[3]]


@pytest.mark.parametrize(("kind", "path", "value", "expected"), _MOCK_ROWS,
                         ids=[f"{k}-{p}-{v!r:.20}" for k, p, v, _ in _MOCK_ROWS])
def test_api_server_refuses_invalid_resource_naming_the_field(cluster: Cluster, kind: str, path: str,
                                                              value: Any, expected: str) -> None:
    resource = obj(kind, _with(VALID[kind], path, value), name="invalid")
    crd = CRDS[kind]
    defaulted = apply_defaults(crd.schema, copy.deepcopy(resource))
    schema_only = not list(jsonschema.Draft7Validator(_strict(crd.schema)).iter_errors(defaulted))
    cel_failures = failing_cel_rules(crd.schema, defaulted, []) if schema_only else []
    for _, rule, at, _ in cel_failures:
        assert _mock_evaluates(rule, at), f"the mock API server cannot evaluate CEL rule {rule!r}"
    status, body = _create(cluster, resource)
    assert status == 422, body
    field = expected.split(":")[0]
    causes = body["details"]["causes"]
    assert any(cause["field"] == field for cause in causes), causes
    assert body["reason"] == "Invalid" and body["details"]["kind"] == kind


@pytest.mark.parametrize(("kind", "path", "value", "expected"), _UNKNOWN_FIELD_ROWS,
                         ids=[f"{k}-{p}" for k, p, _, _ in _UNKNOWN_FIELD_ROWS])
def test_api_server_prunes_unknown_fields(cluster: Cluster, kind: str, path: str, value: Any,
                                          expected: str) -> None:
    # Without ?fieldValidation=Strict the API server drops unknown fields instead of refusing them.
    resource = obj(kind, _with(VALID[kind], path, value), name=f"pruned-{path.replace('.', '-').lower()}")
    status, body = _create(cluster, resource)
    assert status == 201, body
    node: Any = body["spec"]
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    assert parts[-1] not in node


NOT_AN_ADDRESS = ("is not an IP address, a CIDR, a domain name (api.example.com) or a wildcard domain"
                  " name (*.example.com)")
NOT_A_WILDCARD = ("is not a wildcard domain name: only a leading *. before a domain of two or more labels is"
                  " accepted (*.example.com)")
ADDRESS_REFUSALS = [
    (["*.com"], f'spec.addresses[0]: Invalid value: "string": "*.com" {NOT_A_WILDCARD}'),
    (["198.51.100.7", "api.*.example.com"],
     f'spec.addresses[1]: Invalid value: "string": "api.*.example.com" {NOT_A_WILDCARD}'),
    (["999.1.1.1"], f'spec.addresses[0]: Invalid value: "string": "999.1.1.1" {NOT_AN_ADDRESS}'),
    (["10.0.0.0/33", "http://example.com"],
     f'[spec.addresses[0]: Invalid value: "string": "10.0.0.0/33" {NOT_AN_ADDRESS}, '
     f'spec.addresses[1]: Invalid value: "string": "http://example.com" {NOT_AN_ADDRESS}]'),
    (["::ffff:192.0.2.1"],
     f'spec.addresses[0]: Invalid value: "string": "::ffff:192.0.2.1" {NOT_AN_ADDRESS}'),
]


@pytest.mark.parametrize(("addresses", "expected"), ADDRESS_REFUSALS,
                         ids=[str(a) for a, _ in ADDRESS_REFUSALS])
def test_api_server_refuses_a_bad_address_with_a_short_message(cluster: Cluster, addresses: list[str],
                                                               expected: str) -> None:
    status, body = _create(cluster, obj("ExternalService", {"addresses": addresses}, name="bad-address"))
    assert status == 422, body
    assert body["message"] == f'ExternalService.{GROUP} "bad-address" is invalid: {expected}'
    assert len(body["message"]) < 400  # what is accepted, not a 2,000-character expression


def test_api_server_accepts_wildcard_domain_names(cluster: Cluster) -> None:
    spec = {"addresses": ["*.example.com", "*.api.example.co.uk", "api.example.com", "2001:db8::/32"]}
    status, body = _create(cluster, obj("ExternalService", spec, name="wildcards"))
    assert status == 201, body
    assert body["spec"]["addresses"] == spec["addresses"]


# ---------------------------------------------------------------------------------------------
# The worked example of docs/resources.md decides as its tables say (compiled by the real compiler).

WORKED_PODS = {"a checkout pod": ("checkout-1", "10.244.1.10", {"app": "checkout"}),
               "a batch pod": ("batch-1", "10.244.1.20", {"tier": "batch"}),
               "any other pod": ("web-1", "10.244.1.30", {"app": "web"})}


def _table(text: str, header: str) -> list[list[str]]:
    lines = text[text.index(header):].splitlines()[2:]
    rows = []
    for line in lines:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def _worked_example() -> tuple[dict[int, tuple[str, str]], list[list[str]]]:
    text = RESOURCES_MD.read_text()
    rulebase = {}
    for row in _table(text, "| # | tier | rule |"):
        rule = row[2]
        if rule == "annotation rule":
            rulebase[int(row[0])] = ("Annotation", "annotation")
        elif rule == "namespace default action":
            rulebase[int(row[0])] = ("DefaultAction", "*")
        else:
            kind, name = rule.split()
            rulebase[int(row[0])] = (kind, name.strip("`"))
    return rulebase, _table(text, "| from | to | decided by | result |")


def _worked_cluster() -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    for name, ip, labels in WORKED_PODS.values():
        objects.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": name, "namespace": "payments", "labels": labels},
                        "spec": {"nodeName": "node1"},
                        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}})
    objects.append({"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "checkout", "namespace": "payments"},
                    "spec": {"selector": {"app": "checkout"}}})
    objects.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": "checkout-x1", "namespace": "payments",
                                 "labels": {"kubernetes.io/service-name": "checkout"}},
                    "addressType": "IPv4",
                    "endpoints": [{"addresses": ["10.244.1.10"], "conditions": {"ready": True}}]})
    return objects


def test_the_worked_example_decides_as_documented() -> None:
    from connector.cluster import StaticView
    from connector.compiler import CompileSettings, compile_cluster
    from connector.evaluate import Probe, decide
    from connector.model import Capabilities, Protocol

    settings = CompileSettings(cluster="prod-eu1", devices=(("bigip-dc1", Capabilities()),
                                                            ("fgt-edge", Capabilities())))
    result = compile_cluster(StaticView(_worked_cluster()), settings)
    rulebase, probes = _worked_example()
    assert len(probes) >= 6
    for source, target, decided_by, outcome in probes:
        host_port, protocol = target.strip("`").split("/")
        host, port = host_port.rsplit(":", 1)
        probe = Probe(WORKED_PODS[source][1], host, int(port), Protocol(protocol))
        expected = {device: number for number, device in re.findall(r"#(\d+)(?: on ([a-z0-9-]+))?",
                                                                     decided_by.split(" — ")[0])}
        for device, state in result.devices.items():
            number = int(expected.get(device) or expected[""])
            rule = decide(state, probe)
            assert rule is not None, (source, target, device)
            kind, name = rulebase[number]
            assert rule.origin.kind.value == kind, (source, target, device)
            assert name in ("*", rule.origin.name), (source, target, device)
            assert rule.action.value == outcome, (source, target, device)
