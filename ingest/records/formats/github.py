"""GitHub issues and pull requests (`gh issue view --json`, REST API objects), single or as arrays."""

from __future__ import annotations

import json
import re
from typing import Any

from ingest.nhi.extract import iso
from ingest.nhi.model import Sighting
from ingest.nhi.text import scan_object

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..timestamps import fmt_ts, parse_ts, span
from ..values import as_list, joined, label

_HTML_NOISE = re.compile(r"<!--.*?-->|</?(?:details|summary|br|sub|sup|kbd|p)\b[^>]*>", re.S | re.I)


def detect(o: dict) -> bool:
    return isinstance(o.get("title"), str) and ("body" in o or "comments" in o) and \
        any(k in o for k in ("number", "url", "html_url", "state"))


def _md_clean(s: Any) -> str:
    if not isinstance(s, str):
        return ""
    s = _HTML_NOISE.sub("", s.replace("\r\n", "\n"))
    s = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"[image \1]", s)
    return re.sub(r"\n{3,}", "\n\n", s).strip()


def render(issue: dict, parent: dict | None = None) -> Block:
    url = next((u for u in (issue.get("html_url"), issue.get("url")) if isinstance(u, str) and u), "")
    m = re.search(r"github\.com/([^/]+)/([^/]+)/(?:issues|pull)/(\d+)", url)
    number = issue.get("number") or (m and m.group(3))
    section = f"{m.group(2)}#{number}" if m else (f"#{number}" if number else None)
    created = parse_ts(issue.get("createdAt") or issue.get("created_at"))
    closed = parse_ts(issue.get("closedAt") or issue.get("closed_at"))
    updated = parse_ts(issue.get("updatedAt") or issue.get("updated_at"))
    state = issue.get("state")
    reason = issue.get("stateReason") or issue.get("state_reason")
    author = issue.get("author") or issue.get("user") or {}
    author_s = label(author)
    if isinstance(author, dict) and author.get("name") and author.get("login"):
        author_s = f"{author['login']} ({author['name']})"
    lines = [f"{section or 'issue'} {issue.get('title', '')}".strip()]
    cells = [f"State: {state}" + (f" ({reason})" if reason else "") if state else None,
             f"Labels: {joined(issue.get('labels'))}" if joined(issue.get("labels")) else None,
             f"Milestone: {label(issue.get('milestone'))}" if label(issue.get("milestone")) else None]
    lines.append(" | ".join(c for c in cells if c))
    cells = [f"Author: {author_s}" if author_s else None,
             f"Assignees: {joined(issue.get('assignees'))}" if joined(issue.get("assignees")) else None]
    lines.append(" | ".join(c for c in cells if c))
    cells = [f"Created: {fmt_ts(created)}" if created else None,
             f"Closed: {fmt_ts(closed)}" if closed else None,
             f"Updated: {fmt_ts(updated)}" if updated else None]
    lines.append(" | ".join(c for c in cells if c))
    body = _md_clean(issue.get("body"))
    if body:
        lines += ["", body]
    stamps = [created, closed, updated]
    comments = issue.get("comments")
    if isinstance(comments, list) and comments:
        lines += ["", "Comments:"]
        for c in comments:
            if not isinstance(c, dict):
                continue
            cts = parse_ts(c.get("createdAt") or c.get("created_at"))
            stamps.append(cts)
            who = label(c.get("author") or c.get("user")) or "unknown"
            lines.append(f"[{fmt_ts(cts)}] {who}: {_md_clean(c.get('body'))}")
    meta = {}
    if state:
        meta["state"] = str(state)
    labels = [x for x in (label(lb) for lb in as_list(issue.get("labels"))) if x]
    if labels:
        meta["labels"] = labels[:20]
    text = "\n".join(x for x in lines if x is not None)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return Block(text=text, kind="record", ts_start=created or span(stamps)[0], ts_end=span(stamps)[1],
                 section=section, meta=meta)


_EXAMPLE = {
    "number": 318, "title": "Stale workload identity still holds WRITE_PHI", "state": "CLOSED",
    "stateReason": "COMPLETED", "url": "https://github.com/acme/mlplat-infra/issues/318",
    "author": {"login": "mreyes", "name": "Maria Reyes"}, "labels": [{"name": "security"}, {"name": "nhi"}],
    "assignees": [{"login": "jdoe"}], "createdAt": "2026-01-08T10:00:00Z", "closedAt": "2026-01-14T17:30:00Z",
    "updatedAt": "2026-01-14T17:31:00Z",
    "body": "The inventory flags `sa-transpeech-old` as STALE,WRITE_PHI.\r\n\r\n"
            "<details><summary>scan</summary>\r\n```\nnhi-inventory --stale\n```\r\n</details>",
    "comments": [{"author": {"login": "jdoe"}, "createdAt": "2026-01-14T17:29:00Z",
                  "body": "Removed the binding and deleted the key."}],
}


# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi)

def identities(issue: dict, parent: dict | None = None) -> list[Sighting]:
    """Structural identity mentions in the issue (title, body, comments, labels) and bot authors (`name[bot]`).
    Also reads `{"issue": {...}, "comments": [...]}` exports. `at` is the issue's creation time."""
    if isinstance(issue.get("issue"), dict) and not isinstance(issue.get("title"), str):
        issue = {**issue["issue"], "comments": issue.get("comments") or issue["issue"].get("comments")}
    url = next((u for u in (issue.get("html_url"), issue.get("url")) if isinstance(u, str) and u), "")
    m = re.search(r"github\.com/(?:repos/)?([^/]+/[^/]+)/(?:issues|pull)/(\d+)", url)
    where = f"{m.group(1)}#{m.group(2)}" if m else "a GitHub issue"
    texts = {k: issue.get(k) for k in ("title", "body", "comments", "labels")}
    for who in (issue.get("author"), issue.get("user")):
        if isinstance(who, dict) and isinstance(who.get("login"), str) and who["login"].endswith("[bot]"):
            texts["author"] = who["login"]
    return scan_object(texts, prose=True, at=iso(parse_ts(issue.get("createdAt") or issue.get("created_at"))),
                       actor=False, action=f"mentioned in {where}", workload=m.group(1) if m else None)


FORMAT = RecordFormat(
    name="github_issue", kind=RecordKind.GITHUB_ISSUE, container=Container.JSON_TICKETS,
    detect=detect, render=render, identities=identities,
    example=Example("application/json", json.dumps(_EXAMPLE, indent=2)))
