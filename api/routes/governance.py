"""Running the management system over HTTP: applicability, owners, review intervals, freshness, corrective
actions and the Statement of Applicability export. Every change is an event on the tenant's governance chain."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field

from api.deps import ADMIN, EXPORT, READ, REVIEW, CatalogDep, PrincipalDep, RuntimeDep, TenantDep
from api.schemas import error_responses
from review import governance, soa

router = APIRouter(tags=["governance"])
ISO = "ISO-IEC-42001-2023"


class ApplicabilityIn(BaseModel):
    applicable: bool
    justification: str | None = Field(None, max_length=4000, description="required when applicable is false")
    status: Literal["planned", "partially_implemented", "implemented"] | None = Field(
        None, description="implementation status of an applicable control; unset, the SoA reads it from the evidence")
    reason: str | None = Field(None, max_length=4000, description="why this changed (kept in the ledger)")


class OwnerIn(BaseModel):
    owner: str | None = Field(None, max_length=200, description="person or team; null clears it")
    owner_key_id: str | None = Field(None, max_length=36, description="the owner's API key id, if they have one")
    reason: str | None = Field(None, max_length=4000)


class IntervalIn(BaseModel):
    days: int | None = Field(None, ge=1, le=3660, description="null returns to the catalog default")
    reason: str | None = Field(None, max_length=4000)


class ControlRef(BaseModel):
    framework: str = Field(ISO, max_length=40)
    control_id: str = Field(..., max_length=40)


class ActionSource(BaseModel):
    type: Literal["gap", "expired", "rejected_mapping"]
    suggestion_id: str | None = Field(None, max_length=36, description="the rejected mapping (rejected_mapping)")


class ActionIn(BaseModel):
    statement: str = Field(..., min_length=1, max_length=4000, description="the nonconformity")
    controls: list[ControlRef] = Field(default_factory=list, max_length=50)
    source: ActionSource
    root_cause: str | None = Field(None, max_length=4000)
    action: str | None = Field(None, max_length=4000, description="what will be done")
    owner: str | None = Field(None, max_length=200)
    owner_key_id: str | None = Field(None, max_length=36)
    due_date: str | None = Field(None, max_length=32, description="ISO 8601 date")


class ActionChanges(BaseModel):
    statement: str | None = Field(None, min_length=1, max_length=4000)
    root_cause: str | None = Field(None, max_length=4000)
    action: str | None = Field(None, max_length=4000)
    owner: str | None = Field(None, max_length=200)
    owner_key_id: str | None = Field(None, max_length=36)
    due_date: str | None = Field(None, max_length=32)


class TransitionIn(BaseModel):
    to: Literal["in_progress", "resolved", "verified", "cancelled"]
    reason: str | None = Field(None, max_length=4000, description="required to cancel")
    comment: str | None = Field(None, max_length=4000)
    changes: ActionChanges | None = None


class ActionOut(BaseModel):
    id: str
    state: str
    statement: str
    controls: list[dict]
    root_cause: str | None = None
    action: str | None = None
    owner: str | None = None
    owner_key_id: str | None = None
    due_date: str | None = None
    overdue: bool
    source: dict
    opened_at: str | None = None
    opened_by: str | None = None
    updated_at: str | None = None
    closed_reason: str | None = None
    verified_with: list[dict] = []
    history: list[dict] = []
    events: list[dict] = []


class ActionsOut(BaseModel):
    items: list[ActionOut]
    total: int


@router.get("/applicability", dependencies=[Depends(READ)])
def get_applicability(rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep) -> dict:
    """Every ISO/IEC 42001 requirement: clauses 4-10 always apply; Annex A controls as declared (default
    applicable), with justification and implementation status."""
    items = governance.applicability(db=rt.db, catalog=catalog, tenant_id=tenant_id)
    return {"items": items, "excluded": sum(not i["applicable"] for i in items)}


@router.put("/applicability/{control_id}", dependencies=[Depends(ADMIN)], responses=error_responses(409))
def put_applicability(rt: RuntimeDep, principal: PrincipalDep, catalog: CatalogDep, control_id: str,
                      body: ApplicabilityIn) -> dict:
    """Declare an Annex A control applicable (with a status) or excluded (a justification is required)."""
    return governance.set_applicability(db=rt.db, catalog=catalog, principal=principal, control_id=control_id,
                                        applicable=body.applicable, justification=body.justification,
                                        status=body.status, reason=body.reason)


@router.put("/controls/{framework}/{control_id}/owner", dependencies=[Depends(ADMIN)],
            responses=error_responses(409))
def put_control_owner(rt: RuntimeDep, principal: PrincipalDep, catalog: CatalogDep, framework: str,
                      control_id: str, body: OwnerIn) -> dict:
    """Name the person or team who answers for a control."""
    return governance.set_control_owner(db=rt.db, catalog=catalog, principal=principal, framework=framework,
                                        control_id=control_id, owner=body.owner, owner_key_id=body.owner_key_id,
                                        reason=body.reason)


@router.put("/controls/{framework}/{control_id}/review-interval", dependencies=[Depends(ADMIN)],
            responses=error_responses(409))
def put_review_interval(rt: RuntimeDep, principal: PrincipalDep, catalog: CatalogDep, framework: str,
                        control_id: str, body: IntervalIn) -> dict:
    """Override how long confirmed evidence of a control stays current in this workspace."""
    return governance.set_review_interval(db=rt.db, catalog=catalog, principal=principal, framework=framework,
                                          control_id=control_id, days=body.days, reason=body.reason)


@router.put("/documents/{document_id}/owner", dependencies=[Depends(ADMIN)], responses=error_responses(409))
def put_document_owner(rt: RuntimeDep, principal: PrincipalDep, document_id: str, body: OwnerIn) -> dict:
    """Name who answers for a document."""
    return governance.set_document_owner(db=rt.db, principal=principal, document_id=document_id, owner=body.owner,
                                         owner_key_id=body.owner_key_id)


@router.get("/owners/{owner}", dependencies=[Depends(READ)])
def get_owner(rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep, owner: str) -> dict:
    """What one owner (name as given, case-insensitive, or key id) answers for: controls with gaps and expired
    evidence first, documents, corrective actions."""
    return governance.owner_items(db=rt.db, catalog=catalog, tenant_id=tenant_id, owner=owner[:200])


@router.get("/coverage/expiring", dependencies=[Depends(READ)])
def get_expiring(rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep,
                 within_days: int = Query(30, ge=0, le=3660), framework: str | None = Query(None, max_length=40)
                 ) -> dict:
    """Controls whose confirmed evidence has expired or expires within `within_days`, by owner and date."""
    return governance.expiring(db=rt.db, catalog=catalog, tenant_id=tenant_id, within_days=within_days,
                               framework=framework)


@router.post("/actions", dependencies=[Depends(REVIEW)], status_code=201, response_model=ActionOut,
             responses=error_responses(409))
def post_action(rt: RuntimeDep, principal: PrincipalDep, catalog: CatalogDep, body: ActionIn) -> dict:
    """Open a corrective action (ISO/IEC 42001 10.2) from a gap, an expired control, or a mapping rejected as
    `insufficient_evidence` or `stale`."""
    return governance.open_action(db=rt.db, catalog=catalog, principal=principal, statement=body.statement,
                                  controls=[c.model_dump() for c in body.controls],
                                  source=body.source.model_dump(), owner=body.owner, due_date=body.due_date,
                                  root_cause=body.root_cause, action=body.action, owner_key_id=body.owner_key_id)


@router.get("/actions", dependencies=[Depends(READ)], response_model=ActionsOut)
def get_actions(rt: RuntimeDep, tenant_id: TenantDep,
                state: Literal["open", "in_progress", "resolved", "verified", "cancelled"] | None = None,
                owner: str | None = Query(None, max_length=200), overdue: bool | None = None,
                control_id: str | None = Query(None, max_length=40)) -> dict:
    """Corrective actions: overdue first, then by due date."""
    items = governance.list_actions(db=rt.db, tenant_id=tenant_id, state=state, owner=owner, overdue=overdue,
                                    control_id=control_id)
    return {"items": items, "total": len(items)}


@router.get("/actions/{action_id}", dependencies=[Depends(READ)], response_model=ActionOut)
def get_action(rt: RuntimeDep, tenant_id: TenantDep, action_id: str) -> dict:
    """One corrective action with its history (each transition a ledger event)."""
    return governance.get_action(db=rt.db, tenant_id=tenant_id, action_id=action_id)


@router.post("/actions/{action_id}/transitions", dependencies=[Depends(REVIEW)], response_model=ActionOut,
             responses=error_responses(409))
def post_transition(rt: RuntimeDep, principal: PrincipalDep, catalog: CatalogDep, action_id: str,
                    body: TransitionIn) -> dict:
    """Move an action on: open -> in_progress -> resolved -> verified, or cancelled with a reason. `verified`
    needs newly confirmed evidence for every linked control (`fresh_evidence_required` otherwise)."""
    changes = body.changes.model_dump(exclude_unset=True) if body.changes else None
    return governance.move_action(db=rt.db, catalog=catalog, principal=principal, action_id=action_id, to=body.to,
                                  reason=body.reason, comment=body.comment, changes=changes)


@router.get("/exports/soa", dependencies=[Depends(EXPORT)], response_model=None,
            responses={200: {"content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
                "text/csv": {}, "application/json": {}}}})
async def export_soa(rt: RuntimeDep, tenant_id: TenantDep, catalog: CatalogDep,
                     format: Literal["xlsx", "csv", "json", "oscal"] = "xlsx") -> Response:
    """The Statement of Applicability: one row per Annex A control (38) with applicability, justification,
    status, owner, confirmed evidence and what the same evidence covers in CSF 2.0 and OWASP NHI."""
    body, media, name = await run_in_threadpool(
        lambda: soa.export(db=rt.db, catalog=catalog, tenant_id=tenant_id, fmt=format))
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
