"""The shared types: Block, RecordStream, the record kinds and the format declaration the registry holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


@dataclass
class Block:
    """A unit of extracted text with where it came from."""
    text: str
    kind: str = "text"            # "text" (prose), "record" (ticket/row), "event" (one log event)
    page: int | None = None       # 1-based page (PDF only)
    record_index: int | None = None   # 0-based index of the record/event in the stream
    line_start: int | None = None     # 1-based first source line of this block (when knowable)
    line_end: int | None = None
    ts_start: datetime | None = None  # timezone-aware UTC
    ts_end: datetime | None = None
    section: str | None = None    # e.g. ticket key "OPS-1187", "CHG0031877", event type, heading
    meta: dict = field(default_factory=dict)   # small JSON-safe extras


@dataclass
class RecordStream:
    kind: str            # a RecordKind value (plain str): "jira", "github_issue", "servicenow", "cloudtrail",
    #                      "gcp_audit", "azure_activity", "k8s_audit", "vault_audit", "jsonl", "json_records",
    #                      "syslog", "app_log"
    blocks: list[Block]


class RecordKind(StrEnum):
    """The kind of a record stream. The values are stored (document kind) and shown: never change one."""
    JIRA = "jira"
    GITHUB_ISSUE = "github_issue"
    SERVICENOW = "servicenow"
    CLOUDTRAIL = "cloudtrail"
    GCP_AUDIT = "gcp_audit"
    AZURE_ACTIVITY = "azure_activity"
    K8S_AUDIT = "k8s_audit"
    VAULT_AUDIT = "vault_audit"
    JSONL = "jsonl"
    JSON_RECORDS = "json_records"
    SYSLOG = "syslog"
    APP_LOG = "app_log"
    AWS_CREDENTIAL_REPORT = "aws_credential_report"


class Container(StrEnum):
    """Where a format's records live. It fixes how the format is detected and what detect/render receive.

    JSON_EVENTS   one event per JSON object, in JSON Lines, a JSON array, an array under the format's
                  `wrapper` member, or a single object. detect(obj) -> bool; the format is chosen by a
                  majority vote of all JSON_EVENTS formats over the objects (ties: the one registered first);
                  objects the chosen format does not recognise are rendered by the fallback. Events are laid
                  out chronologically in JSON documents. render(obj, parent) -> Block, parent being the
                  document whose `wrapper` member holds obj, else None.
    JSON_TICKETS  one ticket per JSON object of a JSON document (not JSON Lines): a single object, an array
                  (majority vote of this format alone) or an array under `wrapper` whose objects all match.
                  Single objects are tried before events, arrays after them. render(obj, parent) -> Block
                  as for JSON_EVENTS (Jira reads custom field names from a search result's `names`).
    JSON_ARRAY    fallback for a JSON array of objects no other format claims: render(obj, None) -> Block.
    JSON_LINES    fallback for JSON Lines whose objects are not a known event shape:
                  render(obj, None) -> Block.
    CSV           a CSV export, detected from the header and rows: detect(CsvTable) -> plan | None (anything
                  render needs, e.g. column positions); render(cells, plan) -> Block.
    LOG_LINES     a line-oriented log, detected per line: detect(line) -> info dict | None for the first line
                  of an event; the stream takes the format that claimed most lines (ties: the one registered
                  first); each event keeps the format that claimed it. render(text, LogEvent) -> Block.
                  Optional finish(events) adjusts all events once they are collected (e.g. syslog years).
    """
    JSON_EVENTS = "json_events"
    JSON_TICKETS = "json_tickets"
    JSON_ARRAY = "json_array"
    JSON_LINES = "json_lines"
    CSV = "csv"
    LOG_LINES = "log_lines"


@dataclass(frozen=True)
class Example:
    """A small representative input of a format; the contract test runs every registered one."""
    media: str                    # the media type split_records is called with
    text: str
    timestamped: bool = True      # every record in `text` carries a timestamp


@dataclass(frozen=True)
class RecordFormat:
    """One record format: how it is detected and how one record is rendered (see Container for signatures)."""
    name: str
    kind: RecordKind
    container: Container
    detect: Callable[..., Any]
    render: Callable[..., Block]
    example: Example
    wrapper: str | None = None    # JSON member of a document that holds an array of these records
    finish: Callable[[list[LogEvent]], None] | None = None   # LOG_LINES only: adjust all events
    # The machine identities one record shows (ingest/nhi): called with the same raw input as render, returns a
    # list of ingest.nhi.Sighting; None = the record's rendered text is scanned for structural mentions instead.
    identities: Callable[..., list] | None = None
    # Records written by people (tickets): the rendered text is also read for identities named with their kind
    # ("IAM user svc-etl", "the deploy key ci-mirror"; ingest.nhi.text.named).
    prose: bool = False


@dataclass
class CsvTable:
    """A CSV export read with the delimiter its header line uses: header cells and non-blank rows."""
    header: list[str]
    rows: list[tuple[int, int, list[str]]]    # (1-based first line, last line, cells)


@dataclass
class LogEvent:
    """One event of a line-oriented log while it is being collected: source lines, parsed parts, timestamp."""
    start: int                    # 1-based first and last source line
    end: int
    fmt: RecordFormat             # the format whose detect claimed the first line
    info: dict                    # what detect returned
    ts: datetime | None
