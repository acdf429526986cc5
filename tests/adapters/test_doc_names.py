"""The object names docs/adapters.md shows are real: a cluster `prod` compiled by the compiler and
rendered by each adapter produces every name the FortiGate, BIG-IP and REST sections give as an
example (patterns such as `fc_<cluster>_...` aside), and the cluster appears in a name once."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.f5 import AS3Adapter
from adapters.fortios.adapter import FortiOSAdapter
from adapters.fortios.render import PolicySettings
from adapters.fortios.renderer import render_state
from adapters.rest.objects import render as rest_render
from connector.cluster import StaticView
from connector.compiler import CompileResult, CompileSettings, compile_cluster
from connector.config import Secrets
from connector.model import Capabilities
from tests.adapters.f5.conftest import make_config
from tests.connector.compiler.builders import (
    cluster_rule,
    endpoint_slice,
    external_service,
    namespace,
    pod,
    service,
    service_rule,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "adapters.md"
MARK = "fusion-connector:prod"


def compiled() -> CompileResult:
    """payments: Service api (four pods in a row, the first dual-stack) may reach Stripe and the DB
    networks (one IPv6); a worker pod beside it; shop: two pods; cluster rules block Tor (Admin)
    and allow DNS (Baseline)."""
    api = [f"10.244.1.{i}" for i in (2, 3, 4, 5)]
    objects = [
        namespace("payments"), namespace("shop"), namespace("fusion-system", managed=False),
        *(pod("payments", f"api-{i}", [ip, "fd00::10"] if i == 0 else ip, labels={"app": "api"})
          for i, ip in enumerate(api)),
        pod("payments", "worker", "10.244.1.7"), pod("shop", "web-1", "10.244.2.7"),
        pod("shop", "web-2", "10.244.2.9"),
        service("payments", "api"), endpoint_slice("payments", "api", api),
        {**endpoint_slice("payments", "api", ["fd00::10"], name="api-v6"), "addressType": "IPv6"},
        external_service("payments", "stripe", ["api.stripe.com"], [{"port": "443"}]),
        external_service("payments", "db", ["10.20.30.0/24", *(f"10.20.{i}.0/24" for i in range(40, 48)),
                                            "2001:db8::/64"],
                         [{"port": "5432"}, {"port": "8000-8080"}]),
        service_rule("payments", "api-to-stripe", "Allow", "api", externalServices=["stripe"]),
        service_rule("payments", "api-to-db", "Allow", "api", externalServices=["db"]),
        external_service("fusion-system", "dns", ["10.96.0.10"], [{"port": "53", "protocol": "UDP"}]),
        external_service("fusion-system", "tor", ["185.220.100.0/22"]),
        cluster_rule("allow-dns", "Allow", tier="Baseline", externalServices=["dns"]),
        cluster_rule("block-tor", "Deny", tier="Admin", externalServices=["tor"]),
    ]
    devices = (("fgt", FortiOSAdapter.capabilities), ("bigip", Capabilities()), ("soc", Capabilities()))
    return compile_cluster(StaticView(objects), CompileSettings(cluster="prod", devices=devices))


def rendered() -> dict[str, set[str]]:
    """Every name each family gives the example (AS3: items and AFM rules)."""
    result = compiled()
    fortios = render_state(result.devices["fgt"], mark=MARK, settings=PolicySettings(("any",), ("any",)))
    bigip = AS3Adapter(make_config("https://bigip.example"), "prod",
                       Secrets({"BIGIP_PASSWORD": "x"})).render(result.devices["bigip"])
    rules = {rule["name"] for obj in bigip if obj.kind == "rule_list" for rule in obj.body["rules"]}
    rest = rest_render(result.devices["soc"], "prod", MARK)
    return {"fortios": {o.name for o in fortios}, "f5": {o.name for o in bigip} | rules,
            "rest": {o.name for o in rest}}


def section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def table(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.startswith("|"))


def examples(text: str, pattern: str) -> set[str]:
    """Names matching `pattern` inside the code spans of `text` that hold no `<placeholder>`."""
    prose = re.sub(r"```.*?```", "", text, flags=re.S)  # fenced blocks hold configuration, no names
    spans = [span for span in re.findall(r"`([^`]+)`", prose) if "<" not in span]
    return {name.rstrip(".") for span in spans for name in re.findall(pattern, span)}


def test_the_names_the_docs_show_are_the_names_the_adapters_make() -> None:
    text = DOC.read_text(encoding="utf-8")
    names = rendered()
    found = {
        "fortios": examples(section(text, "FortiGate (FortiOS) adapter"), r"fc_prod_[A-Za-z0-9_.:/@-]+"),
        "f5": examples(section(text, "F5 BIG-IP (AS3) adapter"),
                       r"(?<![\w/.-])(?:src|dst|ports|allow|deny)_[A-Za-z0-9_.-]*[A-Za-z0-9]"),
        "rest": examples(section(text, "The generic REST protocol"), r"fc\.prod\.[A-Za-z0-9._:/-]+"),
        "naming": examples(table(section(text, "Object names")),
                           r"(?:fc[_.]prod[_.]|(?<![\w/.-])(?:src|dst|allow)_)[A-Za-z0-9_.:/@-]+"),
    }
    assert len(found["fortios"]) >= 10 and len(found["f5"]) >= 4 and len(found["rest"]) >= 2
    assert len(found["naming"]) == 17
    everything = set().union(*names.values())
    missing = {family: sorted(shown - (everything if family == "naming" else names[family]))
               for family, shown in found.items()}
    assert missing == {family: [] for family in found}, f"real names: {sorted(everything)}"


def test_the_cluster_appears_once_in_every_name() -> None:
    for family, made in rendered().items():
        assert made and not [name for name in made if name.count("prod") > 1], family
