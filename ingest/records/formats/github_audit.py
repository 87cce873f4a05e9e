"""GitHub organisation audit log CSV exports (`@timestamp,action,actor,...,data`): the machine identities they
show. Not a registered record format: such exports are chunked as generic CSV, and `dispatch.unsplit_identities`
reads their rows with this module only to find identities (registering it would change how the export is
split and labelled; see ../registry.py to do so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ingest.nhi.model import Sighting
from ingest.nhi.text import may_mention, scan

from ..base import CsvTable
from ..jsonscan import loads
from ..timestamps import parse_ts

_FAMILIES = ("deploy_key", "integration_installation", "integration", "oauth_application", "github_app",
             "personal_access_token", "org_credential_authorization", "oauth_access")
_CREATE = ("create", "access_granted", "grant", "request_created", "add", "regenerate")
_DELETE = ("delete", "destroy", "remove", "revoke", "access_revoked")


@dataclass(frozen=True)
class Columns:
    names: dict[str, int]

    def cell(self, row: list[str], name: str) -> str:
        i = self.names.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""


def detect(table: CsvTable) -> Columns | None:
    """An audit log export: action and actor columns, and a timestamp column."""
    names = {h.strip().lower(): i for i, h in enumerate(table.header)}
    if "action" in names and "actor" in names and ({"@timestamp", "created_at", "timestamp"} & set(names)):
        return Columns(names)
    return None


def timestamp(row: list[str], cols: Columns) -> datetime | None:
    for name in ("@timestamp", "created_at", "timestamp"):
        ts = parse_ts(cols.cell(row, name))
        if ts is not None:
            return ts
    return None


def _data(row: list[str], cols: Columns) -> dict:
    raw = cols.cell(row, "data")
    if raw[:1] == "{":
        try:
            d = loads(raw)
        except ValueError:
            return {}
        return d if isinstance(d, dict) else {}
    return {}


def _machine_user(actor: str) -> bool:
    """A machine user (an ordinary account run by software), by the strong name markers only."""
    low = actor.lower()
    return low.startswith(("svc-", "svc_")) or low.endswith(("-bot", "_bot", "-automation", "-ci"))


def worth_reading(action: str, actor: str, line: str) -> bool:
    """A quick test of one export row from its action and actor cells and its raw line: can the row show a
    machine identity? (the rows identities() reads beyond its first test)"""
    return (action.split(".", 1)[0] in _FAMILIES or actor.endswith("[bot]") or _machine_user(actor)
            or may_mention(line))


def _event(action: str) -> str | None:
    verb = action.rsplit(".", 1)[-1]
    if verb.startswith(_DELETE):
        return "deleted"
    if verb.startswith(_CREATE):
        return "created"
    return None


def identities(row: list[str], cols: Columns) -> list[Sighting]:
    """Bots and apps acting (`name[bot]`), GitHub App installations, deploy keys and personal access tokens
    created, authorised, revoked or expired (the token's owner as `owner`, the person acting as `human`).
    A person acting on their own account shows no machine identity and yields nothing."""
    action = cols.cell(row, "action")
    actor = cols.cell(row, "actor")
    family = action.split(".", 1)[0]
    bot = actor.endswith("[bot]")
    raw = cols.cell(row, "data")
    if not bot and family not in _FAMILIES and not _machine_user(actor) and not may_mention(raw):
        return []                          # a person's own activity (workflow runs, merges, settings)
    repo = cols.cell(row, "repo") or None
    src = cols.cell(row, "actor_ip") or None
    data = _data(row, cols)
    out: list[Sighting] = []
    person = None if bot or actor in ("github", "") else actor
    if bot:
        wf = data.get("name") if isinstance(data.get("name"), str) else None
        out.append(Sighting(actor, "github_app", "github", action=action, source=src,
                            workload=f"{repo}:{wf}" if repo and wf else repo))
    if family == "deploy_key":
        title = data.get("title") or data.get("key_title")
        if isinstance(title, str) and title:
            ro = data.get("read_only")
            note = "" if ro is None else (" (read-only)" if ro else " (read-write)")
            out.append(Sighting(f"{repo}:{title}" if repo else title, "github_pat_or_deploy_key", "github", (title,),
                                action=action + note, credential_event=_event(action),
                                credential=data.get("fingerprint") if isinstance(data.get("fingerprint"), str)
                                else None, workload=repo, source=src, human=person, actor=False))
    elif family in ("integration_installation", "integration", "oauth_application", "github_app"):
        name = data.get("integration") or data.get("name") or data.get("app")
        if isinstance(name, str) and name:
            perms = data.get("permissions") if isinstance(data.get("permissions"), dict) else {}
            privileged = any(k in ("administration", "organization_administration") and v in ("write", "admin")
                             for k, v in perms.items())
            out.append(Sighting(name, "github_app", "github", action=action, workload=repo, source=src,
                                human=person, actor=False, privileged=privileged))
    elif family in ("personal_access_token", "org_credential_authorization", "oauth_access"):
        token = data.get("token_name") or cols.cell(row, "hashed_token") or data.get("token_id")
        owner = cols.cell(row, "user") or (actor if family != "personal_access_token" or
                                           action.endswith("request_created") else None) or None
        if family == "personal_access_token" and action.endswith("access_granted"):
            owner = cols.cell(row, "user") or None
        if (family != "personal_access_token" and not data.get("token_name") and person
                and not _machine_user(person)):
            token = None   # a person's own unnamed token authorised for SSO: their credential, not a machine's
        if isinstance(token, str) and token:
            reason = str(data.get("reason") or "")
            event = _event(action)
            scopes = str(data.get("token_scopes") or cols.cell(row, "token_scopes") or "")
            kind = str(data.get("credential_type") or cols.cell(row, "programmatic_access_type") or "token")
            note = f" ({kind}" + (f"; {reason}" if reason else "") + ")"
            hashed = cols.cell(row, "hashed_token")
            ident = hashed or (f"{owner}:{token}" if owner else token)
            out.append(Sighting(ident, "github_pat_or_deploy_key", "github", (token,), action=action + note,
                                credential_event=event, credential=cols.cell(row, "hashed_token") or None,
                                owner=owner, source=src, human=person if person != owner else owner,
                                human_use=False, actor=False,
                                privileged=any(s.strip().startswith("admin:") for s in scopes.split(","))))
    if not out and _machine_user(actor):
        out.append(Sighting(actor, "other", "github", action=action, source=src, workload=repo))
    known = {s.identity for s in out}
    out += [s for s in scan(raw, action=action, actor=False) if s.identity not in known]
    return out
