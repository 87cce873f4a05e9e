"""Review queue ordering and near-duplicate collapsing, and coverage states, on hand-made suggestions."""

from __future__ import annotations

from datetime import UTC

import pytest

from catalog import load_catalog
from core.errors import ClausewiseError
from core.models import DEFAULT_TENANT_ID, Document, Suggestion, new_id
from review import coverage as review_coverage
from review import edges as review_edges
from review import ledger
from review import queue as review_queue

ISO = "ISO-IEC-42001-2023"



def _doc(db, name, evidence_date=None):
    doc = Document(id=new_id(), tenant_id=DEFAULT_TENANT_ID, sha256=new_id().replace("-", "").ljust(64, "0"),
                   size_bytes=1, filename=name, detected_type="text/plain", storage_key="k", status="indexed",
                   classification_run_id="run-" + name, evidence_date=evidence_date)
    with db.session() as s:
        s.add(doc)
    return doc


def _sg(db, doc, control, confidence, quote, rank=1):
    sg = Suggestion(id=new_id(), tenant_id=DEFAULT_TENANT_ID, document_id=doc.id, run_id=doc.classification_run_id,
                    framework=ISO, control_id=control, rank=rank, raw_score=confidence, confidence=confidence,
                    state="suggested" if confidence >= 0.5 else "needs_review", source="retrieval", quote=quote,
                    features={}, classifier_version="v", embedder_id="e", catalog_version="c", config_hash="h")
    with db.session() as s:
        s.add(sg)
    return sg


def test_gaps_first_then_most_uncertain_and_near_duplicates_collapsed(db):
    cat = load_catalog()
    a, b, c = _doc(db, "a.log"), _doc(db, "b.log"), _doc(db, "c.md")
    line = "2025-11-03 sshd accepted publickey for svc-train from 10.0.4.7 port 52311"
    dup1 = _sg(db, a, "A.6.2.8", 0.9, line)
    dup2 = _sg(db, b, "A.6.2.8", 0.88, line.replace("52311", "52312"))  # the same event, another port
    uncertain = _sg(db, c, "A.2.2", 0.52, "The AI policy is approved by the board and reviewed yearly.")
    sure = _sg(db, c, "A.9.2", 0.97, "Staff may use approved AI tools only for permitted purposes.", rank=2)
    covered_before = _sg(db, a, "A.3.2", 0.5, "Roles for the AI system are assigned to named owners.", rank=2)
    confirmed = _sg(db, b, "A.3.2", 0.8, "The model owner is accountable for releases.", rank=2)
    ledger.append(db, tenant_id=DEFAULT_TENANT_ID, suggestion=confirmed, decision="confirm", actor="r",
                  actor_key_id=None)

    q = review_queue.review_queue(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID)
    order = [i["suggestion_id"] for i in q["items"]]
    # gaps (no confirmed evidence) first, most uncertain first among them; A.3.2 is covered, so it comes last
    # although its confidence of 0.5 is the most uncertain of all
    # dup2 (0.88) is less certain than dup1 (0.9): it stands for both
    assert order == [uncertain.id, dup2.id, sure.id, covered_before.id]
    assert [i["coverage_gap"] for i in q["items"]] == [True, True, True, False]
    first_dup = q["items"][1]
    assert [d["suggestion_id"] for d in first_dup["duplicates"]] == [dup1.id]
    assert q["total_pending"] == 5 and q["collapsed"] == 1


def test_coverage_states_and_the_audit_period(db):
    from datetime import datetime

    cat = load_catalog()
    old = _doc(db, "old.pdf", datetime(2024, 5, 1, tzinfo=UTC))
    new = _doc(db, "new.pdf", datetime(2025, 6, 1, tzinfo=UTC))
    c1 = _sg(db, old, "A.2.2", 0.9, "The AI policy v1 was approved.")
    c2 = _sg(db, new, "A.9.2", 0.9, "Approved AI tools only.")
    _sg(db, new, "A.6.2.8", 0.7, "Event logs are kept for a year.")
    rejected = _sg(db, new, "A.7.2", 0.6, "Training data is documented.")
    for sg, d in ((c1, "confirm"), (c2, "confirm")):
        ledger.append(db, tenant_id=DEFAULT_TENANT_ID, suggestion=sg, decision=d, actor="r", actor_key_id=None)
    ledger.append(db, tenant_id=DEFAULT_TENANT_ID, suggestion=rejected, decision="reject", actor="r",
                  actor_key_id=None, reason_code="insufficient_evidence")
    cov = review_coverage.coverage(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, framework=ISO,
                          period_start=datetime(2025, 1, 1, tzinfo=UTC),
                          period_end=datetime(2025, 12, 31, tzinfo=UTC))
    st = {i["control_id"]: i["status"] for i in cov["items"]}
    assert st["A.2.2"] == "confirmed_outside_period" and st["A.9.2"] == "confirmed"
    assert st["A.6.2.8"] == "suggested" and st["A.7.2"] == "none"  # a rejected suggestion is no coverage
    assert cov["summary"]["confirmed"] == 1 and cov["summary"]["confirmed_outside_period"] == 1
    csf = review_coverage.coverage(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, framework="NIST-CSF-2.0")
    proposed = [i for i in csf["items"] if i["status"] == "proposed"]
    assert proposed and all(p["from"]["control_id"] in ("A.2.2", "A.9.2")
                            for i in proposed for p in i["proposed_via_crosswalk"])
    assert csf["summary"]["confirmed"] == 0


def test_an_admin_rejected_crosswalk_edge_proposes_no_coverage(db):
    from core.auth import Principal
    from core.errors import ClausewiseError
    from core.models import Role

    cat = load_catalog()
    doc = _doc(db, "policy.md")
    sg = _sg(db, doc, "A.2.2", 0.9, "The AI policy is approved by the board.")
    ledger.append(db, tenant_id=DEFAULT_TENANT_ID, suggestion=sg, decision="confirm", actor="r", actor_key_id=None)
    admin = Principal(key_id="k", name="admin one", role=Role.admin, tenant_id=DEFAULT_TENANT_ID)

    def proposals():
        cov = review_coverage.coverage(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, framework="NIST-CSF-2.0")
        return {i["control_id"]: i["proposed_via_crosswalk"] for i in cov["items"] if i["proposed_via_crosswalk"]}

    before = proposals()
    one_hop = sorted(c for c, ps in before.items() if any(len(p["path"]) == 1 for p in ps))
    assert len(one_hop) >= 2
    struck, doubted = one_hop[0], one_hop[1]
    for target, verdict in ((struck, "rejected"), (doubted, "disputed")):
        # reviewed in the direction opposite to the one the CSV stores: an edge is an edge either way
        out = review_edges.review_edge(db=db, catalog=cat, principal=admin, from_framework="NIST-CSF-2.0",
                                 from_id=target, to_framework=ISO, to_id="A.2.2", verdict=verdict, comment="why")
        assert out["review"]["verdict"] == verdict and out["review"]["actor"] == "admin one"
    after = proposals()
    assert all(len(p["path"]) > 1 for p in after.get(struck, []))  # only longer paths can still reach it
    assert any(p["disputed"] for p in after[doubted])
    edges = review_edges.list_edges(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, status="rejected")
    assert edges["count"] == 1 and edges["items"][0]["review"]["comment"] == "why"
    with pytest.raises(ClausewiseError) as e:
        review_edges.review_edge(db=db, catalog=cat, principal=admin, from_framework=ISO, from_id="A.2.2",
                           to_framework="OWASP-NHI-TOP10-2025", to_id="NHI9", verdict="accepted", comment=None)
    assert e.value.code.value == "edge_not_found"


def test_filters_by_family_kind_and_band_keep_pages_whole(db):
    cat = load_catalog()
    pol, log = _doc(db, "policy.md"), _doc(db, "auth.log")
    with db.session() as s:
        s.get(Document, pol.id).kind, s.get(Document, log.id).kind = "policy", "log"
    made = []
    for i in range(30):   # distinct quotes, so nothing collapses; alternate families, kinds and bands
        control = ("A.6.2.5", "6.1.2", "A.9.2")[i % 3]
        made.append(_sg(db, (pol, log)[i % 2], control, (0.3, 0.55, 0.85)[i % 3] + i / 1000,
                        f"record {1000 + i} of batch {5000 + 37 * i} at host{i:03d}x", rank=1 + i % 5))
    a6 = review_queue.review_queue(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, family="A.6", limit=100)
    assert {i["control_id"] for i in a6["items"]} == {"A.6.2.5"} and a6["total_pending"] == 10
    clause6 = review_queue.review_queue(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, family="6", limit=100)
    assert {i["control_id"] for i in clause6["items"]} == {"6.1.2"}
    logs = review_queue.review_queue(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, kind="log", limit=100)
    assert logs["total_pending"] == 15 and all(i["document_id"] == log.id for i in logs["items"])
    # a band filter in the database: a page of 4 holds 4 items of that band, and paging walks all of them
    seen = []
    for page in range(3):
        got = review_queue.review_queue(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, band="high", limit=4,
                                        offset=4 * page)
        assert all(i["confidence"] >= 0.7 for i in got["items"])
        seen += [i["suggestion_id"] for i in got["items"]]
    assert len(seen) == len(set(seen)) == 10
    with pytest.raises(ClausewiseError) as e:
        review_queue.review_queue(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, family="Z.9")
    assert e.value.code.value == "control_not_found"
    with pytest.raises(ClausewiseError):
        review_queue.review_queue(db=db, catalog=cat, tenant_id=DEFAULT_TENANT_ID, band="extreme")


def test_bulk_confirm_skips_needs_review_names_low_confidence_and_refuses_own_evidence_whole(db):
    from core.auth import Principal
    from core.models import Role
    from review.decisions import bulk_confirm

    doc = _doc(db, "bulk.md")
    low = _sg(db, doc, "A.2.2", 0.6, "low confidence evidence")
    high = _sg(db, doc, "A.9.2", 0.9, "high confidence evidence")
    needs = _sg(db, doc, "A.3.2", 0.3, "needs review evidence")
    reviewer = Principal(tenant_id=DEFAULT_TENANT_ID, key_id="k-reviewer", role=Role.reviewer, name="rev")
    ids = [low.id, high.id, needs.id]
    warned = bulk_confirm(db=db, principal=reviewer, suggestion_ids=ids, four_eyes=True)
    assert not warned["applied"] and warned["confirmed"] == []
    assert [i["control_id"] for i in warned["low_confidence"]] == ["A.2.2"]
    assert [i["control_id"] for i in warned["skipped_needs_review"]] == ["A.3.2"]
    assert ledger.verify(db, DEFAULT_TENANT_ID).rows == 0
    done = bulk_confirm(db=db, principal=reviewer, suggestion_ids=ids, four_eyes=True, acknowledge_low=True)
    assert done["applied"] and sorted(d["control_id"] for d in done["confirmed"]) == ["A.2.2", "A.9.2"]
    assert ledger.verify(db, DEFAULT_TENANT_ID).ok and ledger.verify(db, DEFAULT_TENANT_ID).rows == 2
    # four eyes: a selection holding evidence the reviewer uploaded is refused before anything is applied
    mine = _doc(db, "mine.md")
    with db.session() as s:
        s.get(Document, mine.id).uploaded_by = "k-reviewer"
    other = _sg(db, doc, "A.4.2", 0.95, "someone else's evidence")
    own = _sg(db, mine, "A.5.2", 0.95, "my own evidence")
    with pytest.raises(ClausewiseError) as e:
        bulk_confirm(db=db, principal=reviewer, suggestion_ids=[other.id, own.id], four_eyes=True)
    assert e.value.code.value == "four_eyes_violation" and ledger.verify(db, DEFAULT_TENANT_ID).rows == 2
