"""Azure Activity Log events (portal/CLI exports as arrays, `{"value": [...]}` REST pages, JSON Lines)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ingest.nhi.model import Sighting
from ingest.nhi.text import scan as text_scan

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..jsonscan import loads
from ..timestamps import fmt_ts, parse_ts
from ..values import as_dict, clean_str, flatten, get, kv, label

_AZURE_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": "Storage Blob Data Contributor",
    "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1": "Storage Blob Data Reader",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
}
_AZ_SUB_RE = re.compile(r"/subscriptions/[0-9a-fA-F-]{36}(?:/resourceGroups/([^/]+))?(?:/providers)?", re.I)
_AZ_ROLE_RE = re.compile(r"(?:/subscriptions/[0-9a-fA-F-]{36})?/providers/Microsoft\.Authorization/"
                         r"roleDefinitions/([0-9a-fA-F-]{36})", re.I)
_HIDDEN_PROPS = ("entity", "hierarchy", "eventCategory", "message", "serviceRequestId", "statusCode")
_HIDDEN_KEYS = ("createdon", "updatedon", "createdby", "id", "name", "type", "policydefinitionid",
                "delegatedmanagedidentityresourceid")


def detect(o: dict) -> bool:
    return "eventTimestamp" in o and "operationName" in o and ("resourceId" in o or "caller" in o)


def _map_strings(obj: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(obj, str):
        return fn(obj)
    if isinstance(obj, dict):
        return {k: _map_strings(v, fn) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_map_strings(x, fn) for x in obj]
    return obj


def _short_azure_id(s: str) -> str:
    """'/subscriptions/<id>/resourceGroups/rg/providers/X/y' -> 'rg/X/y'; role definition ids -> names."""
    s = _AZ_ROLE_RE.sub(lambda m: _AZURE_ROLES.get(m.group(1).lower(), f"role:{m.group(1)}"), s)
    return _AZ_SUB_RE.sub(lambda m: (m.group(1) or "subscription"), s)


def _header_parts(e: dict, ts: datetime | None, op_value: Any, op_label: Any, status: str | None,
                  sub: str | None) -> list[str]:
    """Time, operation, status, caller and identity, source, resource, level, category, description."""
    claims = e.get("claims") if isinstance(e.get("claims"), dict) else {}
    parts = [fmt_ts(ts), "azure"]
    if op_label and op_label != op_value:
        parts.append(f"{op_label} ({op_value})")
    else:
        parts.append(str(op_value))
    if status:
        parts.append(f"status={status}" + (f"/{sub}" if sub else ""))
    caller = e.get("caller")
    if caller:
        parts.append(f"caller={caller}")
    name = claims.get("name")
    upn = claims.get("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn") or claims.get("upn")
    if name and name != caller:
        parts.append(f'name="{name}"')
    if upn and upn != caller:
        parts.append(f"upn={upn}")
    if claims.get("appid") and claims.get("idtyp") == "app":
        parts.append(f"app_id={claims['appid']} identity_type=app")
    ip = get(e, "httpRequest", "clientIpAddress") or claims.get("ipaddr")
    if ip:
        parts.append(f"src={ip}")
    if get(e, "httpRequest", "method"):
        parts.append(f"method={e['httpRequest']['method']}")
    if e.get("resourceId"):
        parts.append(f"resource={_short_azure_id(str(e['resourceId']))}")
    level = label(e.get("level"))
    if level and level != "Informational":
        parts.append(f"level={level}")
    category = label(e.get("category"))
    if category:
        parts.append(f"category={category}")
    if e.get("description"):
        parts.append(f'description="{clean_str(str(e["description"]), 200)}"')
    return parts


def _properties(e: dict) -> str:
    """The event's properties (request/response bodies decoded) as deduplicated key=value pairs."""
    props = e.get("properties") if isinstance(e.get("properties"), dict) else {}
    shown = {}
    for k, v in props.items():
        if v is None or k in _HIDDEN_PROPS:
            continue
        if isinstance(v, str) and v[:1] in "{[":
            try:
                v = loads(v)
            except ValueError:
                pass
        shown[k] = v
    if not shown:
        return ""

    def skip(k: str) -> bool:
        return k.rsplit(".", 1)[-1].lower() in _HIDDEN_KEYS

    pairs, seen = [], set()
    for k, v in flatten(_map_strings(shown, _short_azure_id), skip=skip):
        k = re.sub(r"^(?:requestbody|responsebody)\.", "", k, flags=re.I)
        k = re.sub(r"(?:^|\.)properties\.", lambda m: m.group(0)[:-len("properties.")], k, flags=re.I)
        dedupe = (k.rsplit(".", 1)[-1].lower(), v)
        if dedupe not in seen:
            seen.add(dedupe)
            pairs.append((k, v))
    return " " + kv(pairs, 700)


def render(e: dict, parent: dict | None = None) -> Block:
    ts = parse_ts(e.get("eventTimestamp"))
    op = e.get("operationName") or {}
    op_value = op.get("value") if isinstance(op, dict) else str(op)
    op_label = op.get("localizedValue") if isinstance(op, dict) else None
    status = label(e.get("status"))
    sub = label(e.get("subStatus"))
    text = " ".join(_header_parts(e, ts, op_value, op_label, status, sub)) + _properties(e)
    meta: dict = {}
    caller = e.get("caller")
    if caller:
        meta["principal"] = str(caller)
    if status and status.lower() == "failed":
        meta["error"] = sub or status
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=op_value, meta=meta)


_SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590"
_RG = f"{_SUB}/resourceGroups/rg-speech-prod-uks"
_EXAMPLE = [
    {"eventTimestamp": "2025-10-14T09:12:03.5Z", "caller": "ops@acme.example",
     "operationName": {"value": "Microsoft.Authorization/roleAssignments/write",
                       "localizedValue": "Create role assignment"},
     "status": {"value": "Succeeded", "localizedValue": "Succeeded"},
     "category": {"value": "Administrative"}, "level": "Informational",
     "resourceId": f"{_RG}/providers/Microsoft.Authorization/roleAssignments/x",
     "properties": {"requestbody": json.dumps({"properties": {
         "roleDefinitionId": f"{_SUB}/providers/Microsoft.Authorization/roleDefinitions/"
                             "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
         "principalId": "5c1d", "principalType": "ServicePrincipal"}})}},
    {"eventTimestamp": "2025-10-14T08:00:00Z", "caller": "ci@acme.example",
     "operationName": {"value": "Microsoft.Storage/storageAccounts/write"},
     "status": {"value": "Failed"}, "subStatus": {"value": "Forbidden"},
     "resourceId": f"{_RG}/providers/Microsoft.Storage/storageAccounts/st1",
     "properties": {"statusCode": "Forbidden", "allowSharedKeyAccess": False}},
]


# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi)

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_MI_RE = re.compile(r"/providers/Microsoft\.ManagedIdentity/userAssignedIdentities/([^/]+)", re.I)
_FIC_RE = re.compile(r"/federatedIdentityCredentials/([^/]+)", re.I)
_PRIV_AZ_ROLES = ("Owner", "Contributor", "User Access Administrator", "Role Based Access Control Administrator")
_PRIV_OPS = ("listClusterAdminCredential", "roleAssignments/write", "elevateAccess")
_UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"


def _bodies(e: dict) -> list[dict]:
    """The decoded request and response bodies of an event (JSON strings in properties)."""
    props = as_dict(e.get("properties"))
    out = []
    for k, v in props.items():
        if k.lower() in ("requestbody", "responsebody") and isinstance(v, str) and v[:1] == "{":
            try:
                doc = loads(v)
            except ValueError:
                continue
            if isinstance(doc, dict):
                out.append(doc)
    return out


def _ci(d: dict, *keys: str) -> object:
    """d[key] for the first key present, matching case-insensitively, looking inside "properties" too."""
    for src in (d, as_dict(d.get("properties")), as_dict(d.get("Properties"))):
        low = {k.lower(): v for k, v in src.items()}
        for k in keys:
            if low.get(k.lower()) is not None:
                return low[k.lower()]
    return None


def identities(e: dict, parent: dict | None = None) -> list[Sighting]:
    """Service principals calling Azure Resource Manager (app-only tokens), and the identities an operation
    acts on: role assignments to service principals, user-assigned managed identities and their federated
    credentials (and the workload subjects those trust)."""
    op = e.get("operationName") or {}
    op_value = str(op.get("value") if isinstance(op, dict) else op)
    status = label(e.get("status")) or ""
    failed = status.lower() == "failed"
    action = op_value + (f" ({status})" if status and status.lower() not in ("succeeded", "started") else "")
    claims = as_dict(e.get("claims"))
    caller = str(e.get("caller") or "")
    upn = claims.get(_UPN) or claims.get("upn")
    src = get(e, "httpRequest", "clientIpAddress") or claims.get("ipaddr")
    src = src if isinstance(src, str) else None
    out: list[Sighting] = []
    person = None
    app = claims.get("idtyp") == "app" or (_GUID_RE.match(caller) and not upn and not claims.get("name"))
    if app and caller:
        appid = claims.get("appid")
        out.append(Sighting(caller, "azure_service_principal", "azure",
                            (f"appid:{appid}",) if isinstance(appid, str) else (), action=action, source=src,
                            privileged=any(p in op_value for p in _PRIV_OPS[:1])))
    elif upn or (caller and "@" in caller):
        person = str(upn or caller)
    common = {"action": action, "actor": False, "source": src, "human": person}
    rid = str(e.get("resourceId") or "")
    bodies = _bodies(e)
    if "roleAssignments" in op_value:
        for body in bodies:
            ptype, pid = _ci(body, "principalType"), _ci(body, "principalId")
            role_id = str(_ci(body, "roleDefinitionId") or "")
            role = _AZURE_ROLES.get(role_id.rsplit("/", 1)[-1].lower(), role_id.rsplit("/", 1)[-1])
            if ptype == "ServicePrincipal" and isinstance(pid, str):
                granted = op_value.endswith("/write") and not failed and role in _PRIV_AZ_ROLES
                out.append(Sighting(pid, "azure_service_principal", "azure", privileged=granted,
                                    **{**common, "action": f"{action} {role}"}))
                break
    mi = _MI_RE.search(rid)
    if mi and "userAssignedIdentities" in op_value:
        fic = _FIC_RE.search(rid)
        event = None
        if fic and not failed and status.lower() != "started":
            event = "created" if op_value.endswith("/write") else "deleted" if op_value.endswith("/delete") else None
        owner = None
        for body in bodies:
            tags = _ci(body, "tags")
            if isinstance(tags, dict) and isinstance(tags.get("owner"), str):
                owner = tags["owner"]
        out.append(Sighting(mi.group(1), "azure_service_principal", "azure", (rid.split("/federatedIdentity")[0],),
                            credential_event=event, credential=fic.group(1) if fic else None, owner=owner, **common))
        for body in bodies:
            subject = _ci(body, "subject")
            if isinstance(subject, str):
                out += text_scan(subject, **{**common, "action": f"{action} (trusted by {mi.group(1)})"})
    return out


FORMAT = RecordFormat(
    name="azure_activity", kind=RecordKind.AZURE_ACTIVITY, container=Container.JSON_EVENTS,
    detect=detect, render=render, wrapper="value", identities=identities,
    example=Example("application/json", json.dumps(_EXAMPLE, indent=2)))
