"""The registered record formats: one table, in detection order.

Order matters within a container: a JSON_EVENTS majority-vote tie and a single event object matching two
shapes go to the format listed first, as do the known wrapper members of a JSON document; JSON_TICKETS
formats are tried in order; LOG_LINES formats claim each line in order (syslog before application logs,
whose ISO-timestamp lines are more general). The JSON_ARRAY and JSON_LINES fallbacks come last.
"""

from __future__ import annotations

from .base import Container, RecordFormat
from .formats import (
    app_log,
    aws_credential_report,
    azure_activity,
    cloudtrail,
    gcp_audit,
    generic_json,
    github,
    jira,
    k8s_audit,
    servicenow,
    syslog,
    vault_audit,
)

FORMATS: tuple[RecordFormat, ...] = (
    # Tickets in JSON documents
    jira.FORMAT,
    github.FORMAT,
    # Audit events in JSON documents and JSON Lines (majority vote)
    k8s_audit.FORMAT,
    vault_audit.FORMAT,
    cloudtrail.FORMAT,
    gcp_audit.FORMAT,
    azure_activity.FORMAT,
    # CSV exports
    servicenow.FORMAT,
    aws_credential_report.FORMAT,
    # Line-oriented logs
    syslog.FORMAT,
    app_log.FORMAT,
    # Fallbacks: objects of no known shape
    generic_json.JSON_RECORDS,
    generic_json.JSON_LINES,
)

_BY_CONTAINER: dict[Container, tuple[RecordFormat, ...]] = {
    c: tuple(f for f in FORMATS if f.container is c) for c in Container}


def formats(container: Container) -> tuple[RecordFormat, ...]:
    """The registered formats of one container, in registry order."""
    return _BY_CONTAINER[container]


def fallback(container: Container) -> RecordFormat:
    """The fallback format of JSON_ARRAY or JSON_LINES (the first registered)."""
    return _BY_CONTAINER[container][0]
