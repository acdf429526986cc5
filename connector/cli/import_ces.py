"""`fusion-connector import-ces FILE...`: print F5 CES manifests as fusion-connector resources.

Reads every file (multi-document YAML, `List` documents included; `-` is stdin), converts with
`connector.ces.convert`, prints the resources as YAML documents on stdout (the assumptions made as a
comment at the top) and the warnings and skipped objects on stderr, each naming its source object.
Exit 2, printing no resources, when a file is unreadable or not YAML or an object cannot be converted.
"""

from __future__ import annotations

import re
import textwrap
from typing import Any

import click
import yaml

from connector.ces import DEFAULT_CES_NAMESPACE, DEFAULT_CONNECTOR_NAMESPACE, Conversion, convert
from connector.cli.common import EXIT_INVALID

_STDIN = "<stdin>"
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _namespace(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not _NAMESPACE.match(value):
        raise click.BadParameter(f"{value!r} is not a namespace name")
    return value


def _read(path: str) -> list[tuple[str, Any]]:
    """(origin, document) pairs of one file; raises OSError or yaml.YAMLError."""
    with click.open_file(path, encoding="utf-8") as stream:
        text = stream.read()
    name = _STDIN if path == "-" else path
    return [(f"{name}#{index}", document) for index, document in enumerate(yaml.safe_load_all(text))]


def _comment(text: str) -> str:
    return "\n".join(f"# {line}" for line in textwrap.wrap(text, width=100))


def _render(conversion: Conversion) -> str:
    parts = []
    if conversion.notes:
        header = "\n#\n".join(_comment(note) for note in conversion.notes)
        parts.append(f"# Converted from F5 CES by fusion-connector import-ces.\n#\n{header}\n")
    if conversion.resources:
        parts.append(yaml.safe_dump_all(conversion.resources, sort_keys=False, default_flow_style=False,
                                        allow_unicode=True, explicit_start=True))
    return "".join(parts)


@click.command("import-ces")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--connector-namespace", default=DEFAULT_CONNECTOR_NAMESPACE, show_default=True,
              callback=_namespace,
              help="the connector's namespace: ExternalServices of ClusterEgressRules are emitted there")
@click.option("--ces-namespace", default=DEFAULT_CES_NAMESPACE, show_default=True, callback=_namespace,
              help="the namespace the CES controller ran in, where it looked up the ExternalServices "
                   "of ClusterEgressRules")
def command(files: tuple[str, ...], connector_namespace: str, ces_namespace: str) -> None:
    """Print CES (kubeovn.io/v1alpha1) manifests converted to fusion-connector resources."""
    documents: list[tuple[str, Any]] = []
    failed = False
    for path in files:
        name = _STDIN if path == "-" else path
        try:
            documents.extend(_read(path))
        except OSError as exc:
            click.echo(f"error: {name}: cannot read: {exc.strerror or exc}", err=True)
            failed = True
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            detail = " ".join(str(exc).split())
            click.echo(f"error: {name}: not YAML: {detail}", err=True)
            failed = True
    if failed:
        raise SystemExit(EXIT_INVALID)

    conversion = convert(documents, connector_namespace=connector_namespace, ces_namespace=ces_namespace)
    for finding in conversion.skipped:
        click.echo(f"skipped: {finding}", err=True)
    for finding in conversion.warnings:
        click.echo(f"warning: {finding}", err=True)
    if not conversion.ok:
        for finding in conversion.errors:
            click.echo(f"error: {finding}", err=True)
        click.echo(f"error: {len(conversion.errors)} object(s) cannot be converted; nothing printed",
                   err=True)
        raise SystemExit(EXIT_INVALID)
    if not conversion.resources:
        click.echo("warning: no CES resources (kubeovn.io/v1alpha1) found in the input", err=True)
    for note in conversion.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(_render(conversion), nl=False)
