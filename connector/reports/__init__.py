"""Compliance reports (docs/report.md): per device sync status and drift with the Kubernetes
identity behind each difference, effective egress per namespace and Service, rules not programmed,
and the history of applied changes; as JSON, CSV or one self-contained HTML page.

    report = build_report(compiled, store, view=view, since=since)
    body = render(report, "html")          # bytes; CONTENT_TYPES[ReportFormat.HTML] for serving

`answer_report` serves `GET /report` (format, since, device; optional bearer token from the
environment variable FUSION_CONNECTOR_REPORT_TOKEN).
"""

from connector.reports.build import DEFAULT_WINDOW, build_report, parse_window, unprogrammed_rules
from connector.reports.egress import effective_egress
from connector.reports.model import SCHEMA_VERSION, Report
from connector.reports.render import CONTENT_TYPES, CSV_COLUMNS, ReportFormat, render
from connector.reports.serve import (
    REPORT_TOKEN_ENV,
    HttpAnswer,
    ReportProbe,
    answer_report,
    report_from_engine,
    serve_report,
)

__all__ = [
    "CONTENT_TYPES",
    "CSV_COLUMNS",
    "DEFAULT_WINDOW",
    "REPORT_TOKEN_ENV",
    "SCHEMA_VERSION",
    "HttpAnswer",
    "Report",
    "ReportFormat",
    "ReportProbe",
    "answer_report",
    "build_report",
    "effective_egress",
    "parse_window",
    "render",
    "report_from_engine",
    "serve_report",
    "unprogrammed_rules",
]
