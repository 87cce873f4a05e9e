"""HashiCorp Vault audit device entries (file device JSON Lines: request and response entries)."""

from __future__ import annotations

import json
import re

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..timestamps import fmt_ts, parse_ts
from ..values import fmt_val, get


def detect(o: dict) -> bool:
    return o.get("type") in ("request", "response") and "time" in o and isinstance(o.get("request"), dict)


def _vault_identity(auth: dict) -> list[str]:
    out = []
    if auth.get("display_name"):
        out.append(f"display_name={auth['display_name']}")
    md = auth.get("metadata") if isinstance(auth.get("metadata"), dict) else {}
    for k in ("role", "role_name", "email", "username"):
        if md.get(k):
            out.append(f"{k}={md[k]}")
    if md.get("service_account_name"):
        out.append(f"service_account={md.get('service_account_namespace', '')}/{md['service_account_name']}")
    pol = auth.get("policies") or auth.get("token_policies")
    if pol:
        out.append(f"policies={fmt_val(pol)}")
    if auth.get("token_ttl"):
        out.append(f"token_ttl={auth['token_ttl']}s")
    return out


def render(e: dict, parent: dict | None = None) -> Block:
    ts = parse_ts(e.get("time"))
    req = e.get("request") or {}
    auth = e.get("auth") if isinstance(e.get("auth"), dict) else {}
    parts = [fmt_ts(ts), "vault", str(e.get("type", "")), str(req.get("operation", "")),
             str(req.get("path", ""))]
    if auth:
        parts += _vault_identity(auth)
        allowed = get(auth, "policy_results", "allowed")
        if allowed is not None:
            parts.append(f"allowed={fmt_val(allowed)}")
    if req.get("remote_address"):
        parts.append(f"remote={req['remote_address']}")
    if isinstance(req.get("data"), dict) and req["data"]:
        parts.append("request_keys=" + ",".join(list(req["data"])[:12]))
    resp = e.get("response") if isinstance(e.get("response"), dict) else {}
    if isinstance(resp.get("auth"), dict) and resp["auth"]:
        parts.append("issued_token:")
        parts += _vault_identity(resp["auth"])
    data = resp.get("data")
    if isinstance(data, dict) and data:
        keys = list(data["data"]) if isinstance(data.get("data"), dict) else list(data)
        parts.append("data_keys=" + ",".join(keys[:12]))
    if resp.get("lease_duration"):
        parts.append(f"lease_duration={resp['lease_duration']}s")
    text = " ".join(x for x in parts if x)
    meta: dict = {}
    principal = auth.get("display_name") or get(resp, "auth", "display_name")
    if principal:
        meta["principal"] = principal
    if e.get("error"):
        msgs = [m.strip(" *\t") for m in str(e["error"]).splitlines() if m.strip(" *\t")]
        msgs = [m for m in msgs if not re.fullmatch(r"\d+ errors? occurred:", m)] or msgs
        err = "; ".join(msgs)
        text += f" error={fmt_val(err)}"
        meta["error"] = err[:200]
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=req.get("path") or None, meta=meta)


_HMAC = "hmac-sha256:" + "3f9a" * 16
_EXAMPLE = [
    {"time": "2026-01-19T00:00:10.5Z", "type": "request",
     "auth": {"display_name": "kubernetes-speech-asr", "policies": ["default", "speech-read"],
              "metadata": {"role": "speech-asr", "service_account_name": "asr",
                           "service_account_namespace": "speech"},
              "policy_results": {"allowed": False}},
     "request": {"operation": "read", "path": "secret/data/speech/transcription-sp",
                 "remote_address": "10.240.0.17", "client_token": _HMAC},
     "error": "1 error occurred:\n\t* permission denied\n\n"},
    {"time": "2026-01-19T00:00:12Z", "type": "response",
     "request": {"operation": "update", "path": "auth/kubernetes/login",
                 "data": {"jwt": _HMAC, "role": _HMAC}},
     "response": {"auth": {"display_name": "kubernetes-speech-asr",
                           "token_policies": ["default", "speech-read"], "token_ttl": 3600}}},
]

FORMAT = RecordFormat(
    name="vault_audit", kind=RecordKind.VAULT_AUDIT, container=Container.JSON_EVENTS,
    detect=detect, render=render,
    example=Example("application/x-ndjson", "".join(json.dumps(e) + "\n" for e in _EXAMPLE)))
