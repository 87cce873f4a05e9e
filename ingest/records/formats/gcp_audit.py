"""Google Cloud audit log entries (`gcloud logging read` arrays, `{"entries": [...]}`, JSON Lines)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.nhi import rules as R
from ingest.nhi.model import Sighting
from ingest.nhi.text import scan as text_scan

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..timestamps import fmt_ts, parse_ts
from ..values import as_dict, as_list, clean_str, flatten, get, kv, short_ua


def detect(o: dict) -> bool:
    return isinstance(o.get("protoPayload"), dict) or ("logName" in o and "insertId" in o)


def _seconds_to_iso(obj: Any) -> Any:
    """GCP protobuf timestamps ({"seconds": N, "nanos": M}) as ISO strings, recursively."""
    if isinstance(obj, dict):
        if obj and set(obj) <= {"seconds", "nanos"} and "seconds" in obj:
            try:
                epoch = datetime(1970, 1, 1, tzinfo=UTC)
                return fmt_ts(epoch + timedelta(seconds=int(obj["seconds"])))
            except (ValueError, OverflowError, TypeError):
                return obj
        return {k: _seconds_to_iso(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_seconds_to_iso(x) for x in obj]
    return obj


def _payload_parts(p: dict, principal: str | None, method: Any) -> list[str]:
    """Service, method, principal, delegation chain, caller and resource of a protoPayload."""
    parts = [str(p.get("serviceName", "")), str(method or "")]
    if principal:
        parts.append(f"by={principal}")
    deleg = get(p, "authenticationInfo", "serviceAccountDelegationInfo")
    if isinstance(deleg, list) and deleg:
        chain = [get(d, "firstPartyPrincipal", "principalEmail") or get(d, "principalSubject")
                 for d in deleg]
        chain = [str(c) for c in chain if c]
        if chain:
            parts.append("delegated_from=" + ",".join(chain))
    rm = as_dict(p.get("requestMetadata"))
    if rm.get("callerIp"):
        parts.append(f"src={rm['callerIp']}")
    if rm.get("callerSuppliedUserAgent"):
        parts.append(f"ua=\"{short_ua(rm['callerSuppliedUserAgent'], 3)}\"")
    if p.get("resourceName"):
        parts.append(f"resource={clean_str(str(p['resourceName']), 200)}")
    return parts


def _status_and_delta(p: dict, meta: dict) -> tuple[str, list]:
    """The status (error) and IAM policy delta of a protoPayload as text, and the binding deltas."""
    text = ""
    status = as_dict(p.get("status"))
    if status.get("code") or status.get("message"):
        message = clean_str(str(status.get("message", "")), 200)
        text += f" status: code={status.get('code')} {message}".rstrip()
        for d in as_list(status.get("details")):
            for v in (d.get("violations") or []) if isinstance(d, dict) else []:
                if isinstance(v, dict) and v.get("type"):
                    text += f" violation={v['type']}"
        meta["error"] = str(status.get("message") or status.get("code"))
    delta = get(p, "serviceData", "policyDelta", "bindingDeltas") or get(p, "metadata", "datasetChange",
                                                                          "bindingDeltas") or []
    if isinstance(delta, list) and delta:
        text += " policy delta: " + "; ".join(
            f"{d.get('action')} {d.get('role')} {d.get('member')}" for d in delta[:20] if isinstance(d, dict))
    return text, delta


def _request_response(p: dict, delta: list) -> str:
    text = ""

    def skip_req(k: str) -> bool:
        return (k.endswith("@type") or k.endswith("etag") or k == "updateMask"
                or (bool(delta) and k.startswith("policy")))

    if isinstance(p.get("request"), dict):
        req = kv(flatten(_seconds_to_iso(p["request"]), skip=skip_req), 700)
        if req:
            text += " request: " + req
    if isinstance(p.get("response"), dict):
        def skip_resp(k: str) -> bool:
            return k.endswith("@type") or k.endswith("etag") or (bool(delta) and k.startswith("bindings"))
        resp = kv(flatten(_seconds_to_iso(p["response"]), skip=skip_resp), 300)
        if resp:
            text += " response: " + resp
    return text


def render(e: dict, parent: dict | None = None) -> Block:
    ts = parse_ts(e.get("timestamp")) or parse_ts(e.get("receiveTimestamp"))
    p = e.get("protoPayload") if isinstance(e.get("protoPayload"), dict) else {}
    principal = (get(p, "authenticationInfo", "principalEmail")
                 or get(p, "authenticationInfo", "principalSubject"))
    method = p.get("methodName")
    parts = [fmt_ts(ts), "gcp"]
    if p:
        parts += _payload_parts(p, principal, method)
    res = as_dict(e.get("resource"))
    if res.get("type"):
        labels = kv(flatten(res.get("labels") or {}, skip=lambda k: k.endswith("unique_id")), 200)
        parts.append(f"resource_type={res['type']}" + (f" ({labels})" if labels else ""))
    if e.get("severity"):
        parts.append(f"severity={e['severity']}")
    authz = p.get("authorizationInfo")
    if isinstance(authz, list) and authz:
        perms = [f"{a.get('permission')}{'' if a.get('granted', True) else ' (denied)'}"
                 for a in authz[:5] if isinstance(a, dict) and a.get("permission")]
        if perms:
            parts.append("permission=" + ",".join(perms))
    text = " ".join(x for x in parts if x)
    meta: dict = {"principal": principal} if principal else {}
    status_text, delta = _status_and_delta(p, meta)
    text += status_text + _request_response(p, delta)
    if e.get("textPayload"):
        text += " " + clean_str(str(e["textPayload"]), 1000)
    if isinstance(e.get("jsonPayload"), dict):
        text += " " + kv(flatten(e["jsonPayload"]), 600)
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=method or e.get("logName"),
                 meta=meta)


_EXAMPLE = [
    {"protoPayload": {"@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                      "serviceName": "iam.googleapis.com",
                      "methodName": "google.iam.admin.v1.CreateServiceAccountKey",
                      "authenticationInfo": {"principalEmail": "deploy@acme-ml-prod.iam.gserviceaccount.com"},
                      "requestMetadata": {"callerIp": "10.2.0.4",
                                          "callerSuppliedUserAgent": "google-cloud-sdk gcloud/460"},
                      "resourceName": "projects/-/serviceAccounts/trainer@acme-ml-prod.iam.gserviceaccount",
                      "request": {"private_key_type": 2, "valid_before_time": {"seconds": 253402300799}}},
     "insertId": "a1", "resource": {"type": "service_account", "labels": {"project_id": "acme-ml-prod"}},
     "timestamp": "2025-11-04T10:15:00.123456Z", "severity": "NOTICE",
     "logName": "projects/acme-ml-prod/logs/cloudaudit.googleapis.com%2Factivity"},
    {"protoPayload": {"serviceName": "cloudresourcemanager.googleapis.com", "methodName": "SetIamPolicy",
                      "authenticationInfo": {"principalEmail": "alice@example.org"},
                      "serviceData": {"policyDelta": {"bindingDeltas": [
                          {"action": "ADD", "role": "roles/owner", "member": "user:bob@example.org"}]}},
                      "status": {"code": 7, "message": "Permission denied"}},
     "insertId": "a2", "timestamp": "2025-11-03T08:00:00Z",
     "logName": "projects/acme-ml-prod/logs/cloudaudit.googleapis.com%2Factivity"},
]


# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi)

_SA_EMAIL = r"[a-z0-9][a-z0-9-]*@[a-z0-9-]+\.iam\.gserviceaccount\.com|[\w.-]+@[\w.-]*gserviceaccount\.com"
_SA_RES_RE = re.compile(rf"serviceAccounts/({_SA_EMAIL})(?:/keys/([0-9A-Za-z]+))?")
_KEY_EVENTS = {"CreateServiceAccountKey": "created", "UploadServiceAccountKey": "created",
               "DeleteServiceAccountKey": "deleted", "DisableServiceAccountKey": "deleted"}
_TOKEN_METHODS = ("GenerateAccessToken", "GenerateIdToken", "SignBlob", "SignJwt")


def _member(member: str, **kw) -> list[Sighting]:
    """An IAM binding member that is a machine identity: serviceAccount:EMAIL, a GKE workload identity, a
    workload-identity principal (set) of GitHub Actions."""
    kind, _, ident = member.partition(":")
    if kind == "serviceAccount" and ident.endswith("gserviceaccount.com"):
        return [Sighting(ident, "gcp_service_account", "gcp", **kw)]
    if kind in ("user", "group", "domain") or member in ("allUsers", "allAuthenticatedUsers"):
        return []
    return text_scan(member, **kw)


def identities(e: dict, parent: dict | None = None) -> list[Sighting]:
    """The caller when it is a service account (a person impersonating it is human use), and the service
    accounts the call acts on: keys created and deleted, accounts created or disabled, roles bound to them,
    and identities allowed to impersonate them."""
    p = e.get("protoPayload") if isinstance(e.get("protoPayload"), dict) else {}
    if not p:
        return []
    ai = as_dict(p.get("authenticationInfo"))
    principal = str(ai.get("principalEmail") or ai.get("principalSubject") or "")
    method_full = str(p.get("methodName") or "")
    method = method_full.rsplit(".", 1)[-1]
    status = as_dict(p.get("status"))
    failed = bool(status.get("code"))
    action = method + (f" (denied: {clean_str(str(status.get('message') or status.get('code')), 80)})"
                       if failed else "")
    rm = as_dict(p.get("requestMetadata"))
    src = rm.get("callerIp") if isinstance(rm.get("callerIp"), str) else None
    tool = R.ua_tool(rm.get("callerSuppliedUserAgent"))
    deleg = [get(d, "firstPartyPrincipal", "principalEmail") for d in
             as_list(ai.get("serviceAccountDelegationInfo")) if isinstance(d, dict)]
    delegator = next((d for d in deleg if isinstance(d, str) and R.person_like(d)), None)
    out: list[Sighting] = []
    person = None
    if principal.endswith("gserviceaccount.com"):
        expired = failed and "expired" in str(status.get("message") or "").lower()
        out.append(Sighting(principal, "gcp_service_account", "gcp", action=action, workload=tool, source=src,
                            credential_event="used_after_expiry" if expired else None,
                            human_use=delegator is not None, human=delegator))
    elif principal.startswith("principal"):      # a federated workload (GitHub Actions, a k8s service account)
        out += text_scan(principal, action=action, workload=tool, source=src)
    elif principal:
        person = principal if R.person_like(principal) else None
    common = {"action": action, "actor": False, "source": src, "human": person}
    req = as_dict(p.get("request"))
    resp = as_dict(p.get("response"))
    names = " ".join(str(x) for x in (req.get("name"), resp.get("name"), resp.get("email"), p.get("resourceName"),
                                       req.get("resource")) if isinstance(x, str))
    targets: dict[str, str | None] = {}
    for m in _SA_RES_RE.finditer(names):
        if m.group(1) != principal or method in _KEY_EVENTS:
            targets.setdefault(m.group(1), None)
            if m.group(2):
                targets[m.group(1)] = targets[m.group(1)] or m.group(2)
    for sa, key in targets.items():
        event = None if failed else _KEY_EVENTS.get(method)
        human_use = person is not None and method in _TOKEN_METHODS
        out.append(Sighting(sa, "gcp_service_account", "gcp", credential_event=event, credential=key,
                            human_use=human_use, **common))
    delta = get(p, "serviceData", "policyDelta", "bindingDeltas") or []
    on_sa = next(iter(targets), None)
    for d in delta if isinstance(delta, list) else ():
        if not isinstance(d, dict) or not isinstance(d.get("member"), str):
            continue
        role = str(d.get("role") or "")
        act = f"{action} {d.get('action', '')} {role}".strip() + (f" on {on_sa}" if on_sa else "")
        granted = d.get("action") == "ADD" and R.privileged_role(role)
        out += _member(d["member"], privileged=granted, **{**common, "action": act})
    return out


FORMAT = RecordFormat(
    name="gcp_audit", kind=RecordKind.GCP_AUDIT, container=Container.JSON_EVENTS,
    detect=detect, render=render, wrapper="entries", identities=identities,
    example=Example("application/json", json.dumps(_EXAMPLE, indent=2)))
