"""`fusion-connector snapshot`: write the cluster view `review` needs as one JSON file."""

from __future__ import annotations

import click

from connector.cli.common import EXIT_ERROR, config_option, fail, load
from connector.cli.passes import read_cluster
from connector.config import Secrets
from connector.review.snapshot import dump_snapshot, write_snapshot


@click.command("snapshot")
@config_option
@click.option("--output", "output_path", required=True, metavar="FILE", type=click.Path(dir_okay=False),
              help="the snapshot file to write (JSON)")
def command(config_path: str, output_path: str) -> None:
    """Read the cluster once and write what `review --snapshot` compiles (docs/review.md)."""
    config = load(config_path)
    view = read_cluster(config, Secrets())
    document = dump_snapshot(view, config.cluster)
    try:
        write_snapshot(output_path, document)
    except OSError as exc:
        fail(f"{output_path}: {exc.strerror or exc}", EXIT_ERROR)
    counts = ", ".join(f"{len(items)} {kind}" for kind, items in document["objects"].items() if items)
    click.echo(f"wrote {output_path}: {counts or 'no objects'}", err=True)
