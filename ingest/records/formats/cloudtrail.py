"""AWS CloudTrail events: `{"Records": [...]}` log files, `lookup-events` arrays, JSON Lines, single ones."""

from __future__ import annotations

import json
import re

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..timestamps import fmt_ts, parse_ts
from ..values import as_dict, clean_str, flatten, fmt_val, get, kv, short_ua

_SECRET_RE = re.compile(r"secretAccessKey|sessionToken|password", re.I)


def detect(o: dict) -> bool:
    return "eventTime" in o and "eventName" in o and ("eventSource" in o or "userIdentity" in o)


def render(e: dict, parent: dict | None = None) -> Block:
    ts = parse_ts(e.get("eventTime"))
    uid = as_dict(e.get("userIdentity"))
    principal = (uid.get("arn") or get(uid, "sessionContext", "sessionIssuer", "arn")
                 or uid.get("principalId") or uid.get("invokedBy") or uid.get("type"))
    parts = [fmt_ts(ts), "cloudtrail", str(e.get("eventSource", "")), str(e.get("eventName", ""))]
    if principal:
        parts.append(f"by={principal}")
    if uid.get("type"):
        parts.append(f"identity_type={uid['type']}")
    issuer = get(uid, "sessionContext", "sessionIssuer", "arn")
    if issuer and issuer != principal:
        parts.append(f"via={issuer}")
    mfa = (get(uid, "sessionContext", "attributes", "mfaAuthenticated")
           or get(e, "additionalEventData", "MFAUsed"))
    if mfa:
        parts.append(f"mfa={mfa}")
    for key, label in (("sourceIPAddress", "src"), ("awsRegion", "region"),
                       ("recipientAccountId", "account")):
        if e.get(key):
            parts.append(f"{label}={e[key]}")
    if e.get("userAgent"):
        parts.append(f"ua={short_ua(e['userAgent'])}")
    if e.get("readOnly") is not None:
        parts.append(f"read_only={fmt_val(e['readOnly'])}")
    text = " ".join(parts)
    if isinstance(e.get("requestParameters"), dict) and e["requestParameters"]:
        text += " params: " + kv(flatten(e["requestParameters"]), 300)
    if isinstance(e.get("responseElements"), dict) and e["responseElements"]:
        resp = kv(flatten(e["responseElements"], skip=lambda k: bool(_SECRET_RE.search(k))), 200)
        if resp:
            text += " response: " + resp
    meta: dict = {"principal": principal} if principal else {}
    if e.get("errorCode"):
        text += f" error={e['errorCode']}"
        if e.get("errorMessage"):
            text += f": {clean_str(str(e['errorMessage']), 200)}"
        meta["error"] = str(e["errorCode"])
    return Block(text=text, kind="event", ts_start=ts, ts_end=ts, section=e.get("eventName"), meta=meta)


_EXAMPLE = {"Records": [
    {"eventTime": "2026-01-05T10:00:00Z", "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
     "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice"},
     "sourceIPAddress": "203.0.113.7", "awsRegion": "us-east-1", "requestParameters": {"userName": "svc-etl"},
     "responseElements": {"accessKey": {"accessKeyId": "AKIAEXAMPLE", "secretAccessKey": "s3cr3t"}}},
    {"eventTime": "2026-01-05T09:00:00Z", "eventSource": "s3.amazonaws.com", "eventName": "PutBucketPolicy",
     "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/ci/gh"},
     "sourceIPAddress": "198.51.100.2", "errorCode": "AccessDenied", "errorMessage": "not authorized"},
]}

FORMAT = RecordFormat(
    name="cloudtrail", kind=RecordKind.CLOUDTRAIL, container=Container.JSON_EVENTS,
    detect=detect, render=render, wrapper="Records",
    example=Example("application/json", json.dumps(_EXAMPLE, indent=2)))
