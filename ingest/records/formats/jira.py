"""Jira issues: REST API v2 (wiki markup) and v3 (Atlassian Document Format), single issues, arrays and
search results (`{"issues": [...], "names": {...}}`)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ingest.nhi import rules as R
from ingest.nhi.extract import iso
from ingest.nhi.model import Sighting
from ingest.nhi.text import scan_object

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..timestamps import fmt_ts, parse_ts, span
from ..values import as_dict, as_list, clean_str, get, joined, label

_ADF_INLINE = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status", "placeholder",
               "mediaInline", "inlineExtension"}


def detect(o: dict) -> bool:
    return isinstance(o.get("key"), str) and isinstance(o.get("fields"), dict)


def _adf_list(t: str, attrs: dict, content: list, depth: int) -> str:
    """An ADF bullet/ordered/task/decision list as "- ", "1. ", "[x] " lines, nested lines indented."""
    start = attrs.get("order", 1) if isinstance(attrs.get("order"), int) else 1
    lines = []
    for i, item in enumerate(content):
        body = _adf(item, depth + 1)
        if not body.strip():
            continue
        if t == "orderedList":
            marker = f"{start + i}. "
        elif t == "taskList":
            marker = "[x] " if get(item, "attrs", "state") == "DONE" else "[ ] "
        else:
            marker = "- "
        sub = body.split("\n")
        lines.append(marker + sub[0])
        lines.extend("  " + s for s in sub[1:] if s.strip())
    return "\n".join(lines)


def _adf_children(content: list, depth: int, sep: str) -> str:
    """Inline children run together; block children joined by sep, empty ones dropped."""
    if all(isinstance(c, dict) and isinstance(c.get("type"), str) and c["type"] in _ADF_INLINE for c in content):
        return "".join(_adf(c, depth + 1) for c in content)
    return sep.join(s for s in (_adf(c, depth + 1) for c in content) if s.strip())


def _adf(node: Any, depth: int = 0) -> str:
    """Flatten an Atlassian Document Format tree to plain text (paragraphs, lists, tables, code kept)."""
    if isinstance(node, list):
        return "\n\n".join(t for t in (_adf(n, depth) for n in node) if t.strip())
    if not isinstance(node, dict) or depth > 60:
        return ""
    t = node.get("type")
    attrs = node.get("attrs") if isinstance(node.get("attrs"), dict) else {}
    content = node.get("content") if isinstance(node.get("content"), list) else []
    if t == "text":
        return str(node.get("text", ""))
    if t == "hardBreak":
        return "\n"
    if t in ("mention", "emoji", "status"):
        return str(attrs.get("text") or attrs.get("shortName") or "")
    if t in ("inlineCard", "blockCard", "embedCard"):
        return str(attrs.get("url") or "")
    if t == "date":
        ts = parse_ts(float(attrs["timestamp"])) if str(attrs.get("timestamp", "")).isdigit() else None
        return ts.strftime("%Y-%m-%d") if ts else ""
    if t in ("media", "mediaSingle", "mediaGroup", "mediaInline", "placeholder", "extension"):
        return ""
    if t == "rule":
        return "---"
    if t in ("paragraph", "heading"):
        return "".join(_adf(c, depth + 1) for c in content)
    if t == "codeBlock":
        return "".join(_adf(c, depth + 1) for c in content)
    if t in ("bulletList", "orderedList", "taskList", "decisionList"):
        return _adf_list(t, attrs, content, depth)
    if t in ("listItem", "taskItem", "decisionItem"):
        return _adf_children(content, depth, "\n")
    if t == "table":
        return "\n".join(r for r in (_adf(c, depth + 1) for c in content) if r.strip())
    if t == "tableRow":
        return " | ".join(" ".join(_adf(c, depth + 1).split()) for c in content)
    if t in ("tableCell", "tableHeader"):
        return "\n".join(_adf(c, depth + 1) for c in content)
    if t in ("expand", "nestedExpand"):
        title = attrs.get("title")
        body = _adf(content, depth + 1)
        return f"{title}\n{body}" if title else body
    if content:   # doc, blockquote, panel, layouts, unknown containers
        return _adf_children(content, depth, "\n\n")
    return str(node.get("text", ""))


_WIKI_SUBS = [
    (re.compile(r"\{\{(.+?)\}\}"), r"\1"),                                   # {{monospace}}
    (re.compile(r"^h[1-6]\.\s*", re.M), ""),                                  # h2. Heading
    (re.compile(r"^\s*\{(?:code|noformat|quote|panel)(?::[^}]*)?\}\s*$", re.M), ""),
    (re.compile(r"\{(?:code|noformat|quote|panel|color)(?::[^}]*)?\}"), ""),
    (re.compile(r"\[([^|\]\n]+)\|[^\]\n]+\]"), r"\1"),                        # [text|url]
    (re.compile(r"\[~(?:accountid:)?([^\]\n]+)\]"), r"@\1"),                  # [~user]
    (re.compile(r"^([*#]+)\s+", re.M), lambda m: "  " * (len(m.group(1)) - 1) + "- "),   # lists
    (re.compile(r"\|\|"), " | "),                                            # table header cells
    (re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),    # *bold*
    (re.compile(r"!([^!\s|]+)(?:\|[^!]*)?!"), r"[image \1]"),                 # !image.png|thumbnail!
]


def _wiki_to_text(s: str) -> str:
    for rx, rep in _WIKI_SUBS:
        s = rx.sub(rep, s)
    s = re.sub(r"^ \| ", "| ", s, flags=re.M)
    s = re.sub(r" \| $", " |", s, flags=re.M)
    return re.sub(r"\n{3,}", "\n\n", s).strip()


def _jira_accounts(obj: Any, out: dict[str, str], depth: int = 0) -> dict[str, str]:
    """accountId -> displayName for every user object in an issue (to resolve [~accountid:...] mentions)."""
    if depth > 12:
        return out
    if isinstance(obj, dict):
        if isinstance(obj.get("accountId"), str) and isinstance(obj.get("displayName"), str):
            out[obj["accountId"]] = obj["displayName"]
        for v in obj.values():
            if isinstance(v, (dict, list)):
                _jira_accounts(v, out, depth + 1)
    elif isinstance(obj, list):
        for v in obj:
            if isinstance(v, (dict, list)):
                _jira_accounts(v, out, depth + 1)
    return out


def _rich_text(v: Any) -> str:
    if isinstance(v, dict):
        return _adf(v).strip()
    if isinstance(v, str):
        return _wiki_to_text(v)
    return ""


_JIRA_STANDARD = {"summary", "description", "status", "issuetype", "priority", "labels", "components",
                  "created", "updated", "resolutiondate", "resolution", "assignee", "reporter", "creator",
                  "comment", "project", "fixVersions", "versions", "issuelinks", "subtasks", "parent",
                  "attachment", "duedate", "environment", "worklog", "watches", "votes", "timetracking",
                  "lastViewed"}
_JIRA_HISTORY_FIELDS = ("status", "resolution", "assignee", "priority")


def _jira_value(v: Any) -> str | None:
    if v is None or v in ("", "{}", [], {}):
        return None
    if isinstance(v, str):
        if re.fullmatch(r"\d+\|[\w:]+", v):        # rank values like "0|i00f88e:"
            return None
        ts = parse_ts(v) if re.match(r"\d{4}-\d{2}-\d{2}T", v) else None
        return fmt_ts(ts) if ts else clean_str(v.strip(), 500)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, dict):
        if v.get("type") == "doc":
            return _adf(v).strip() or None
        return label(v)
    if isinstance(v, list):
        parts = [p for p in (_jira_value(x) for x in v) if p]
        return ", ".join(parts) if parts else None
    return None


def _field_rows(f: dict, created: datetime | None, updated: datetime | None,
                resolved: datetime | None) -> list[str]:
    """The "Label: value | Label: value" summary rows: project, status, labels, people, dates, parent."""
    lines: list[str] = []

    def row(*pairs: tuple[str, Any]) -> None:
        cells = [f"{name}: {val}" for name, val in pairs if val]
        if cells:
            lines.append(" | ".join(cells))

    project = as_dict(f.get("project"))
    project_label = (f"{project.get('name')} ({project.get('key')})" if project.get("name")
                     else project.get("key"))
    row(("Project", project_label))
    row(("Status", label(f.get("status"))), ("Resolution", label(f.get("resolution"))),
        ("Priority", label(f.get("priority"))))
    row(("Labels", joined(f.get("labels"))), ("Components", joined(f.get("components"))),
        ("Fix versions", joined(f.get("fixVersions"))), ("Affects versions", joined(f.get("versions"))))
    row(("Assignee", label(f.get("assignee"))), ("Reporter", label(f.get("reporter"))))
    row(("Created", created and fmt_ts(created)), ("Updated", updated and fmt_ts(updated)),
        ("Resolved", resolved and fmt_ts(resolved)), ("Due", f.get("duedate")))
    if isinstance(f.get("parent"), dict) and f["parent"].get("key"):
        row(("Parent", f"{f['parent']['key']} {get(f['parent'], 'fields', 'summary', default='')}".strip()))
    return lines


def _relations(f: dict) -> list[str]:
    """Issue links, sub-tasks and attachment names."""
    lines, links = [], []
    for link in as_list(f.get("issuelinks")):
        if not isinstance(link, dict):
            continue
        for side, verb in (("outwardIssue", "outward"), ("inwardIssue", "inward")):
            other = link.get(side)
            if isinstance(other, dict) and other.get("key"):
                summary = get(other, "fields", "summary", default="")
                rel = get(link, "type", verb, default="relates to")
                links.append(f"{rel} {other['key']}" + (f" ({summary})" if summary else ""))
    if links:
        lines.append("Links: " + "; ".join(links))
    subtasks = [f"{s.get('key')} {get(s, 'fields', 'summary', default='')}".strip()
                for s in as_list(f.get("subtasks")) if isinstance(s, dict) and s.get("key")]
    if subtasks:
        lines.append("Sub-tasks: " + "; ".join(subtasks))
    attachments = [str(a["filename"]) for a in as_list(f.get("attachment"))
                   if isinstance(a, dict) and a.get("filename")]
    if attachments:
        lines.append("Attachments: " + ", ".join(attachments))
    return lines


def _custom_fields(f: dict, names: dict) -> list[str]:
    """Non-standard fields under their display names; unnamed custom fields only when they hold prose."""
    lines = []
    for fid, v in f.items():
        if fid in _JIRA_STANDARD:
            continue
        name = names.get(fid)
        if name:
            val = _jira_value(v)
            if val:
                lines.append(f"{name}: {val}")
        elif fid.startswith("customfield_") and isinstance(v, (str, dict)):
            val = _rich_text(v) if (isinstance(v, dict) and v.get("type") == "doc") or \
                (isinstance(v, str) and " " in v.strip()) else None
            if val:
                lines.append(f"{fid}: {val}")
    return lines


def _activity(issue: dict, f: dict, stamps: list[datetime | None]) -> list[str]:
    """Comments and compact status/resolution/assignee/priority transitions; their times go to stamps."""
    lines = []
    comments = get(f, "comment", "comments", default=[])
    if isinstance(comments, list) and comments:
        lines += ["", "Comments:"]
        for c in comments:
            if not isinstance(c, dict):
                continue
            cts = parse_ts(c.get("created"))
            stamps += [cts, parse_ts(c.get("updated"))]
            author = label(c.get("author")) or "unknown"
            body = _rich_text(c.get("body"))
            lines.append(f"[{fmt_ts(cts)}] {author}: {body}")
    transitions = []
    for h in as_list(get(issue, "changelog", "histories")):
        if not isinstance(h, dict):
            continue
        hts = parse_ts(h.get("created"))
        for item in as_list(h.get("items")):
            if isinstance(item, dict) and item.get("field") in _JIRA_HISTORY_FIELDS:
                stamps.append(hts)
                who = label(h.get("author"))
                transitions.append(f"{fmt_ts(hts)} {item['field']} {item.get('fromString') or '-'} -> "
                                   f"{item.get('toString') or '-'}" + (f" ({who})" if who else ""))
    if transitions:
        lines += ["", "History: " + "; ".join(transitions)]
    return lines


def render(issue: dict, parent: dict | None = None) -> Block:
    """One issue as a record; custom field names come from the issue's and the search result's `names`."""
    f = issue.get("fields") or {}
    key = issue.get("key")
    names = parent.get("names") if parent is not None and isinstance(parent.get("names"), dict) else {}
    names = {**names, **(issue.get("names") if isinstance(issue.get("names"), dict) else {})}
    lines = [f"{key} [{label(f.get('issuetype')) or 'Issue'}] {f.get('summary') or ''}".strip()]
    created, updated = parse_ts(f.get("created")), parse_ts(f.get("updated"))
    resolved = parse_ts(f.get("resolutiondate"))
    lines += _field_rows(f, created, updated, resolved)
    lines += _relations(f)
    lines += _custom_fields(f, names)
    if f.get("environment"):
        env = _rich_text(f["environment"])
        if env:
            lines.append(f"Environment: {env}")
    desc = _rich_text(f.get("description"))
    if desc:
        lines += ["", "Description:", desc]
    stamps = [created, updated, resolved]
    lines += _activity(issue, f, stamps)

    text = "\n".join(lines).strip()
    accounts = _jira_accounts(issue, {})
    if accounts:
        text = re.sub(r"@([0-9]{4,}:[0-9a-f-]{36}|[0-9a-f]{24})\b",
                      lambda m: "@" + accounts.get(m.group(1), m.group(1)), text)
    ts_start = created or span(stamps)[0]
    ts_end = span(stamps)[1]
    meta = {k: v for k, v in ((k, label(f.get(k))) for k in ("status", "issuetype", "priority", "resolution",
                                                             "assignee")) if v}
    if isinstance(f.get("labels"), list) and f["labels"]:
        meta["labels"] = [str(x) for x in f["labels"][:20]]
    return Block(text=text, kind="record", ts_start=ts_start, ts_end=ts_end, section=key, meta=meta)


_ALICE = {"accountId": "5b10ac8d82e05b22cc7d4ef5", "displayName": "Alice Moreno"}
_EXAMPLE = {
    "key": "OPS-1187",
    "names": {"customfield_10115": "Validation report"},
    "fields": {
        "summary": "Re-test speech model word error rate by patient group",
        "issuetype": {"name": "Task"}, "status": {"name": "Done"}, "priority": {"name": "High"},
        "resolution": {"name": "Fixed"}, "labels": ["fairness", "asr"],
        "project": {"key": "OPS", "name": "AIMS"},
        "assignee": _ALICE, "reporter": {"displayName": "Wei Chen"},
        "created": "2026-01-12T09:30:00.000+0000", "updated": "2026-01-20T16:45:10.000+0000",
        "resolutiondate": "2026-01-20T16:45:10.000+0000",
        "customfield_10115": "VR-2026-004 (signed)",
        "description": {"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "WER gap above 2 points for C."}]},
            {"type": "bulletList", "content": [{"type": "listItem", "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "re-run on the v14 set"}]}]}]}]},
        "comment": {"comments": [
            {"author": {"displayName": "Wei Chen"}, "created": "2026-01-15T11:00:00.000+0000",
             "body": "Re-test done with {{eval-harness 2.3}}, see [report|https://wiki.example/vr-4]. "
                     "cc [~accountid:5b10ac8d82e05b22cc7d4ef5]"}]},
    },
    "changelog": {"histories": [
        {"created": "2026-01-20T16:45:10.000+0000", "author": {"displayName": "Alice Moreno"},
         "items": [{"field": "status", "fromString": "In Review", "toString": "Done"}]}]},
}


# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi)

def identities(issue: dict, parent: dict | None = None) -> list[Sighting]:
    """Structural identity mentions (ARNs, key ids, service-account strings, SA e-mails) anywhere in the issue:
    summary, description, comments, custom fields; and integration accounts that filed or commented (a reporter,
    creator or comment author whose name is software's, such as "Grafana Alerting"). Mentions, not uses: `at` is
    the issue's creation time. Names given with their kind in the text are read from the rendered record (prose)."""
    f = issue.get("fields") if isinstance(issue.get("fields"), dict) else {}
    key = issue.get("key")
    at = iso(parse_ts(f.get("created")))
    found = scan_object(issue, at=at, actor=False, action=f"mentioned in {key}" if key else "mentioned in a Jira issue")
    people = [(f.get(k), k, at) for k in ("reporter", "creator")]
    comments = f.get("comment", {}).get("comments") if isinstance(f.get("comment"), dict) else None
    for c in comments if isinstance(comments, list) else []:
        if isinstance(c, dict):
            people.append((c.get("author"), "comment author", iso(parse_ts(c.get("created")))))
    seen = {s.identity for s in found}
    for who, role, when in people:
        if not isinstance(who, dict):
            continue
        name = who.get("displayName") if isinstance(who.get("displayName"), str) else None
        app = who.get("accountType") == "app"
        if name and name not in seen and (app or R.integration_name(name)):
            seen.add(name)
            found.append(Sighting(name, "api_client", "app", (who["accountId"],) if isinstance(
                who.get("accountId"), str) else (), at=when, action=f"{role} of {key or 'a Jira issue'}"))
    return found


FORMAT = RecordFormat(
    name="jira", kind=RecordKind.JIRA, container=Container.JSON_TICKETS,
    detect=detect, render=render, wrapper="issues", identities=identities, prose=True,
    example=Example("application/json", json.dumps(_EXAMPLE, indent=2)))
