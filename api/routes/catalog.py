"""Read-only catalog: frameworks, their controls, and a control's crosswalk neighbours."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from api.deps import READ, CatalogDep
from api.schemas import ControlOut, ControlsOut, FrameworksOut
from catalog import Catalog, Framework
from core.errors import ClausewiseError, ErrorCode

router = APIRouter(prefix="/catalog", tags=["catalog"])


def _framework(catalog: Catalog, key: str) -> Framework:
    if key not in catalog.frameworks:
        raise ClausewiseError(ErrorCode.framework_not_found, f"unknown framework {key!r}",
                              known=list(catalog.frameworks))
    return catalog.frameworks[key]


@router.get("/frameworks", dependencies=[Depends(READ)], response_model=FrameworksOut)
def list_frameworks(catalog: CatalogDep) -> dict:
    """List the frameworks with their counts, licence and attribution."""
    stats = catalog.stats()
    return {
        "catalog_version": catalog.version,
        "items": [
            {"framework": fw.key, "name": fw.name, "license": fw.license, "attribution": fw.attribution,
             "sources": list(fw.sources), "requirements": len(fw.requirements()), "counts": stats[fw.key]}
            for fw in catalog.frameworks.values()
        ],
    }


@router.get("/frameworks/{framework}/controls", dependencies=[Depends(READ)], response_model=ControlsOut)
def list_controls(
    framework: str,
    catalog: CatalogDep,
    requirements_only: bool = Query(False, description="Only assessable leaves"),
    type: str | None = Query(None, description="Only this element type, e.g. annex_a_control"),
) -> dict:
    """List a framework's elements in catalog order."""
    fw = _framework(catalog, framework)
    items = [c for c in fw.controls.values()
             if (not requirements_only or c.requirement) and (type is None or c.type == type)]
    return {"framework": fw.key, "catalog_version": catalog.version, "count": len(items),
            "items": [c.public() for c in items]}


@router.get("/controls/{framework}/{control_id}", dependencies=[Depends(READ)], response_model=ControlOut)
def get_control(
    framework: str, control_id: str, catalog: CatalogDep,
    max_hops: int = Query(1, ge=1, le=3, description="Crosswalk hops to follow"),
) -> dict:
    """One control with its crosswalk neighbours: every path, every hop's relationship and provenance."""
    fw = _framework(catalog, framework)
    if control_id not in fw.controls:
        raise ClausewiseError(ErrorCode.control_not_found, f"{framework} has no control {control_id!r}")
    paths = catalog.neighbours(framework, control_id, max_hops=max_hops)
    return {
        **fw.controls[control_id].public(),
        "catalog_version": catalog.version,
        "attribution": fw.attribution,
        "neighbours": [
            {"framework": p[-1].to_framework, "control_id": p[-1].to_id,
             "title": catalog.control(p[-1].to_framework, p[-1].to_id).title,
             "hops": len(p), "path": [h.public() for h in p]}
            for p in paths
        ],
    }
