"""Generic JSON objects: arrays of objects ("json_records") and JSON Lines ("jsonl") of no known shape.

Also the fallback rendering of an object in an event stream that the stream's format does not recognise."""

from __future__ import annotations

import json
from datetime import datetime

from ingest.nhi import rules as R
from ingest.nhi.model import Sighting
from ingest.nhi.text import scan, scan_object

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..timestamps import fmt_ts, parse_ts
from ..values import flatten, kv

_TS_KEYS = ("@timestamp", "timestamp", "ts", "time", "eventtime", "event_time", "eventtimestamp", "datetime",
            "date", "occurred_at", "occurredat", "created_at", "createdat", "created", "logged_at",
            "received_at", "updated_at", "start_time", "starttime", "published", "createddatetime",
            "activitydatetime")
_SECTION_KEYS = ("event", "event_type", "eventtype", "eventname", "event_name", "action", "type", "kind",
                 "operation", "method")
_PRINCIPAL_KEYS = ("actor", "user", "username", "user_name", "principal", "caller", "userid", "user_id",
                   "who")


def is_object(o: object) -> bool:
    return isinstance(o, dict)


def find_ts(obj: dict) -> tuple[str | None, datetime | None]:
    lower = {k.lower(): k for k in obj}
    for cand in _TS_KEYS:
        k = lower.get(cand)
        if k is not None:
            ts = parse_ts(obj[k])
            if ts:
                return k, ts
    return None, None


def render(obj: dict, parent: dict | None = None) -> Block:
    ts_key, ts = find_ts(obj)
    pairs = flatten({k: v for k, v in obj.items() if k != ts_key})
    text = kv(pairs)
    if ts:
        text = f"{fmt_ts(ts)} {text}".rstrip()
    lower = {k.lower(): k for k in obj}
    section = next((obj[lower[k]] for k in _SECTION_KEYS
                    if k in lower and isinstance(obj[lower[k]], str) and 0 < len(obj[lower[k]]) <= 80), None)
    meta = {}
    principal = next((obj[lower[k]] for k in _PRINCIPAL_KEYS
                      if k in lower and isinstance(obj[lower[k]], str) and obj[lower[k]]), None)
    if principal:
        meta["principal"] = principal[:200]
    return Block(text=text, kind="event" if ts else "record", ts_start=ts, ts_end=ts, section=section,
                 meta=meta)



# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi)

_SERVICE_TYPES = ("service", "service_account", "serviceaccount", "app", "application", "bot", "machine",
                  "system", "integration", "api_client", "client", "workload")
# Words in an actor's or target's type that make it software: PublicClientApp, ServicePrincipal, ApiToken, ...
_SERVICE_TYPE_WORDS = ("app", "client", "service", "bot", "robot", "machine", "workload", "integration", "token",
                       "principal", "key", "managedidentity")
_PERSON_TYPES = ("user", "person", "human", "member", "employee", "admin", "administrator")
_TARGET_KEYS = ("service_account", "serviceaccount", "service_account_name", "client_id", "api_client",
                "app_id", "application_id", "bot", "robot_account", "integration")
_NAME_KEYS = ("displayName", "display_name", "name", "login", "username", "alternateId", "email", "id")
_TOKEN_TYPES = {"personalaccesstoken": "PAT", "projectaccesstoken": "project access token",
                "groupaccesstoken": "group access token", "deploytoken": "deploy token", "deploykey": "deploy key",
                "apitoken": "API token", "token": "token"}


def _software_type(typ: str) -> bool:
    t = typ.lower().replace("_", "").replace("-", "").replace(" ", "")
    return bool(t) and t not in _PERSON_TYPES and (t in _SERVICE_TYPES or any(w in t for w in _SERVICE_TYPE_WORDS))


def _actor_identity(v: object) -> tuple[str | None, bool]:
    """(name, is_service) of an actor value: {"type": "service", "name": ...}, {"type": "PublicClientApp",
    "displayName": ...}, "svc:NAME", a service name."""
    if isinstance(v, dict):
        typ = str(v.get("type") or v.get("kind") or v.get("actor_type") or "")
        name = next((v[k] for k in _NAME_KEYS if isinstance(v.get(k), str) and v[k] and v[k] != "unknown"), None)
        if name and (_software_type(typ) or R.service_like(name)):
            return name, True
        return name, False
    if isinstance(v, str) and v:
        name = v[4:] if v.startswith(("svc:", "sa:", "app:")) else v
        return name, v != name or R.software_account(name) and not R.person_like(name) and "@" not in name
    return None, False


def _lifecycle(action: str | None) -> str | None:
    """The credential event an event name states: create / rotate / revoke or delete."""
    a = (action or "").lower()
    if any(w in a for w in ("revoke", "delete", "remove", "destroy")):
        return "deleted"
    if any(w in a for w in ("rotate", "regenerate", "reset", "renew")):
        return "rotated"
    if any(w in a for w in ("create", "add", "generate", "issue")):
        return "created"
    return None


def _sign_in_principal(obj: dict, action: str | None) -> list[Sighting]:
    """Microsoft Entra service-principal and managed-identity sign-ins (servicePrincipalName / appId)."""
    sp = obj.get("servicePrincipalName") or obj.get("appDisplayName")
    ids = [x for x in (obj.get("appId"), obj.get("servicePrincipalId")) if isinstance(x, str) and x]
    if not (isinstance(sp, str) and sp) and not ids:
        return []
    kinds = obj.get("signInEventTypes") if isinstance(obj.get("signInEventTypes"), list) else []
    if not (obj.get("servicePrincipalName") or obj.get("servicePrincipalId") or obj.get("managedIdentityType")
            or any(isinstance(k, str) and ("servicePrincipal" in k or "managedIdentity" in k) for k in kinds)):
        return []
    name = sp if isinstance(sp, str) and sp else ids[0]
    cred = obj.get("clientCredentialType") if isinstance(obj.get("clientCredentialType"), str) else None
    return [Sighting(name, "azure_service_principal", "azure", tuple(i for i in ids if i != name),
                     action=action or f"sign-in to {obj.get('resourceDisplayName') or 'a resource'}",
                     source=obj.get("ipAddress") if isinstance(obj.get("ipAddress"), str) else None,
                     credential=cred if cred and cred.lower() not in ("none", "") else None)]


def _targets(obj: dict, action: str | None) -> list[Sighting]:
    """Software targets of the event: Okta-style `target: [{"type": "PublicClientApp" | "Token", ...}]`, GitLab
    `details.target_type: PersonalAccessToken` with its name in `target_details`."""
    out = []
    event = _lifecycle(action)
    targets = obj.get("target")
    for t in targets if isinstance(targets, list) else [targets] if isinstance(targets, dict) else []:
        if not isinstance(t, dict):
            continue
        typ = str(t.get("type") or "")
        name = next((t[k] for k in ("displayName", "display_name", "name", "alternateId")
                     if isinstance(t.get(k), str) and t[k] and t[k] != "unknown"), None)
        if name and _software_type(typ):
            token = typ.lower().replace("_", "") in _TOKEN_TYPES
            out.append(Sighting(name, "api_client", "app", action=action, actor=False,
                                credential_event=event if token else None))
    details = obj.get("details") if isinstance(obj.get("details"), dict) else {}
    ttype = str(details.get("target_type") or "").lower().replace("_", "")
    tname = details.get("target_details")
    if ttype in _TOKEN_TYPES and isinstance(tname, str) and tname:
        what = _TOKEN_TYPES[ttype]
        out.append(Sighting(tname, "other", "other", action=action or f"{what} event", actor=False,
                            credential_event=_lifecycle(str(details.get("custom_message") or action))))
    return out


def identities(obj: dict, parent: dict | None = None) -> list[Sighting]:
    """The record's actor when it is software (typed as a service or app, `svc:` prefixed, a service name, a
    cloud identity), service accounts and clients the record acts on (details.service_account, client_id, a
    target typed as an app or token), service-principal sign-ins, and structural identity mentions in any value."""
    lower = {k.lower(): k for k in obj}
    section = next((obj[lower[k]] for k in _SECTION_KEYS
                    if k in lower and isinstance(obj[lower[k]], str) and 0 < len(obj[lower[k]]) <= 80), None)
    if section is None and isinstance(obj.get("eventType"), str):
        section = obj["eventType"]
    action = section or None
    out: list[Sighting] = _sign_in_principal(obj, action)
    seen: set[str] = {s.identity for s in out} | {a for s in out for a in s.aliases}
    for k in _PRINCIPAL_KEYS:
        if k not in lower:
            continue
        name, service = _actor_identity(obj[lower[k]])
        if not name:
            continue
        if name in seen:
            break
        found = scan(name, action=action)
        if found:
            out += found
        elif service:
            out.append(Sighting(name, "api_client", "app", action=action))
        seen.add(name)
        break
    for s in _targets(obj, action):
        if s.identity not in seen:
            seen.add(s.identity)
            out.append(s)
    for path_obj in (obj, obj.get("details"), obj.get("data"), obj.get("target"), obj.get("resource")):
        if not isinstance(path_obj, dict):
            continue
        for key, val in path_obj.items():
            if key.lower() in _TARGET_KEYS and isinstance(val, str) and val and val not in seen:
                seen.add(val)
                found = scan(val, action=action, actor=False)
                out += found or [Sighting(val, "api_client", "app", action=action, actor=False)]
    # values the actor rules have read already are not scanned again
    rest = {k: v for k, v in obj.items() if not (isinstance(v, str) and v in seen)}
    mentions = scan_object(rest, action=action, actor=False)
    if mentions:
        known = {s.identity for s in out}
        out += [s for s in mentions if s.identity not in known]
    return out


_ROWS = [{"id": "AIR-001", "created_at": "2026-01-05T09:00:00Z",
          "owner": {"name": "Risk Office", "team": "GRC"}, "status": "open",
          "note": "model drift above tolerance"},
         {"id": "AIR-002", "created_at": "2026-01-06T14:30:00+01:00", "owner": {"name": "ML Platform"},
          "status": "closed"}]
_EVENTS = [{"ts": "2026-02-01T10:00:00Z", "event": "model.promoted", "actor": "ci-bot", "model": "triage-model",
            "version": "3.3.0"},
           {"ts": "2026-02-01T10:05:00Z", "event": "model.approved", "actor": "wei.chen",
            "model": "triage-model"}]

JSON_RECORDS = RecordFormat(
    name="json_records", kind=RecordKind.JSON_RECORDS, container=Container.JSON_ARRAY,
    detect=is_object, render=render, identities=identities,
    example=Example("application/json", json.dumps(_ROWS, indent=2)))

JSON_LINES = RecordFormat(
    name="jsonl", kind=RecordKind.JSONL, container=Container.JSON_LINES,
    detect=is_object, render=render, identities=identities,
    example=Example("application/x-ndjson", "".join(json.dumps(e) + "\n" for e in _EVENTS)))
