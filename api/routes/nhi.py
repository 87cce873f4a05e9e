"""The NHI inventory over HTTP: machine identities read from the uploaded evidence, their credentials, and the
OWASP NHI Top 10 risks their records show."""

from __future__ import annotations

import csv
import io
import json
from typing import Literal

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel

from api.deps import EXPORT, READ, RuntimeDep, TenantDep
from ingest.nhi import inventory
from ingest.nhi.model import KINDS, PROVIDERS
from review.exports import safe_cell

router = APIRouter(tags=["nhi"])
RISKS = tuple(f"NHI{i}" for i in range(1, 11))


class NhiItem(BaseModel):
    id: str
    identity: str
    aliases: list[str]
    kind: str
    provider: str
    first_seen: str | None = None
    last_seen: str | None = None
    credential_events: list[dict]
    owner: str | None = None
    workloads: list[str] = []
    actions: list[str] = []
    documents: list[dict]
    observations: list[dict]
    risks: list[str]
    sightings: int
    stale: bool | None = None
    trail: list[dict] | None = None


class NhiPage(BaseModel):
    items: list[NhiItem]
    total: int
    page: int
    page_size: int
    unattributed_secrets: list[dict] = []


def _page(rt, tenant_id, **kw) -> dict:
    return inventory.inventory(rt.db, tenant_id, rotation_days=rt.settings.nhi_rotation_days,
                               stale_days=rt.settings.nhi_stale_days, **kw)


@router.get("/nhi", dependencies=[Depends(READ)], response_model=NhiPage)
async def list_nhi(rt: RuntimeDep, tenant_id: TenantDep,
                   kind: Literal[KINDS] | None = None, provider: Literal[PROVIDERS] | None = None,  # type: ignore[valid-type]
                   risk: Literal[RISKS] | None = None, owner: str | None = Query(None, max_length=300),  # type: ignore[valid-type]
                   stale: bool | None = Query(None, description="not seen for CLAUSEWISE_NHI_STALE_DAYS"),
                   page: int = Query(1, ge=1, le=1_000_000), page_size: int = Query(50, ge=1, le=500)) -> dict:
    """The workspace's machine identities, most recently seen first, with credential events, supporting records
    and observed NHI Top 10 risks (observed, never confirmed controls)."""
    return await run_in_threadpool(lambda: _page(rt, tenant_id, kind=kind, provider=provider, risk=risk,
                                                 owner=owner, stale=stale, page=page, page_size=page_size))


@router.get("/nhi/{identity_id}", dependencies=[Depends(READ)], response_model=NhiItem)
async def get_nhi(rt: RuntimeDep, tenant_id: TenantDep, identity_id: str) -> dict:
    """One machine identity with its whole evidence trail (document, record, lines, time, action)."""
    return await run_in_threadpool(lambda: inventory.identity(rt.db, tenant_id, identity_id,
                                                              rotation_days=rt.settings.nhi_rotation_days))


CSV_COLUMNS = ["id", "identity", "kind", "provider", "aliases", "first_seen", "last_seen", "owner", "risks",
               "credential_events", "documents", "workloads", "sightings"]


def to_csv(items: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for it in items:
        row = {**it, "aliases": "; ".join(it["aliases"]), "risks": " ".join(it["risks"]),
               "credential_events": "; ".join(f"{c['type']} {c['at'] or ''}".strip() for c in it["credential_events"]),
               "documents": "; ".join(f"{d['filename']} ({d['count']})" for d in it["documents"]),
               "workloads": "; ".join(it["workloads"])}
        w.writerow([safe_cell(row[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


@router.get("/exports/nhi", dependencies=[Depends(EXPORT)], response_model=None,
            responses={200: {"content": {"text/csv": {}, "application/json": {}}}})
async def export_nhi(rt: RuntimeDep, tenant_id: TenantDep, format: Literal["csv", "json"] = "json") -> Response:
    """The whole inventory as CSV or JSON."""
    data = await run_in_threadpool(lambda: _page(rt, tenant_id, page=1, page_size=10**9))
    if format == "csv":
        return Response(to_csv(data["items"]), media_type="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="clausewise-nhi.csv"'})
    return Response(json.dumps(data, indent=1), media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="clausewise-nhi.json"'})
