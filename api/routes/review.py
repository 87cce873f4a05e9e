"""Review workflow over HTTP: decisions, added mappings, review queue, coverage, exports, ledger, search, keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from api.deps import ADMIN, EXPORT, READ, REVIEW, CatalogDep, PrincipalDep, RuntimeDep, TenantDep
from api.schemas import (
    CoverageOut,
    DecisionOut,
    EdgeOut,
    EdgesOut,
    KeyOut,
    KeysOut,
    LedgerVerifyOut,
    MappingOut,
    NewKeyOut,
    QueueOut,
    SearchOut,
    SuggestionDetailOut,
    error_responses,
)
from core import auth
from core.errors import ClausewiseError, ErrorCode
from ingest.service import search_chunks
from review import coverage, decisions, edges, exports, ledger, queue

router = APIRouter(tags=["review"])


class DecisionIn(BaseModel):
    decision: Literal["confirm", "reject"]
    reason_code: str | None = Field(None, description="Required for a reject: wrong_control, partial, "
                                                      "insufficient_evidence, stale, out_of_scope, other")
    comment: str | None = Field(None, max_length=4000)


class BulkConfirmIn(BaseModel):
    suggestion_ids: list[str] = Field(..., min_length=1, max_length=200)
    acknowledge_low: bool = Field(False, description="confirm even though some are below 0.7 confidence "
                                                     "(the first answer names them and applies nothing)")
    comment: str | None = Field(None, max_length=4000)


class MappingIn(BaseModel):
    framework: str
    control_id: str
    quote: str = Field(..., min_length=1, max_length=5000, description="Text of the document that evidences it")
    char_start: int | None = Field(None, ge=0)
    char_end: int | None = Field(None, ge=0)
    comment: str | None = Field(None, max_length=4000)


class EdgeReviewIn(BaseModel):
    from_framework: str
    from_id: str
    to_framework: str
    to_id: str
    verdict: Literal["accepted", "disputed", "rejected"]
    comment: str | None = Field(None, max_length=4000)


class KeyIn(BaseModel):
    role: Literal["uploader", "reviewer", "auditor", "admin"]
    name: str | None = Field(None, max_length=200)


def _date(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ClausewiseError(ErrorCode.validation_error, f"{name} must be an ISO 8601 date", **{name: value}) from None
    return d if d.tzinfo else d.replace(tzinfo=UTC)


@router.post("/suggestions/{suggestion_id}/decisions", status_code=201, dependencies=[Depends(REVIEW)],
             response_model=DecisionOut, responses=error_responses(409))
async def post_decision(suggestion_id: str, body: DecisionIn, rt: RuntimeDep, principal: PrincipalDep) -> dict:
    """Confirm or reject a suggestion (a reject needs a reason code); appended to the hash-chained ledger."""
    return await run_in_threadpool(lambda: decisions.decide(
        db=rt.db, principal=principal, suggestion_id=suggestion_id, decision=body.decision,
        reason_code=body.reason_code, comment=body.comment, four_eyes=rt.settings.four_eyes))


@router.post("/suggestions/bulk-confirm", dependencies=[Depends(REVIEW)], responses=error_responses(409))
async def post_bulk_confirm(body: BulkConfirmIn, rt: RuntimeDep, principal: PrincipalDep) -> dict:
    """Confirm a selection: never a `needs_review` or already-decided one; if any is below 0.7 confidence nothing
    is applied (`applied: false`, `low_confidence` names them) until `acknowledge_low` is true."""
    return await run_in_threadpool(lambda: decisions.bulk_confirm(
        db=rt.db, principal=principal, suggestion_ids=body.suggestion_ids, four_eyes=rt.settings.four_eyes,
        acknowledge_low=body.acknowledge_low, comment=body.comment))


@router.get("/suggestions/{suggestion_id}", dependencies=[Depends(READ)], response_model=SuggestionDetailOut)
def get_suggestion(suggestion_id: str, rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep) -> dict:
    """One suggestion with its whole decision history (superseded decisions included)."""
    return decisions.suggestion_detail(db=rt.db, catalog=catalog, tenant_id=tenant_id, suggestion_id=suggestion_id)


@router.post("/documents/{document_id}/mappings", status_code=201, dependencies=[Depends(REVIEW)],
             response_model=MappingOut, responses=error_responses(409))
async def post_mapping(document_id: str, body: MappingIn, rt: RuntimeDep, principal: PrincipalDep,
                       catalog: CatalogDep) -> dict:
    """Add a mapping the classifier missed, with the quote that supports it (offsets optional, checked)."""
    return await run_in_threadpool(lambda: decisions.add_mapping(
        db=rt.db, catalog=catalog, principal=principal, document_id=document_id, framework=body.framework,
        control_id=body.control_id, quote=body.quote, char_start=body.char_start, char_end=body.char_end,
        comment=body.comment))


@router.get("/review-queue", dependencies=[Depends(REVIEW)], response_model=QueueOut)
def get_review_queue(rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep, framework: str | None = None,
                     limit: int = Query(50, ge=1, le=500), offset: int = Query(0, ge=0, le=100_000),
                     family: str | None = Query(None, max_length=20, description="top-level group: ISO clause "
                                                "`6`, Annex A `A.6`, CSF function `PR`"),
                     kind: str | None = Query(None, max_length=40, description="document kind, e.g. `policy`"),
                     band: Literal["low", "mid", "high"] | None = None) -> dict:
    """Undecided suggestions: coverage gaps first, then the most uncertain; near-duplicates collapsed."""
    return queue.review_queue(db=rt.db, catalog=catalog, tenant_id=tenant_id, framework=framework, limit=limit,
                              offset=offset, family=family, kind=kind, band=band)


@router.get("/coverage", dependencies=[Depends(READ)], response_model=CoverageOut)
def get_coverage(rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep,
                 framework: str = Query("ISO-IEC-42001-2023"),
                 period_start: str | None = Query(None, description="Audit period start (ISO 8601)"),
                 period_end: str | None = Query(None, description="Audit period end (ISO 8601)")) -> dict:
    """Per control: confirmed evidence, suggested only, proposed through a crosswalk (never counted), or none."""
    return coverage.coverage(db=rt.db, catalog=catalog, tenant_id=tenant_id, framework=framework,
                           period_start=_date(period_start, "period_start"),
                           period_end=_date(period_end, "period_end"))


@router.get("/exports/mappings", dependencies=[Depends(EXPORT)], response_model=None,
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
def export_mappings(rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep,
                    format: Literal["csv", "json"] = "json", framework: str | None = None):
    """Confirmed mappings with quotes and decisions, as CSV or JSON (anchored to the ledger head)."""
    rows = coverage.confirmed_mappings(db=rt.db, catalog=catalog, tenant_id=tenant_id, framework=framework)
    if format == "csv":
        return PlainTextResponse(exports.to_csv(rows), media_type="text/csv",
                                 headers={"Content-Disposition": 'attachment; filename="clausewise-mappings.csv"'})
    return exports.to_json(rows, db=rt.db, tenant_id=tenant_id, catalog=catalog)


@router.get("/exports/oscal", dependencies=[Depends(EXPORT)])
def export_oscal(rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep, framework: str | None = None,
                 period_start: str | None = None, period_end: str | None = None) -> dict:
    """Confirmed mappings as an OSCAL 1.1.2 assessment-results document."""
    rows = coverage.confirmed_mappings(db=rt.db, catalog=catalog, tenant_id=tenant_id, framework=framework)
    return exports.to_oscal(rows, db=rt.db, tenant_id=tenant_id, catalog=catalog,
                            period_start=_date(period_start, "period_start"),
                            period_end=_date(period_end, "period_end"))


@router.get("/ledger/verify", dependencies=[Depends(EXPORT)], response_model=LedgerVerifyOut)
def verify_ledger(rt: RuntimeDep, tenant_id: TenantDep) -> dict:
    """Recompute the tenant's decision chain; `ok` false lists every changed, missing or re-linked row."""
    return {**ledger.verify(rt.db, tenant_id).public(), "head": exports.ledger_head(rt.db, tenant_id)}


@router.get("/search", dependencies=[Depends(READ)], response_model=SearchOut, responses=error_responses(503))
async def search(rt: RuntimeDep, tenant_id: TenantDep, q: str = Query(..., min_length=1, max_length=2000),
                 k: int = Query(10, ge=1, le=100)) -> dict:
    """Semantic search over this tenant's evidence chunks."""
    return await run_in_threadpool(lambda: search_chunks(db=rt.db, vectors=rt.vectors, embedder=rt.embedder,
                                                         tenant_id=tenant_id, query=q, k=k))


@router.get("/catalog/edges", dependencies=[Depends(READ)], response_model=EdgesOut)
def get_edges(rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep, framework: str | None = None,
              control_id: str | None = None,
              status: Literal["unreviewed", "accepted", "disputed", "rejected"] | None = None) -> dict:
    """Crosswalk edges with provenance, relationship, rationale and this workspace's review of each."""
    return edges.list_edges(db=rt.db, catalog=catalog, tenant_id=tenant_id, framework=framework,
                             control_id=control_id, status=status)


@router.post("/catalog/edges/reviews", status_code=201, dependencies=[Depends(ADMIN)], response_model=EdgeOut)
def post_edge_review(body: EdgeReviewIn, rt: RuntimeDep, principal: PrincipalDep, catalog: CatalogDep) -> dict:
    """Accept, dispute or reject a crosswalk edge for this workspace; a rejected edge proposes no coverage."""
    return edges.review_edge(db=rt.db, catalog=catalog, principal=principal, from_framework=body.from_framework,
                              from_id=body.from_id, to_framework=body.to_framework, to_id=body.to_id,
                              verdict=body.verdict, comment=body.comment)


@router.post("/keys", status_code=201, dependencies=[Depends(ADMIN)], response_model=NewKeyOut)
def create_key(body: KeyIn, rt: RuntimeDep, principal: PrincipalDep) -> dict:
    """A new key in the caller's tenant; the key is in this response only."""
    row, plaintext = auth.create_key(rt.db, tenant=principal.tenant_id, role=body.role, name=body.name,
                                     created_by=principal.key_id)
    return {**auth.key_public(row), "key": plaintext}


@router.get("/keys", dependencies=[Depends(ADMIN)], response_model=KeysOut)
def list_keys(rt: RuntimeDep, tenant_id: TenantDep) -> dict:
    """The tenant's keys (prefix, role, name; never the key)."""
    return {"items": auth.list_keys(rt.db, tenant_id)}


@router.delete("/keys/{key_id}", dependencies=[Depends(ADMIN)], response_model=KeyOut)
def revoke_key(key_id: str, rt: RuntimeDep, tenant_id: TenantDep) -> dict:
    """Revoke a key; it answers 401 from now on."""
    return auth.revoke_key(rt.db, tenant_id, key_id)
