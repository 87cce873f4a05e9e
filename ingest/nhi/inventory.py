"""The NHI inventory: a workspace's sightings merged into identities, with the NHI Top 10 risks they show.

Sightings are stored per document (replaced when it is processed again) and merged when read, so re-uploading
or re-processing never duplicates an identity, and a fix to an extractor shows after the document is processed
again. Two sightings are one identity when they share a name: the canonical id or any alias (an assumed-role
session and its role, a Vault display name and its role). An identity's id is a hash of the tenant and its
canonical id, stable across re-processing.

Observations are rules over an identity's sightings, each with its text and the records that show it. They are
observed risks, never confirmed controls.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select

from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import Document, NhiSighting, as_utc

ROTATION_DAYS = 90
STALE_DAYS = 90
REUSE_SOURCES = 3          # distinct places (hosts, source addresses) one identity acted from
LONG_LIVED = ("aws_access_key", "aws_iam_user", "github_pat_or_deploy_key", "gcp_service_account",
              "azure_service_principal", "vault_token")
RULES = {
    "NHI1": ("improper offboarding", 0.8,
             "The identity or its credential acted after it was deleted, or used a credential after it expired."),
    "NHI2": ("secret leakage", 0.9,
             "A secret or token of this identity appears in the evidence itself (masked before it was stored)."),
    "NHI5": ("overprivileged NHI", 0.75,
             "An administrator, owner, cluster-admin or wildcard grant was used by or given to the machine "
             "identity."),
    "NHI7": ("long-lived secret", 0.7,
             "A long-lived credential was in use for longer than the rotation limit with no rotation seen."),
    "NHI9": ("NHI reuse", 0.6,
             f"The identity acted from {REUSE_SOURCES} or more distinct hosts or addresses, or for more than one "
             "workload."),
    "NHI10": ("human use of NHI", 0.7,
              "A person used the machine identity: a console or browser session, an interactive shell, a "
              "password login, or a token minted by a person."),
}
SIGHTING_FIELDS = ("identity", "kind", "provider", "aliases", "at", "action", "credential_event", "credential",
                   "owner", "workload", "source", "privileged", "human_use", "human", "actor", "record_index",
                   "line_start", "line_end")


def parse_ts(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return as_utc(value) if value else None
    try:
        return as_utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))
    except ValueError:
        return None


def store(session, *, tenant_id: str, document_id: str, sightings: list[dict]) -> int:
    """Replace a document's sightings (inside the caller's transaction)."""
    session.execute(delete(NhiSighting).where(NhiSighting.document_id == document_id))
    rows = []
    for d in sightings:
        row = {k: d.get(k) for k in SIGHTING_FIELDS}
        row["at"] = parse_ts(row["at"])
        row["aliases"] = [str(a)[:500] for a in (row["aliases"] or [])][:20]
        for k in ("privileged", "human_use"):
            row[k] = bool(row[k])
        row["actor"] = row["actor"] is not False
        for k, n in (("identity", 500), ("action", 500), ("credential", 300), ("owner", 300), ("workload", 500),
                     ("source", 500), ("human", 300)):
            if row[k] is not None:
                row[k] = str(row[k])[:n]
        rows.append(NhiSighting(tenant_id=tenant_id, document_id=document_id, **row))
    session.add_all(rows)
    return len(rows)


def identity_id(tenant_id: str, identity: str) -> str:
    return hashlib.sha256(f"{tenant_id}|{identity}".encode()).hexdigest()[:20]


@dataclass
class Identity:
    identity: str
    kind: str
    provider: str
    sightings: list[NhiSighting] = field(default_factory=list)


def merge(rows: list[NhiSighting]) -> list[Identity]:
    """Union the sightings that share a name (canonical id or alias, case-insensitively) into identities."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[rb] = ra

    # names are compared within a kind: a Vault role bound to a service account names the account as an alias
    # of the role, and an IAM user names its access key, yet each is an identity of its own
    rows = [r for r in rows if not (r.kind == "aws_access_key" and r.identity.upper().startswith("ASIA"))]
    def key(r: NhiSighting, name: str) -> str:
        return f"{r.kind}|{name.strip().lower()}"

    for r in rows:
        for a in r.aliases or []:
            union(key(r, r.identity), key(r, a))
        find(key(r, r.identity))
    groups: dict[str, list[NhiSighting]] = defaultdict(list)
    for r in rows:
        groups[find(key(r, r.identity))].append(r)   # temporary (ASIA) keys are their role's session credentials
    out = []
    for members in groups.values():
        # the canonical id: the name most sightings use as their identity (ties: the longest, then sorted)
        counts: dict[str, int] = defaultdict(int)
        for r in members:
            counts[r.identity] += 1
        canonical = max(counts, key=lambda n: (counts[n], len(n), n))
        kinds: dict[tuple[str, str], int] = defaultdict(int)
        for r in members:
            if r.identity == canonical:
                kinds[(r.kind, r.provider)] += 1
        kind, provider = max(kinds, key=lambda k: kinds[k])
        out.append(Identity(canonical, kind, provider, members))
    return out


def _where(r: NhiSighting, docs: dict[str, Document]) -> dict:
    d = docs.get(r.document_id)
    return {"document_id": r.document_id, "filename": d.filename if d else None, "record": r.record_index,
            "line_start": r.line_start, "line_end": r.line_end}


def observations(ident: Identity, docs: dict[str, Document], secrets: list[dict], *,
                 rotation_days: int = ROTATION_DAYS) -> list[dict]:
    """The NHI Top 10 risks an identity's sightings show, each with its rule and where the evidence is."""
    out: list[dict] = []
    rows = sorted(ident.sightings, key=lambda r: (as_utc(r.at) if r.at else datetime.min.replace(tzinfo=UTC)))

    def add(risk: str, r: NhiSighting | None, detail: str, where: dict | None = None) -> None:
        name, confidence, text = RULES[risk]
        out.append({"risk": risk, "name": name, "rule": text, "detail": detail, "confidence": confidence,
                    **(where or (_where(r, docs) if r is not None else {}))})

    priv = next((r for r in rows if r.privileged), None)
    if priv is not None:
        add("NHI5", priv, f"{priv.action or 'a privileged grant'}")
    human = next((r for r in rows if r.human_use), None)
    if human is not None:
        add("NHI10", human, f"{human.action or 'used'}" + (f" by {human.human}" if human.human else ""))
    acting = [r for r in rows if r.actor]
    places = {r.source for r in acting if r.source}
    workloads = {r.workload for r in acting if r.workload}
    if len(places) >= REUSE_SOURCES or len(workloads) >= 2:
        r = acting[-1]
        add("NHI9", r, f"{len(places)} distinct sources, {len(workloads)} workloads")
    deleted = [as_utc(r.at) for r in rows if r.credential_event == "deleted" and r.at]
    after = next((r for r in acting if r.at and deleted and as_utc(r.at) > min(deleted)
                  and r.credential_event != "deleted"), None)
    expired = next((r for r in rows if r.credential_event == "used_after_expiry"), None)
    if expired is not None:
        add("NHI1", expired, "a credential used after it expired")
    elif after is not None:
        add("NHI1", after, f"acted at {as_utc(after.at).isoformat()} after a deletion at {min(deleted).isoformat()}")
    long_lived = ident.kind in LONG_LIVED and not (ident.kind == "aws_access_key"
                                                   and ident.identity.upper().startswith("ASIA"))
    stamped = [r for r in rows if r.at]
    if long_lived and stamped and not any(r.credential_event == "rotated" for r in rows):
        created = [as_utc(r.at) for r in stamped if r.credential_event == "created"]
        start = min(created) if created else as_utc(stamped[0].at)
        end = as_utc(stamped[-1].at)
        if end - start > timedelta(days=rotation_days):
            add("NHI7", stamped[-1], f"in use from {start.date()} to {end.date()} ({(end - start).days} days, "
                                     f"limit {rotation_days}) with no rotation seen")
    names = {ident.identity.lower(), *(a.lower() for r in rows for a in (r.aliases or []))}
    names |= {r.credential.lower() for r in rows if r.credential}
    for s in secrets:
        if s.get("key_id") and s["key_id"].lower() in names:
            add("NHI2", None, f"a {s['type']} next to {s['key_id']}",
                {"document_id": s["document_id"], "filename": s.get("filename"), "line_start": s.get("line"),
                 "line_end": s.get("line"), "record": s.get("record")})
    return out


def summarize(tenant_id: str, ident: Identity, docs: dict[str, Document], secrets: list[dict], *,
          detail: bool, rotation_days: int) -> dict:
    rows = ident.sightings
    times = sorted(as_utc(r.at) for r in rows if r.at and r.actor) or sorted(as_utc(r.at) for r in rows if r.at)
    aliases = sorted({a for r in rows for a in [r.identity, *(r.aliases or [])]} - {ident.identity})
    creds = sorted(({"type": r.credential_event, "at": as_utc(r.at).isoformat() if r.at else None,
                     "credential": r.credential, "document_id": r.document_id}
                    for r in rows if r.credential_event and r.credential_event != "used"),
                   key=lambda c: (c["at"] or "", c["type"]))
    owners = [r.owner for r in rows if r.owner]
    by_doc: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_doc[r.document_id].append({"record": r.record_index, "line_start": r.line_start,
                                      "line_end": r.line_end})
    obs = observations(ident, docs, secrets, rotation_days=rotation_days)
    out = {
        "id": identity_id(tenant_id, ident.identity), "identity": ident.identity, "aliases": aliases,
        "kind": ident.kind, "provider": ident.provider,
        "first_seen": times[0].isoformat() if times else None, "last_seen": times[-1].isoformat() if times else None,
        "credential_events": creds, "owner": max(set(owners), key=owners.count) if owners else None,
        "workloads": sorted({r.workload for r in rows if r.workload})[:20],
        "actions": sorted({r.action for r in rows if r.action})[: 50 if detail else 10],
        "documents": [{"document_id": d, "filename": docs[d].filename if d in docs else None,
                       "locations": locs if detail else locs[:5], "count": len(locs)} for d, locs in by_doc.items()],
        "observations": obs, "risks": sorted({o["risk"] for o in obs}, key=lambda x: int(x[3:])),
        "sightings": len(rows),
    }
    if detail:
        out["trail"] = [{**_where(r, docs), "at": as_utc(r.at).isoformat() if r.at else None, "action": r.action,
                         "credential_event": r.credential_event, "source": r.source, "workload": r.workload,
                         "human": r.human, "privileged": r.privileged, "human_use": r.human_use}
                        for r in sorted(rows, key=lambda r: (r.at is None, as_utc(r.at) if r.at else None))][:500]
    return out


def _load(db: Database, tenant_id: str) -> tuple[list[Identity], dict[str, Document], list[dict]]:
    with db.session() as s:
        rows = list(s.scalars(select(NhiSighting).where(NhiSighting.tenant_id == tenant_id)))
        docs = {d.id: d for d in s.scalars(select(Document).where(Document.tenant_id == tenant_id,
                                                                  Document.status == "indexed"))}
        s.expunge_all()
    rows = [r for r in rows if r.document_id in docs]   # a failed or removed document's sightings do not count
    secrets = [{**f, "document_id": d.id, "filename": d.filename}
               for d in docs.values() for f in ((d.meta or {}).get("secrets") or [])]
    return merge(rows), docs, secrets


def inventory(db: Database, tenant_id: str, *, kind: str | None = None, provider: str | None = None,
              risk: str | None = None, owner: str | None = None, stale: bool | None = None,
              page: int = 1, page_size: int = 50, rotation_days: int = ROTATION_DAYS,
              stale_days: int = STALE_DAYS, now: datetime | None = None) -> dict:
    """A page of the workspace's machine identities (most recently seen first)."""
    now = now or datetime.now(UTC)
    idents, docs, secrets = _load(db, tenant_id)
    items = [summarize(tenant_id, i, docs, secrets, detail=False, rotation_days=rotation_days) for i in idents]
    cutoff = (now - timedelta(days=stale_days)).isoformat()
    for it in items:
        it["stale"] = bool(it["last_seen"] and it["last_seen"] < cutoff)
    if kind:
        items = [i for i in items if i["kind"] == kind]
    if provider:
        items = [i for i in items if i["provider"] == provider]
    if risk:
        items = [i for i in items if risk.upper() in i["risks"]]
    if owner:
        items = [i for i in items if (i["owner"] or "").casefold() == owner.casefold()]
    if stale is not None:
        items = [i for i in items if i["stale"] == stale]
    items.sort(key=lambda i: (i["last_seen"] or "", i["identity"]), reverse=True)
    total = len(items)
    start = (page - 1) * page_size
    return {"items": items[start:start + page_size], "total": total, "page": page, "page_size": page_size,
            "unattributed_secrets": [s for s in secrets if not s.get("key_id")][:100]}


def identity(db: Database, tenant_id: str, identity_id_: str, *, rotation_days: int = ROTATION_DAYS) -> dict:
    """One identity with its whole evidence trail."""
    idents, docs, secrets = _load(db, tenant_id)
    for i in idents:
        if identity_id(tenant_id, i.identity) == identity_id_:
            return summarize(tenant_id, i, docs, secrets, detail=True, rotation_days=rotation_days)
    raise ClausewiseError(ErrorCode.identity_not_found, f"no machine identity {identity_id_!r} in this workspace")


def observed_risks(db: Database, tenant_id: str, *, rotation_days: int = ROTATION_DAYS) -> dict[str, list[dict]]:
    """NHI risk id -> the identities that show it (for coverage: observed, never confirmed)."""
    idents, docs, secrets = _load(db, tenant_id)
    out: dict[str, list[dict]] = defaultdict(list)
    for i in idents:
        for o in observations(i, docs, secrets, rotation_days=rotation_days):
            out[o["risk"]].append({"id": identity_id(tenant_id, i.identity), "identity": i.identity,
                                   "kind": i.kind, "rule": o["rule"], "document_id": o.get("document_id")})
    return dict(out)
