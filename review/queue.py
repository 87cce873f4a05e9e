"""The review queue: undecided suggestions of each document's current run, gaps first, then the most uncertain."""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy import select

from catalog import Catalog
from core.db import Database
from core.errors import ClausewiseError, ErrorCode
from core.models import Document, Suggestion
from review.decisions import CONFIRMED, REVIEWER_RUN, latest_decisions

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


def review_queue(*, db: Database, catalog: Catalog, tenant_id: str, framework: str | None = None,
                 limit: int = 50) -> dict:
    """Undecided suggestions, gaps first (controls with no confirmed evidence), then the most uncertain.

    Near-duplicate evidence for one control (quotes whose word sets overlap >= 80 %) is collapsed into one item
    that lists the others, so a reviewer reads the same log line once.
    """
    from classifiers.suggest import suggestion_public

    if framework is not None and framework not in catalog.frameworks:
        raise ClausewiseError(ErrorCode.framework_not_found, f"unknown framework {framework!r}")
    with db.session() as s:
        latest = latest_decisions(s, tenant_id)
        rows = current_suggestions(s, tenant_id, framework)
    confirmed = {(sg.framework, sg.control_id) for sg, _ in rows
                 if sg.id in latest and latest[sg.id].decision in CONFIRMED}
    pending = [(sg, doc) for sg, doc in rows if sg.id not in latest]

    def priority(item):
        sg, _ = item
        gap = (sg.framework, sg.control_id) not in confirmed
        uncertainty = 1.0 - abs(2.0 * sg.confidence - 1.0)
        return (0 if gap else 1, -round(uncertainty, 6), sg.rank, sg.id)

    pending.sort(key=priority)
    groups: list[dict] = []
    by_control: dict[tuple[str, str], list[tuple[dict, set[str]]]] = defaultdict(list)
    for sg, doc in pending:
        toks = _tokens(sg.quote)
        twin = next((g for g, gt in by_control[(sg.framework, sg.control_id)]
                     if toks and gt and len(toks & gt) / len(toks | gt) >= NEAR_DUPLICATE_JACCARD), None)
        if twin is not None:
            twin["duplicates"].append({"suggestion_id": sg.id, "document_id": doc.id, "filename": doc.filename})
            continue
        gap = (sg.framework, sg.control_id) not in confirmed
        entry = {**suggestion_public(sg, catalog.control(sg.framework, sg.control_id).title),
                 "filename": doc.filename, "coverage_gap": gap,
                 "uncertainty": round(1.0 - abs(2.0 * sg.confidence - 1.0), 4), "duplicates": []}
        by_control[(sg.framework, sg.control_id)].append((entry, toks))
        groups.append(entry)
    return {"total_pending": len(pending), "items": groups[:limit], "collapsed": len(pending) - len(groups)}
