"""AWS CloudTrail events: `{"Records": [...]}` log files, `lookup-events` arrays, JSON Lines, single ones."""

from __future__ import annotations

import json
import re

from ingest.nhi import rules as R
from ingest.nhi.model import Sighting
from ingest.nhi.text import scan as text_scan

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..jsonscan import loads
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



# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi)

_IAM_USER_EVENTS = {"CreateAccessKey": "created", "UpdateAccessKey": "rotated", "DeleteAccessKey": "deleted"}
_TARGET_PARAMS = frozenset(("userName", "roleName", "roleArn", "accessKeyId"))


def _tags(params: dict) -> dict[str, str]:
    return {str(t.get("key") or t.get("Key")).lower(): str(t.get("value") or t.get("Value"))
            for t in params.get("tags") or () if isinstance(t, dict)}


def _actor(e: dict, uid: dict, tool: str | None, src: str | None, action: str) -> tuple[list[Sighting], str | None]:
    """The caller's sightings (none for a person) and the person behind the call, if one is shown."""
    typ = uid.get("type")
    ua = e.get("userAgent")
    key = uid.get("accessKeyId") if isinstance(uid.get("accessKeyId"), str) else None
    mfa = str(get(uid, "sessionContext", "attributes", "mfaAuthenticated") or "").lower() == "true"
    console = R.browser_ua(ua) or e.get("eventName") == "ConsoleLogin"
    out: list[Sighting] = []
    if typ == "AssumedRole" or (typ is None and "assumed-role/" in str(uid.get("arn", ""))):
        arn = str(uid.get("arn") or "")
        conv = R.assumed_to_role(arn)
        issuer = get(uid, "sessionContext", "sessionIssuer", "arn")
        if conv is None:
            if not issuer:
                return [], None
            conv = (str(issuer), str(issuer).rsplit("/", 1)[-1], "")
        role, name, session = conv
        if R.human_sso_role(name):          # a person signed in through IAM Identity Center
            return [], R.person_from_session(session) or session or None
        person = R.person_from_session(session)
        human_use = console or person is not None
        out.append(Sighting(str(issuer or role), "aws_iam_role", "aws", (arn,) if arn else (), action=action,
                            credential=key, workload=tool, source=src, human_use=human_use, human=person))
    elif typ == "IAMUser":
        arn = str(uid.get("arn") or "")
        name = str(uid.get("userName") or arn.rsplit("/", 1)[-1])
        if not name or (not R.service_like(name) and (R.person_like(name) or console or mfa)):
            return [], name or None                  # a person's IAM user
        out.append(Sighting(arn or name, "aws_iam_user", "aws", action=action,
                            credential=key, workload=tool, source=src, human_use=console))
    elif typ in ("WebIdentityUser", "SAMLUser"):
        who = str(uid.get("userName") or uid.get("principalId") or "")
        found = text_scan(who, action=action, source=src, workload=tool)
        return found, None
    else:   # AWS services, the account root, federated users: not inventoried here
        return [], None
    if key:
        out.append(Sighting(key, "aws_access_key", "aws", action=f"{action} [{R.key_kind(key)} key]",
                            credential=key, workload=tool, source=src, human_use=out[0].human_use,
                            human=out[0].human))
    return out, None


def _targets(e: dict, action: str, human: str | None, failed: bool) -> list[Sighting]:
    """Identities the call acts on: IAM users and their access keys, roles and their policies, assumed roles."""
    params = as_dict(e.get("requestParameters"))
    if not params or _TARGET_PARAMS.isdisjoint(params):
        return []                      # the call names no identity (GetSecretValue, GetObject, ...)
    resp = as_dict(e.get("responseElements"))
    name = str(e.get("eventName") or "")
    acct = str(e.get("recipientAccountId") or get(e, "userIdentity", "accountId") or "")
    out: list[Sighting] = []
    common = {"action": action, "actor": False, "human": human}
    user = params.get("userName")
    if isinstance(user, str) and user and R.software_account(user):
        ident = f"arn:aws:iam::{acct}:user/{user}" if acct else user
        event = None if failed else _IAM_USER_EVENTS.get(name)
        key = params.get("accessKeyId") or get(resp, "accessKey", "accessKeyId")
        key = key if isinstance(key, str) else None
        policy = str(params.get("policyArn") or params.get("policyDocument") or "")
        privileged = name.startswith(("Attach", "Put")) and (R.privileged_role(policy) or R.wildcard_policy(policy))
        owner = _tags(params).get("owner")
        out.append(Sighting(ident, "aws_iam_user", "aws", credential_event=event, credential=key,
                            owner=owner, privileged=privileged, **common))
        if key:
            out.append(Sighting(key, "aws_access_key", "aws", credential_event=event, credential=key,
                                **common))
    elif name == "GetAccessKeyLastUsed" and isinstance(params.get("accessKeyId"), str):
        key = params["accessKeyId"]
        out.append(Sighting(key, "aws_access_key", "aws", credential=key, **common))
    role = params.get("roleName")
    if isinstance(role, str) and role and not R.human_sso_role(role):
        policy = str(params.get("policyArn") or params.get("policyDocument") or "")
        privileged = name.startswith(("Attach", "Put")) and (R.privileged_role(policy) or R.wildcard_policy(policy))
        ident = R.role_arn(acct, role) if acct else role
        out.append(Sighting(ident, "aws_iam_role", "aws", owner=_tags(params).get("owner"),
                            privileged=privileged, **common))
        trust = params.get("assumeRolePolicyDocument") or params.get("policyDocument")
        if isinstance(trust, str):     # who may assume it: service accounts, Actions subjects, other roles
            out += [s for s in text_scan(trust, action=f"{action} (trust policy of {role})", actor=False)
                    if s.identity != ident]
    target_role = params.get("roleArn")
    if isinstance(target_role, str) and name.startswith("AssumeRole"):
        conv = R.assumed_to_role(str(get(resp, "assumedRoleUser", "arn") or ""))
        key = get(resp, "credentials", "accessKeyId")
        key = key if isinstance(key, str) else None
        if not R.human_sso_role(target_role.rsplit("/", 1)[-1]):
            out.append(Sighting(target_role, "aws_iam_role", "aws", (conv and get(resp, "assumedRoleUser", "arn"),)
                                if conv else (), credential=key, human_use=human is not None,
                                source=e.get("sourceIPAddress"), **common))
    return out


def identities(e: dict, parent: dict | None = None) -> list[Sighting]:
    """The caller (roles under their role ARN, IAM users used by software, access keys) and the identities the
    call acts on. A `lookup-events` item is read through its CloudTrailEvent document."""
    if isinstance(e.get("CloudTrailEvent"), str):
        try:
            inner = loads(e["CloudTrailEvent"])
        except ValueError:
            inner = None
        if isinstance(inner, dict):
            e = inner
    uid = as_dict(e.get("userIdentity"))
    err = e.get("errorCode")
    action = str(e.get("eventName") or "") + (f" ({err})" if err else "")
    src = e.get("sourceIPAddress") if isinstance(e.get("sourceIPAddress"), str) else None
    tool = R.ua_tool(e.get("userAgent"))
    found, human = _actor(e, uid, tool, src, action)
    if err and ("Expired" in str(err) or "expired" in str(e.get("errorMessage") or "").lower()):
        found = [s.with_(credential_event="used_after_expiry") for s in found]   # an expired credential tried
    found += _targets(e, action, human, bool(err))
    return found


FORMAT = RecordFormat(
    name="cloudtrail", kind=RecordKind.CLOUDTRAIL, container=Container.JSON_EVENTS,
    detect=detect, render=render, wrapper="Records", identities=identities,
    example=Example("application/json", json.dumps(_EXAMPLE, indent=2)))
