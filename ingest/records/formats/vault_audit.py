"""HashiCorp Vault audit device entries (file device JSON Lines: request and response entries)."""

from __future__ import annotations

import json
import re

from ingest.nhi import rules as R
from ingest.nhi.extract import LINK
from ingest.nhi.model import PENDING, Sighting

from ..base import Block, Container, Example, RecordFormat, RecordKind
from ..timestamps import fmt_ts, parse_ts
from ..values import as_dict, fmt_val, get


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


# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi)

_LOGIN_RE = re.compile(r"^auth/([^/]+)/(?:login|oidc/callback|callback)(?:/|$)")
_ROLE_PATH_RE = re.compile(r"^auth/([^/]+)/role/([^/]+)(?:/(.*))?$")
_PERSON_METHODS = ("oidc", "userpass", "ldap", "okta", "saml", "github", "radius")
_GENERIC_DISPLAY = ("", "approle", "token", "root", "kubernetes", "jwt", "cert", "aws", "gcp", "azure")


def _str(v: object) -> str | None:
    return v if isinstance(v, str) and v else None


def _who(auth: dict, mount: str | None = None) -> tuple[str | None, str, str, tuple[str, ...], str | None, str]:
    """(identity, kind, provider, aliases, person, via) of a token's auth block; identity None for a person.

    Aliases are names only this identity has (a specific display name, the Vault entity): the inventory merges
    sightings that share one. `via` names the Vault role a Kubernetes service account logged in through (several
    accounts may share one, so it is not an alias)."""
    md = auth.get("metadata") if isinstance(auth.get("metadata"), dict) else {}
    display = _str(auth.get("display_name")) or ""
    entity = _str(auth.get("entity_id"))
    specific = display if display not in _GENERIC_DISPLAY else None
    aliases = tuple(a for a in (specific, f"entity:{entity}" if entity else None) if a)
    person = _str(md.get("email")) or _str(md.get("username")) or R.person_from_session(display)
    sa, sa_ns = _str(md.get("service_account_name")), _str(md.get("service_account_namespace"))
    # A Vault role is named as the audit log writes it (`metadata.role` / `role_name`); its mount path and, for a
    # Kubernetes login, the service account bound to it are aliases of the role as Vault sees it.
    if sa and sa_ns:
        role = _str(md.get("role"))
        if role:
            return (role, "vault_role", "vault",
                    aliases + (R.k8s_sa(sa_ns, sa), f"auth/{mount or 'kubernetes'}/role/{role}"), None, "")
        return R.k8s_sa(sa_ns, sa), "k8s_service_account", "kubernetes", aliases, None, ""
    if _str(md.get("role_name")):
        name = md["role_name"]
        return name, "vault_role", "vault", aliases + (f"auth/{mount or 'approle'}/role/{name}",), None, ""
    method = display.split("-", 1)[0] if "-" in display else display
    if person and R.person_like(person):
        return None, "", "", (), person, ""
    if method in _PERSON_METHODS and not R.service_like(display):
        return None, "", "", (), person or display, ""
    if _str(md.get("role")) and method:       # jwt / cert / aws / gcp auth roles used by software
        return md["role"], "vault_role", "vault", aliases + (f"auth/{method}/role/{md['role']}",), None, ""
    if display:
        return display, "vault_token", "vault", tuple(a for a in aliases if a != display), None, ""
    return None, "", "", (), None, ""


def _policies(auth: dict) -> list[str]:
    pol = auth.get("token_policies") or auth.get("policies") or []
    return [p for p in pol if isinstance(p, str)] if isinstance(pol, list) else []


def identities(e: dict, parent: dict | None = None) -> list[Sighting]:
    """Response entries only (each request is logged twice, and the response holds the outcome): the token's
    identity (Kubernetes service accounts, AppRole and JWT roles, named tokens) with its accessor, logins as
    token creation, renewals and revocations, AppRole secret-id creation and destruction, role changes."""
    if e.get("type") != "response":
        return []
    req = e.get("request") if isinstance(e.get("request"), dict) else {}
    auth = e.get("auth") if isinstance(e.get("auth"), dict) else {}
    resp = e.get("response") if isinstance(e.get("response"), dict) else {}
    path = str(req.get("path") or "")
    op = str(req.get("operation") or "")
    err = _str(e.get("error"))
    action = f"vault {op} {path}".rstrip() + (f" (error: {err.strip().splitlines()[-1].strip(' *')})" if err else "")
    src = _str(req.get("remote_address"))
    data = req.get("data") if isinstance(req.get("data"), dict) else {}
    out: list[Sighting] = []
    ident, kind, provider, aliases, person, via = _who(auth) if auth else (None, "", "", (), None, "")
    if ident:
        pols = _policies(auth)
        expired = bool(err) and "expired" in err.lower()
        out.append(Sighting(ident, kind, provider, aliases, action=action + via,
                            credential=_str(auth.get("accessor")),
                            credential_event="used_after_expiry" if expired else None, source=src,
                            privileged=any(p == "root" or R.privileged_role(p) for p in pols)))
    common = {"action": action, "actor": False, "source": src, "human": person}
    login = _LOGIN_RE.match(path)
    issued = resp.get("auth") if isinstance(resp.get("auth"), dict) else None
    if login and issued:                              # a login: a new token for the identity
        mount = login.group(1)
        nid, nkind, nprov, naliases, _, nvia = _who(issued, mount)
        if nid:
            role_id = _str(data.get("role_id"))
            links = (LINK + f"role_id:{role_id}",) if role_id else ()
            out.append(Sighting(nid, nkind, nprov, naliases + links, action=action + nvia, credential_event="created",
                                credential=_str(issued.get("accessor")), source=src,
                                privileged=any(p == "root" or R.privileged_role(p) for p in _policies(issued))))
    elif login and err and _str(data.get("role_id")):  # a failed AppRole login names its role only by role_id
        out.append(Sighting(PENDING + f"role_id:{data['role_id']}", "vault_role", "vault", action=action,
                            source=src))
    elif path.startswith("auth/token/create") and issued:
        nid, nkind, nprov, naliases, _, _ = _who(issued)
        if nid:
            out.append(Sighting(nid, nkind, nprov, naliases, credential_event="created",
                                credential=_str(issued.get("accessor")), **common))
    elif path.startswith("auth/token/renew") and ident and not err:
        out[0] = out[0].with_(credential_event="rotated")
    elif path.startswith("auth/token/revoke"):
        accessor = _str(data.get("accessor"))
        if path.endswith("revoke-self") and ident:
            out[0] = out[0].with_(credential_event="deleted")
        elif accessor and not err:
            out.append(Sighting(PENDING + f"cred:{accessor}", "vault_token", "vault", credential_event="deleted",
                                credential=accessor, **common))
    role_path = _ROLE_PATH_RE.match(path)
    if role_path:                                     # administration of a role: its config, secret ids
        mount, name, rest = role_path.groups()
        rest = rest or ""
        event, cred = None, None
        if not err and rest in ("secret-id", "custom-secret-id") and op in ("update", "create"):
            event = "created"
            cred = _str(as_dict(resp.get("data")).get("secret_id_accessor"))
        elif not err and rest in ("secret-id/destroy", "secret-id-accessor/destroy"):
            event, cred = "deleted", _str(data.get("secret_id_accessor"))
        elif rest == "secret-id-accessor/lookup":
            cred = _str(data.get("secret_id_accessor"))
        out.append(Sighting(name, "vault_role", "vault", (f"auth/{mount}/role/{name}",), credential_event=event,
                            credential=cred, **common))
    return out


FORMAT = RecordFormat(
    name="vault_audit", kind=RecordKind.VAULT_AUDIT, container=Container.JSON_EVENTS,
    detect=detect, render=render, identities=identities,
    example=Example("application/x-ndjson", "".join(json.dumps(e) + "\n" for e in _EXAMPLE)))
