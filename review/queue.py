"""The review queue: undecided suggestions of each document's current run, gaps first, then the most uncertain."""

from __future__ import annotations

import math
import re
from collections import defaultdict

from sqlalchemy import select

from catalog import Catalog
from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import Document, Suggestion
from review.decisions import CONFIRMED, REVIEWER_RUN
from review.govstate import control_key
from review.govstate import load as load_governance

NEAR_DUPLICATE_JACCARD = 0.8


def current_suggestions(s, tenant_id: str, framework: str | None) -> list[tuple[Suggestion, Document]]:
    """Suggestions of each document's current classification run, plus every reviewer-added mapping."""
    q = (select(Suggestion, Document).join(Document, Document.id == Suggestion.document_id)
         .where(Suggestion.tenant_id == tenant_id, Document.tenant_id == tenant_id,
                (Suggestion.run_id == Document.classification_run_id) | (Suggestion.run_id == REVIEWER_RUN)))
    if framework:
        q = q.where(Suggestion.framework == framework)
    return list(s.execute(q).tuples())


def _tokens(text: str | None) -> set[str]:
    return set(re.findall(r"[a-z0-9]{3,}", (text or "").lower()))


WINDOW_MIN = 1000   # light rows read past the page, so near-duplicates of what is shown are folded into it


def jaccard_prefix(tokens: frozenset[str], threshold: float = NEAR_DUPLICATE_JACCARD) -> list[str]:
    """The first |A| - ceil(t |A|) + 1 tokens in sorted order: two sets at Jaccard >= t share one of them."""
    ordered = sorted(tokens)
    need = math.ceil(threshold * len(ordered) - 1e-9)   # 0.8 * 15 is 12.000000000000002 in floating point
    return ordered[: len(ordered) - need + 1] if ordered else []


def family_members(catalog: Catalog, family: str) -> list[tuple[str, str]]:
    """(framework, control id) of every control under a top-level group (ISO clause or Annex A objective, CSF
    function), the group included; empty when no framework has a top-level control of that id."""
    out = []
    for key, fw in catalog.frameworks.items():
        root = fw.controls.get(family)
        if root is None or root.parent is not None:
            continue
        for c in fw.controls.values():
            top = c
            while top.parent is not None:
                top = fw.controls[top.parent]
            if top.id == family:
                out.append((key, c.id))
    return out


def families(catalog: Catalog, framework: str) -> list[tuple[str, str]]:
    """The top-level groups of one framework, (id, title), for a filter."""
    fw = catalog.frameworks[framework]
    return [(c.id, c.title) for c in fw.controls.values() if c.parent is None]


def _current(q, tenant_id: str, framework: str | None, *, members: list[tuple[str, str]] | None = None,
             kind: str | None = None, confidence: tuple[float, float] | None = None):
    q = q.join(Document, Document.id == Suggestion.document_id).where(
        Suggestion.tenant_id == tenant_id, Document.tenant_id == tenant_id,
        (Suggestion.run_id == Document.classification_run_id) | (Suggestion.run_id == REVIEWER_RUN))
    if framework:
        q = q.where(Suggestion.framework == framework)
    if members is not None:
        from sqlalchemy import false, tuple_

        q = q.where(tuple_(Suggestion.framework, Suggestion.control_id).in_(members) if members else false())
    if kind:
        q = q.where(Document.kind == kind)
    if confidence is not None:
        q = q.where(Suggestion.confidence >= confidence[0], Suggestion.confidence < confidence[1])
    return q


BANDS = {"low": (0.0, 0.4), "mid": (0.4, 0.7), "high": (0.7, 1.01)}   # confidence bands a reviewer filters by


def review_queue(*, db: Database, catalog: Catalog, tenant_id: str, framework: str | None = None,
                 limit: int = 50, offset: int = 0, family: str | None = None, kind: str | None = None,
                 band: str | None = None) -> dict:
    """Undecided suggestions, gaps first (controls with no confirmed evidence), then the most uncertain.

    Near-duplicate evidence for one control (quotes whose word sets overlap >= 80 %) is collapsed into one item
    that lists the others, so a reviewer reads the same log line once. The database orders the undecided rows and
    reads a window of light rows (the page and at least 1,000 past it) for collapsing (prefix-filtered candidates,
    checked exactly); only the page is read in full, so a queue of tens of thousands answers in milliseconds.
    `collapsed` counts the duplicates folded within that window; `total_pending` is exact. Filters (all in SQL, so
    pages stay whole): `family` a top-level group (ISO clause `6`, Annex A `A.6`, CSF function `PR`), `kind` the
    document kind, `band` low (< 0.4), mid (0.4–0.7) or high (>= 0.7) confidence.
    """
    from sqlalchemy import case, func, literal, tuple_

    from classifiers.suggest import suggestion_public
    from review.models import Decision

    if framework is not None and framework not in catalog.frameworks:
        raise ClausewiseError(ErrorCode.framework_not_found, f"unknown framework {framework!r}")
    if band is not None and band not in BANDS:
        raise ClausewiseError(ErrorCode.validation_error, f"band is one of {', '.join(BANDS)}")
    members = family_members(catalog, family) if family else None
    if family and not members:
        raise ClausewiseError(ErrorCode.control_not_found, f"no framework has a top-level group {family!r}")
    where = {"members": members, "kind": kind or None, "confidence": BANDS[band] if band else None}
    with db.session() as s:
        latest: dict[str, str] = {}
        for sid, decision in s.execute(select(Decision.suggestion_id, Decision.decision)
                                       .where(Decision.tenant_id == tenant_id).order_by(Decision.seq)):
            latest[sid] = decision
        confirmed_ids = [sid for sid, d in latest.items() if d in CONFIRMED]
        confirmed: set[tuple[str, str]] = set()
        for i in range(0, len(confirmed_ids), 500):
            confirmed.update(s.execute(select(Suggestion.framework, Suggestion.control_id)
                                       .where(Suggestion.id.in_(confirmed_ids[i:i + 500]))).tuples())
        undecided = ~select(Decision.id).where(Decision.suggestion_id == Suggestion.id).exists()
        total = s.scalar(_current(select(func.count(Suggestion.id)), tenant_id, framework, **where)
                         .where(undecided))
        gap_last = case((tuple_(Suggestion.framework, Suggestion.control_id).in_(sorted(confirmed)), 1), else_=0) \
            if confirmed else literal(0)
        window = max(4 * (offset + limit), offset + limit + WINDOW_MIN)
        q = _current(select(Suggestion.id, Suggestion.framework, Suggestion.control_id, Suggestion.confidence,
                            Suggestion.quote, Suggestion.document_id, Document.filename), tenant_id, framework,
                     **where)
        rows = s.execute(q.where(undecided).order_by(
            gap_last, func.abs(2.0 * Suggestion.confidence - 1.0), Suggestion.rank, Suggestion.id).limit(window)).all()
    groups: list[dict] = []
    # candidates by prefix filtering (exact, deterministic): two sets at Jaccard >= t share a token among the first
    # |A| - ceil(t * |A|) + 1 of each in one fixed order; each candidate is then checked exactly
    index: dict[tuple, list[tuple[dict, frozenset[str]]]] = defaultdict(list)
    for r in rows:
        toks = frozenset(_tokens(r.quote))
        prefix = jaccard_prefix(toks)
        seen: set[int] = set()
        twin = None
        for t in prefix:
            for g, gt in index[(r.framework, r.control_id, t)]:
                if id(g) in seen:
                    continue
                seen.add(id(g))
                if len(toks & gt) / len(toks | gt) >= NEAR_DUPLICATE_JACCARD:
                    twin = g
                    break
            if twin is not None:
                break
        if twin is not None:
            twin["duplicates"].append({"suggestion_id": r.id, "document_id": r.document_id, "filename": r.filename})
            continue
        entry = {"row": r, "duplicates": []}
        for t in prefix:
            index[(r.framework, r.control_id, t)].append((entry, toks))
        groups.append(entry)
    page = groups[offset: offset + limit]
    gov = load_governance(db, tenant_id)
    with db.session() as s:
        full = {sg.id: sg for sg in s.scalars(select(Suggestion).where(Suggestion.id.in_([g["row"].id for g in page])))}
        items = []
        for g in page:
            r, sg = g["row"], full[g["row"].id]
            items.append({**suggestion_public(sg, catalog.control(r.framework, r.control_id).title),
                          "filename": r.filename, "coverage_gap": (r.framework, r.control_id) not in confirmed,
                          "uncertainty": round(1.0 - abs(2.0 * r.confidence - 1.0), 4),
                          "duplicates": g["duplicates"],
                          "control_owner": (gov.owner_of(control_key(r.framework, r.control_id)) or {}).get("owner"),
                          "document_owner": (gov.document_owners.get(r.document_id) or {}).get("owner")})
    return {"total_pending": total, "items": items, "collapsed": len(rows) - len(groups), "offset": offset}
