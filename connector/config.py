"""The configuration file (docs/configuration.md), validated strictly.

Unknown keys and bad values are errors naming their path (`devices[0].auth.passwordEnv: ...`).
Secrets never appear in the file: it names environment variables, read by `Secrets`.

This module knows no device family: a device's own keys are its family's model (a `DeviceConfig`
subclass in `adapters/<family>/config.py`). `ConfigFile(models)` is the file format with those
families' devices (the `devices` list is discriminated by `type`); `connector.wiring` builds it
from the registered families and loads the file (`load_config`).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from connector.planner.types import SafetyThresholds

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class PathValueError(ValueError):
    """A value error about a key below the model that raised it: `loc` is that key's path
    relative to the model (`("flows", "senders", 0, "device")`), so the message names it."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        self.loc = loc
        super().__init__(message)


class ConfigError(ValueError):
    """The configuration is invalid; `problems` lists `path: message` lines."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"invalid configuration {source}:\n  " + "\n  ".join(problems))


def parse_duration(value: Any) -> float:
    """Seconds from `300s`, `500ms`, `5m`, `1h`, `7d` or a bare number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 300s, 500ms or 5m is required")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration such as 300s, 500ms or 5m")
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


Duration = Annotated[float, Field(ge=0)]


class Strict(BaseModel):
    """Base of every section: unknown keys are errors; values are frozen."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def env_name(value: str | None) -> str | None:
    """A validator for keys naming an environment variable (`tokenEnv`, `passwordEnv`, ...)."""
    if value is not None and not _ENV.match(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


class KubernetesConfig(Strict):
    host: str | None = None
    kubeconfig: str | None = None
    in_cluster: bool | None = Field(default=None, alias="inCluster")
    connector_namespace: str = Field(default="fusion-system", alias="connectorNamespace")
    token_env: str | None = Field(default=None, alias="tokenEnv")
    verify_tls: bool = Field(default=True, alias="verifyTls")
    ca_bundle: str | None = Field(default=None, alias="caBundle")

    _check_env = field_validator("token_env")(env_name)

    @model_validator(mode="after")
    def _one_source(self) -> KubernetesConfig:
        chosen = [k for k, v in (("host", self.host), ("kubeconfig", self.kubeconfig),
                                 ("inCluster", self.in_cluster)) if v]
        if len(chosen) > 1:
            raise ValueError(f"choose one of host, kubeconfig and inCluster (got {', '.join(chosen)})")
        return self


class NamespacesConfig(Strict):
    all: bool = False
    exclude: list[str] = Field(default_factory=lambda: ["kube-system", "kube-public", "kube-node-lease"])


class DefaultsConfig(Strict):
    action: Literal["Deny", "Allow", "None"] = "Deny"
    source_mode: Literal["pod", "egress-ip", "node"] = Field(default="pod", alias="sourceMode")


class ReconcileConfig(Strict):
    interval: Duration = 300.0
    debounce: Duration = 0.5

    @field_validator("interval", "debounce", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


_SAFETY = SafetyThresholds()


class SafetyConfig(Strict):
    max_delete_percent: float = Field(default=_SAFETY.max_delete_percent, ge=0, le=100,
                                      alias="maxDeletePercent")
    max_update_percent: float = Field(default=_SAFETY.max_update_percent, ge=0, le=100,
                                      alias="maxUpdatePercent")
    min_existing: int = Field(default=_SAFETY.min_existing, ge=0, alias="minExisting")

    @property
    def thresholds(self) -> SafetyThresholds:
        """The planner's thresholds (plain numbers)."""
        return SafetyThresholds(self.max_delete_percent, self.max_update_percent, self.min_existing)


class DeviceConfig(Strict):
    """The keys every device has; each family's model (`adapters/<family>/config.py`) extends it
    with `type: Literal["<family>"]` and its own keys (auth, capacity, ...)."""

    name: str
    type: str
    url: str
    verify_tls: bool = Field(default=True, alias="verifyTls")
    ca_bundle: str | None = Field(default=None, alias="caBundle")
    timeout: Duration = 30.0

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, '-' and '_' (at most 63)")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("timeout", mode="before")
    @classmethod
    def _timeout(cls, value: Any) -> float:
        return parse_duration(value)

    def secret_keys(self) -> list[tuple[str, str]]:
        """(environment variable, key under the device) for every secret this device names: each
        key of its `auth` section ending in `Env` that is set."""
        auth = getattr(self, "auth", None)
        if not isinstance(auth, BaseModel):
            return []
        found = []
        for name, field in type(auth).model_fields.items():
            key, value = field.alias or name, getattr(auth, name)
            if key.endswith("Env") and isinstance(value, str) and value:
                found.append((value, f"auth.{key}"))
        return found


def split_host_port(text: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:5514`) → (host, port); ValueError when malformed."""
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{text!r}: expected HOST:PORT")
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"{text!r}: expected HOST:PORT")
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{text!r}: write an IPv6 address in brackets, [::1]:PORT")
    return host, int(port)


class SyslogConfig(Strict):
    """Where traffic logs are received: UDP and TCP on one `HOST:PORT` (port 0: a free port); at
    most `maxConnections` TCP connections at a time, each closed after `idleTimeout` without data
    (`0`: never)."""

    listen: str
    idle_timeout: Duration = Field(default=300.0, alias="idleTimeout")
    max_connections: int = Field(default=256, ge=1, le=10_000, alias="maxConnections")

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        split_host_port(value)
        return value

    @field_validator("idle_timeout", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        seconds = parse_duration(value)
        if 0 < seconds < 1:
            raise ValueError("at least 1s (or 0: never close an idle connection)")
        return seconds

    @property
    def address(self) -> tuple[str, int]:
        return split_host_port(self.listen)


class SenderConfig(Strict):
    """A device that sends traffic logs: from these source addresses, in this format."""

    device: str
    addresses: list[str] = Field(min_length=1)
    format: Literal["fortios", "bigip-afm", "cef"]

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        out = []
        for index, text in enumerate(value):
            try:
                out.append(str(ipaddress.ip_address(str(text).strip())))
            except ValueError:
                raise PathValueError((index,), f"{text!r} is not an IP address") from None
        return out


class ForwardConfig(Strict):
    """The SIEM attributed records are forwarded to: `tcp://HOST:PORT`, JSON lines or CEF."""

    url: str
    format: Literal["json", "cef"] = "json"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith("tcp://"):
            raise ValueError(f"{value!r}: expected tcp://HOST:PORT")
        _, port = split_host_port(value[len("tcp://"):].rstrip("/"))
        if port == 0:
            raise ValueError(f"{value!r}: port 0 is not a destination")
        return value.rstrip("/")

    @property
    def address(self) -> tuple[str, int]:
        return split_host_port(self.url[len("tcp://"):])


class FlowsConfig(Strict):
    """Flow visibility: traffic logs received on `syslog` from `senders`, records pushed to
    `POST /v1/flows` with the bearer token in `tokenEnv`, kept for `retention`, attributed with
    `clockSkew` of tolerance, forwarded to `forward`."""

    syslog: SyslogConfig | None = None
    senders: list[SenderConfig] = Field(default_factory=list)
    retention: Duration = 7 * 86400.0
    clock_skew: Duration = Field(default=2.0, alias="clockSkew")
    token_env: str | None = Field(default=None, alias="tokenEnv")
    forward: ForwardConfig | None = None

    _check_env = field_validator("token_env")(env_name)

    @field_validator("retention", "clock_skew", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)

    @field_validator("retention")
    @classmethod
    def _retention(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("a retention such as 7d is required (more than 0)")
        return value

    @model_validator(mode="after")
    def _senders(self) -> FlowsConfig:
        if self.senders and self.syslog is None:
            raise PathValueError(("syslog",), "required when senders are listed")
        owner: dict[str, int] = {}
        for index, sender in enumerate(self.senders):
            for position, address in enumerate(sender.addresses):
                if address in owner and owner[address] != index:
                    raise PathValueError(("senders", index, "addresses", position),
                                         f"{address} is already listed by senders[{owner[address]}]")
                owner[address] = index
        return self


class Config(Strict):
    """The configuration as the core reads it. A file is read by a `ConfigFile` (see the module
    docstring), whose model extends this one with the families' device models."""

    cluster: str
    database: str = "sqlite:///fusion-connector.db"
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig)
    namespaces: NamespacesConfig = Field(default_factory=NamespacesConfig)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    reconcile: ReconcileConfig = Field(default_factory=ReconcileConfig)
    safety: SafetyConfig = Field(default_factory=SafetyConfig)
    devices: list[DeviceConfig] = Field(default_factory=list)
    flows: FlowsConfig | None = None

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, '-' and '_' (at most 63)")
        return value

    @field_validator("database")
    @classmethod
    def _database(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", value):
            raise ValueError(f"{value!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB")
        if re.match(r"^[^:]+://[^/@]*:[^/@]*@", value):
            raise ValueError("a password cannot be written in the file: give USER@HOST and set"
                             " PGPASSWORD in the environment")
        return value

    @model_validator(mode="after")
    def _unique_devices(self) -> Config:
        seen: set[str] = set()
        for device in self.devices:
            if device.name in seen:
                raise ValueError(f"device name {device.name!r} is used twice")
            seen.add(device.name)
        for index, sender in enumerate(self.flows.senders if self.flows else ()):
            if sender.device not in seen:
                raise PathValueError(("flows", "senders", index, "device"),
                                     f"{sender.device!r} is not a configured device")
        return self

    def device(self, name: str) -> DeviceConfig:
        for device in self.devices:
            if device.name == name:
                return device
        raise KeyError(name)



def device_type(model: type[DeviceConfig]) -> str:
    """The `type` a device family's model accepts (its `Literal`)."""
    values = get_args(model.model_fields["type"].annotation)
    if len(values) != 1 or not isinstance(values[0], str):
        raise TypeError(f"{model.__name__}.type must be a Literal of one string")
    return values[0]


def _format_location(loc: tuple[int | str, ...], tags: frozenset[str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in tags:
            continue  # the discriminator tag pydantic adds for tagged unions
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def format_validation_error(error: ValidationError, tags: frozenset[str] = frozenset()) -> list[str]:
    """`path: message` lines with the paths spelled as in the YAML file (`tags`: the device types,
    left out of the paths)."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        message = item["msg"]
        cause = (item.get("ctx") or {}).get("error")
        if isinstance(cause, PathValueError):
            loc, message = loc + cause.loc, str(cause)
        path = _format_location(loc, tags)
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        elif item["type"] == "missing":
            message = "required key is missing"
        problems.append(f"{path}: {message}")
    return problems


class ConfigFile:
    """The configuration file format whose `devices` are those of the given families' models
    (each a `DeviceConfig` subclass accepting one `type`), in the order given."""

    def __init__(self, devices: Sequence[type[DeviceConfig]]) -> None:
        self.devices = tuple(devices)
        self.tags = frozenset(device_type(model) for model in self.devices)
        if len(self.tags) != len(self.devices):
            raise ValueError("two device families accept the same type")
        entry: Any = Annotated[Union[self.devices], Field(discriminator="type")]  # noqa: UP007
        self.model: type[Config] = create_model(
            "Config", __base__=Config, devices=(list[entry], Field(default_factory=list)))

    def validate(self, data: Mapping[str, Any], source: str = "<config>") -> Config:
        """`data` (the file's mapping) validated; raises ConfigError. Only the documented
        (camelCase) keys are accepted."""
        try:
            return self.model.model_validate(data, by_name=False)
        except ValidationError as exc:
            raise ConfigError(source, format_validation_error(exc, self.tags)) from exc

    def parse(self, text: str, source: str = "<config>") -> Config:
        """Parse and validate configuration YAML; raises ConfigError."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(source, [f"not valid YAML: {exc}"]) from exc
        if not isinstance(data, dict):
            raise ConfigError(source, ["(top level): a mapping is required"])
        return self.validate(data, source)

    def read(self, path: str | Path) -> Config:
        """Read and validate the configuration file at `path`; raises ConfigError."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(str(path), [f"cannot read: {exc.strerror or exc}"]) from exc
        return self.parse(text, str(path))


class SecretError(ValueError):
    """A secret named by the configuration is not in the environment."""


class Secrets:
    """Reads secrets from environment variables named by the configuration; never logs values."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._environ = environ if environ is not None else dict(os.environ)

    def get(self, env_name: str, purpose: str) -> SecretStr:
        value = self._environ.get(env_name)
        if not value:
            raise SecretError(f"{purpose}: environment variable {env_name} is not set")
        return SecretStr(value)

    def optional(self, env_name: str | None, purpose: str) -> SecretStr | None:
        return self.get(env_name, purpose) if env_name else None

    def missing(self, variables: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The (variable, purpose) pairs of `variables` whose variable is unset or empty."""
        return [(name, purpose) for name, purpose in variables if not self._environ.get(name)]


def secret_variables(config: Config, devices: Iterable[DeviceConfig] | None = None) -> list[tuple[str, str]]:
    """(environment variable, the configuration key naming it) for every secret the configuration
    needs: `kubernetes.tokenEnv`, `flows.tokenEnv` and the `auth` variables of `devices`
    (default: all)."""
    wanted: list[tuple[str, str]] = []
    if config.kubernetes.token_env:
        wanted.append((config.kubernetes.token_env, "kubernetes.tokenEnv"))
    if config.flows is not None and config.flows.token_env:
        wanted.append((config.flows.token_env, "flows.tokenEnv"))
    chosen = {d.name for d in (config.devices if devices is None else devices)}
    for index, device in enumerate(config.devices):
        if device.name in chosen:
            wanted.extend((name, f"devices[{index}] ({device.name}) {key}")
                          for name, key in device.secret_keys())
    return wanted
