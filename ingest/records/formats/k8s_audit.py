"""Kubernetes API server audit events (audit log backend JSON Lines, `{"items": [...]}` EventLists)."""

from __future__ import annotations

import json

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..timestamps import fmt_ts, parse_ts
from ..values import as_dict, flatten, fmt_val, get, kv, short_ua


def detect(o: dict) -> bool:
    return o.get("kind") == "Event" and "auditID" in o and "verb" in o


def _skip_request_key(k: str) -> bool:
    return k.endswith("creationTimestamp") or k.endswith("managedFields") or k == "apiVersion"


def render(e: dict, parent: dict | None = None) -> Block:
    ts = parse_ts(e.get("requestReceivedTimestamp")) or parse_ts(e.get("stageTimestamp"))
    ref = as_dict(e.get("objectRef"))
    user = as_dict(e.get("user"))
    username = user.get("username")
    resource = str(ref.get("resource") or "")
    if ref.get("subresource"):
        resource += f"/{ref['subresource']}"
    target = "/".join(str(x) for x in (ref.get("namespace"), ref.get("name")) if x)
    parts = [fmt_ts(ts), "k8s", str(e.get("verb", "")), resource or str(e.get("requestURI", ""))]
    if target:
        parts.append(target)
    if ref.get("apiGroup"):
        parts.append(f"group={ref['apiGroup']}")
    if username:
        parts.append(f"user={username}")
    imp = get(e, "impersonatedUser", "username")
    if imp:
        parts.append(f"impersonated={imp}")
    pod = get(user, "extra", "authentication.kubernetes.io/pod-name")
    if pod:
        parts.append(f"pod={fmt_val(pod)}")
    if e.get("sourceIPs"):
        parts.append(f"src={fmt_val(e['sourceIPs'])}")
    if e.get("userAgent"):
        parts.append(f"ua={short_ua(e['userAgent'])}")
    if e.get("stage") and e["stage"] != "ResponseComplete":
        parts.append(f"stage={e['stage']}")
    rs = as_dict(e.get("responseStatus"))
    code = rs.get("code")
    if code is not None:
        parts.append(f"code={code}")
    ann = as_dict(e.get("annotations"))
    decision = ann.get("authorization.k8s.io/decision")
    if decision:
        parts.append(f"decision={decision}")
    reason = ann.get("authorization.k8s.io/reason")
    if reason:
        parts.append(f"reason={fmt_val(reason)}")
    text = " ".join(parts)
    if rs.get("message"):
        text += f" message={fmt_val(rs['message'])}"
    if isinstance(e.get("requestObject"), dict):
        req = kv(flatten(e["requestObject"], skip=_skip_request_key), 400)
        if req:
            text += " request: " + req
    meta: dict = {}
    if username:
        meta["principal"] = username
    if isinstance(code, int):
        meta["code"] = code
    section = f"{e.get('verb', '')} {resource}".strip() or None
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=section, meta=meta)


_EXAMPLE = [
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "4f1c-01",
     "stage": "ResponseComplete", "requestURI": "/api/v1/namespaces/speech/secrets/asr-sp", "verb": "get",
     "user": {"username": "system:serviceaccount:speech:asr-worker"}, "sourceIPs": ["10.240.0.17"],
     "userAgent": "kubectl/v1.29.2 (linux/amd64)",
     "objectRef": {"resource": "secrets", "namespace": "speech", "name": "asr-sp", "apiVersion": "v1"},
     "responseStatus": {"metadata": {}, "code": 403, "message": "forbidden"},
     "annotations": {"authorization.k8s.io/decision": "forbid"},
     "requestReceivedTimestamp": "2025-12-02T08:14:03.123456Z",
     "stageTimestamp": "2025-12-02T08:14:03.130000Z"},
    {"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": "4f1c-02",
     "stage": "ResponseComplete", "verb": "create", "user": {"username": "alice@acme.example"},
     "objectRef": {"resource": "serviceaccounts", "subresource": "token", "namespace": "speech",
                   "name": "asr"},
     "requestObject": {"spec": {"expirationSeconds": 28800}}, "responseStatus": {"code": 201},
     "requestReceivedTimestamp": "2025-12-02T08:20:00Z"},
]

FORMAT = RecordFormat(
    name="k8s_audit", kind=RecordKind.K8S_AUDIT, container=Container.JSON_EVENTS,
    detect=detect, render=render, wrapper="items",
    example=Example("application/x-ndjson", "".join(json.dumps(e) + "\n" for e in _EXAMPLE)))
