"""`fusion-connector recommend`: ExternalService and rule manifests allowing exactly the egress a
namespace or Service was observed using (docs/review.md).

Reads only the store's flow records (migrated first, as every command does); contacts neither the
cluster nor a device. Prints multi-document YAML on stdout and one summary line on stderr. Exit 0
(also when nothing can be recommended), 1 when the store cannot be read, 2 for invalid input (the
configuration, or a flag: named).
"""

from __future__ import annotations

import sys
from datetime import datetime

import click

from connector.cli.common import EXIT_ERROR, config_option, fail, load
from connector.cli.flow_store import read_flow_records
from connector.flows.output import parse_moment
from connector.flows.record import parse_rfc3339
from connector.recommend import Target, check, observe, recommend, to_yaml
from connector.recommend.manifests import count_text, when
from connector.store.bulk import utcnow
from connector.store.flow_records import FlowFilter


def _window(since: str, now: datetime) -> tuple[datetime, str]:
    try:
        start = parse_moment(since, now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--since'") from None
    if start >= now:
        raise click.BadParameter(f"{since!r} is not in the past", param_hint="'--since'")
    period = f"{when(start)} to {when(now)}"
    try:
        parse_rfc3339(since.strip())
    except ValueError:  # a duration
        return start, f"the last {since.strip()} ({period})"
    return start, period


def _target(namespace: str, service: str | None) -> Target:
    try:
        Target(namespace)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--namespace'") from None
    try:
        return Target(namespace, service)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--service'") from None


@click.command("recommend")
@config_option
@click.option("--namespace", required=True, metavar="NS", help="the namespace whose egress to allow")
@click.option("--service", default=None, metavar="NAME",
              help="only this Service's pods: a ServiceEgressRule (default: a NamespaceEgressRule)")
@click.option("--since", default="7d", show_default=True, metavar="DURATION|TIME",
              help="flows from this long ago (24h, 7d) or from this RFC 3339 time")
@click.option("--min-count", "min_count", default=1, show_default=True, type=click.IntRange(min=1),
              metavar="N", help="leave out destination ports observed fewer than N times")
@click.option("--allowed-only", is_flag=True,
              help="only flows allowed today (default: denied attempts too, unless an explicit Deny rule)")
def command(config_path: str, namespace: str, service: str | None, since: str, min_count: int,
            allowed_only: bool) -> None:
    """Print ExternalService and rule manifests (YAML) that allow exactly the egress observed
    from a namespace or Service, never wider."""
    now = utcnow()
    start, window = _window(since, now)
    target = _target(namespace, service)
    config = load(config_path)
    where = FlowFilter(since=start, until=now, namespace=namespace, service=service)
    records = read_flow_records(config, where)
    observed = observe(records, target, min_count=min_count, allowed_only=allowed_only)
    recommendation = recommend(observed, window=window)
    problems = check(recommendation.manifests)
    if problems:  # a bug: never print manifests the API server would refuse
        fail("a recommended manifest does not validate against the CRDs: " + "; ".join(problems), EXIT_ERROR)
    options = f"--min-count {min_count}" + (", --allowed-only" if allowed_only else "")
    sys.stdout.write(to_yaml(recommendation, config.cluster, options))
    left = sum(item.count for item in observed.left_out)
    if recommendation.manifests:
        rules = recommendation.rules
        click.echo(f"recommended {count_text(len(recommendation.external_services), 'ExternalService')} and "
                   f"{count_text(len(rules), rules[0].kind)} for {target.label}, from "
                   f"{count_text(observed.used_flows, 'flow')} to "
                   f"{count_text(len(observed.uses), 'destination port')}; "
                   f"{count_text(left, 'flow')} left out", err=True)
    else:
        click.echo(f"nothing to recommend: {count_text(observed.flows, 'flow')} of {target.label} observed "
                   f"since {when(start)}, {count_text(left, 'flow')} left out", err=True)
