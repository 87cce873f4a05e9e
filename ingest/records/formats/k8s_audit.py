"""Kubernetes API server audit events (audit log backend JSON Lines, `{"items": [...]}` EventLists)."""

from __future__ import annotations

import json

from ingest.nhi import rules as R
from ingest.nhi.model import PENDING, Sighting

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


# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi)

_SA_PREFIX = "system:serviceaccount:"
_POD_KEY = "authentication.kubernetes.io/pod-name"
_CRED_KEY = "authentication.kubernetes.io/credential-id"
_BINDINGS = ("rolebindings", "clusterrolebindings")
_ACTED_ON = ("serviceaccounts", *_BINDINGS)


def _privileged_reason(reason: str) -> bool:
    return 'ClusterRole "cluster-admin"' in reason or 'ClusterRole "admin"' in reason or "system:masters" in reason


def _first(v: object) -> str | None:
    if isinstance(v, list):
        v = v[0] if v else None
    return v if isinstance(v, str) and v else None


def _requester(username: str, user: dict) -> tuple[str | None, bool]:
    """(person, is_platform): the person behind a non-service-account user, or whether it is the platform."""
    if username.startswith("system:"):
        return None, True            # nodes, controllers, the scheduler: the platform's own identities
    if username.startswith("arn:aws:sts::"):
        conv = R.assumed_to_role(username)
        if conv and R.human_sso_role(conv[1]):
            return R.person_from_session(conv[2]) or conv[2], False
        return None, False
    session = _first(as_dict(user.get("extra")).get("sessionName"))
    return (R.person_from_session(session) if session else None) or \
        (username if R.person_like(username) else None), False


def _subjects(obj: dict) -> list[tuple[str, str]]:
    out = []
    for s in obj.get("subjects") or ():
        if isinstance(s, dict) and s.get("kind") == "ServiceAccount" and s.get("name") and s.get("namespace"):
            out.append((str(s["namespace"]), str(s["name"])))
    return out


def identities(e: dict, parent: dict | None = None) -> list[Sighting]:
    """Service accounts acting (their pod, client, source address; cluster-admin use; a token used from a
    workstation), and service accounts acted on: tokens minted for them, bindings that grant them roles,
    accounts created, pods of theirs a person opens a shell in."""
    user = as_dict(e.get("user"))
    username = str(user.get("username") or "")
    ref = as_dict(e.get("objectRef"))
    resource = str(ref.get("resource") or "")
    if username.startswith("system:") and not username.startswith(_SA_PREFIX) and resource not in _ACTED_ON \
            and not e.get("impersonatedUser"):
        return []                     # the platform's own identities at work: nodes, controllers, scheduler
    verb = str(e.get("verb") or "")
    sub = str(ref.get("subresource") or "")
    ns, name = str(ref.get("namespace") or ""), str(ref.get("name") or "")
    code = as_dict(e.get("responseStatus")).get("code")
    ann = as_dict(e.get("annotations"))
    denied = ann.get("authorization.k8s.io/decision") == "forbid" or code in (401, 403)
    action = f"{verb} {resource}{'/' + sub if sub else ''}" + (" (forbidden)" if denied else "")
    ips = e.get("sourceIPs")
    src = _first(ips)
    ua = e.get("userAgent")
    tool = R.ua_tool(ua)
    extra = as_dict(user.get("extra"))
    reason = str(ann.get("authorization.k8s.io/reason") or "")
    impersonated = str(get(e, "impersonatedUser", "username") or "")
    out: list[Sighting] = []
    person = None
    if username.startswith(_SA_PREFIX):
        pod = _first(extra.get(_POD_KEY))
        # A service account token used by a client on a workstation, outside any pod: a person holds it.
        human_use = pod is None and R.desktop_ua(ua)
        privileged = bool(reason) and _privileged_reason(reason) or bool(impersonated)
        expired = code == 401 and "expired" in str(as_dict(e.get("responseStatus")).get("message") or "")
        out.append(Sighting(username, "k8s_service_account", "kubernetes", (), action=action,
                            credential_event="used_after_expiry" if expired else None,
                            credential=_first(extra.get(_CRED_KEY)), workload=pod or tool, source=src,
                            privileged=privileged, human_use=human_use))
        actor_human_use = human_use
    else:
        person, platform = _requester(username, user)
        actor_human_use = person is not None
        if platform or person is not None:
            pass
        elif username.startswith("arn:aws:sts::") and (conv := R.assumed_to_role(username)):
            out.append(Sighting(conv[0], "aws_iam_role", "aws", (username,), action=action, workload=tool,
                                source=src, privileged=_privileged_reason(reason)))
        elif username and R.software_account(username):
            out.append(Sighting(username, "other", "kubernetes", action=action, workload=tool, source=src,
                                privileged=_privileged_reason(reason)))
    if resource not in _ACTED_ON and sub not in ("exec", "attach") and not impersonated:
        return out                    # nothing acted on: the common case of a service account at work
    common = {"action": action, "actor": False, "source": src, "human": person}
    if resource == "serviceaccounts" and ns and name:
        ident = R.k8s_sa(ns, name)
        if sub == "token" and verb == "create":
            if username.startswith("system:node:"):      # the kubelet fetching a pod's projected token
                out.append(Sighting(ident, "k8s_service_account", "kubernetes", action="token issued to kubelet",
                                    actor=False, source=username[len("system:node:"):]))
            elif ident != username:
                out.append(Sighting(ident, "k8s_service_account", "kubernetes",
                                    credential_event=None if denied else "created",
                                    human_use=actor_human_use, **common))
        elif ident != username:
            out.append(Sighting(ident, "k8s_service_account", "kubernetes", **common))
    req = e.get("requestObject") if isinstance(e.get("requestObject"), dict) else {}
    if resource == "serviceaccounts" and verb == "create" and not name and req:
        md = as_dict(req.get("metadata"))
        if md.get("name"):
            role = _first(as_dict(md.get("annotations")).get("eks.amazonaws.com/role-arn"))
            out.append(Sighting(R.k8s_sa(str(md.get("namespace") or ns), str(md["name"])), "k8s_service_account",
                                "kubernetes", **common))
            if role:
                out.append(Sighting(role, "aws_iam_role", "aws", **common))
    if resource in _BINDINGS and req:
        role_ref = str(get(req, "roleRef", "name") or "")
        granted = R.privileged_role(role_ref) or role_ref == "admin"
        for sns, sname in _subjects(req):
            out.append(Sighting(R.k8s_sa(sns, sname), "k8s_service_account", "kubernetes",
                                privileged=granted and verb in ("create", "update", "patch"),
                                **{**common, "action": f"{action} {role_ref}".rstrip()}))
    if resource == "pods" and sub in ("exec", "attach") and ns and name and person is not None:
        out.append(Sighting(PENDING + f"pod:{ns}/{name}", "k8s_service_account", "kubernetes",
                            human_use=True, workload=name, **common))
    if impersonated.startswith(_SA_PREFIX):
        out.append(Sighting(impersonated, "k8s_service_account", "kubernetes", privileged=False,
                            human_use=actor_human_use, **{**common, "action": f"{action} (impersonated)"}))
    return out


FORMAT = RecordFormat(
    name="k8s_audit", kind=RecordKind.K8S_AUDIT, container=Container.JSON_EVENTS,
    detect=detect, render=render, wrapper="items", identities=identities,
    example=Example("application/x-ndjson", "".join(json.dumps(e) + "\n" for e in _EXAMPLE)))
