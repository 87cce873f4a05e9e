"""Per-workspace reviews of crosswalk edges (accepted, disputed, rejected), kept as history."""

from __future__ import annotations

from sqlalchemy import select

from catalog import Catalog
from core.auth import Principal
from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from review.decisions import iso
from review.models import EdgeReview, EdgeVerdict

EDGE_VERDICTS = tuple(v.value for v in EdgeVerdict)


def _edge_key(from_fw: str, from_id: str, to_fw: str, to_id: str) -> tuple[str, str, str, str]:
    """Direction-free key of a crosswalk edge (a traversal may walk it either way)."""
    a, b = (from_fw, from_id), (to_fw, to_id)
    return (*min(a, b), *max(a, b))


def hop_key(hop) -> tuple[str, str, str, str]:
    return _edge_key(hop.from_framework, hop.from_id, hop.to_framework, hop.to_id)


def edge_reviews(db: Database, tenant_id: str) -> dict[tuple, EdgeReview]:
    """The latest review of each reviewed edge in a tenant."""
    out: dict[tuple, EdgeReview] = {}
    with db.session() as s:
        for r in s.scalars(select(EdgeReview).where(EdgeReview.tenant_id == tenant_id)
                           .order_by(EdgeReview.created_at, EdgeReview.id)):
            out[_edge_key(r.from_framework, r.from_id, r.to_framework, r.to_id)] = r
    return out


def _review_public(r: EdgeReview | None) -> dict | None:
    if r is None:
        return None
    return {"verdict": r.verdict, "comment": r.comment, "actor": r.actor, "created_at": iso(r.created_at),
            "catalog_version": r.catalog_version}


def review_edge(*, db: Database, catalog: Catalog, principal: Principal, from_framework: str, from_id: str,
                to_framework: str, to_id: str, verdict: str, comment: str | None) -> dict:
    """An admin's verdict on a shipped crosswalk edge for this tenant: accepted, disputed or rejected."""
    key = _edge_key(from_framework, from_id, to_framework, to_id)
    edge = next((e for e in catalog.edges
                 if _edge_key(e.from_framework, e.from_id, e.to_framework, e.to_id) == key), None)
    if edge is None:
        raise ClausewiseError(ErrorCode.edge_not_found, "the catalog has no crosswalk edge between these controls",
                              **{"from": f"{from_framework} {from_id}", "to": f"{to_framework} {to_id}"})
    if verdict not in EDGE_VERDICTS:
        raise ClausewiseError(ErrorCode.validation_error, f"verdict must be one of {list(EDGE_VERDICTS)}")
    row = EdgeReview(tenant_id=principal.tenant_id, from_framework=edge.from_framework, from_id=edge.from_id,
                     to_framework=edge.to_framework, to_id=edge.to_id, verdict=verdict, comment=comment,
                     actor=principal.name, catalog_version=catalog.version)
    with db.session() as s:
        s.add(row)
    return {**_edge_public(edge), "review": _review_public(row)}


def _edge_public(e) -> dict:
    return {"from": {"framework": e.from_framework, "control_id": e.from_id},
            "to": {"framework": e.to_framework, "control_id": e.to_id}, "relationship": e.relationship,
            "provenance": e.provenance, "rationale": e.rationale}


def list_edges(*, db: Database, catalog: Catalog, tenant_id: str, framework: str | None = None,
               control_id: str | None = None, status: str | None = None) -> dict:
    """Crosswalk edges with provenance, relationship, rationale and this tenant's latest review."""
    reviews = edge_reviews(db, tenant_id)
    items = []
    for e in catalog.edges:
        if framework and framework not in (e.from_framework, e.to_framework):
            continue
        if control_id and control_id not in (e.from_id, e.to_id):
            continue
        r = reviews.get(_edge_key(e.from_framework, e.from_id, e.to_framework, e.to_id))
        state = r.verdict if r else "unreviewed"
        if status and state != status:
            continue
        items.append({**_edge_public(e), "review": _review_public(r), "status": state})
    return {"catalog_version": catalog.version, "count": len(items), "items": items}
