"""Classifier parts on small hand-made cases: aggregation, lexical side, evidence form, crosswalk, calibration."""

import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from catalog import load_catalog
from catalog.loader import CSF, ISO, NHI
from classifiers.calibration import Calibrator, expected_calibration_error, features, fit
from classifiers.index import FrameworkIndex
from classifiers.profiles import tokenize
from classifiers.scoring import CrossConfig, FrameworkScores, ScoringConfig, combine, score_document

pytestmark = [pytest.mark.needs_model]


class TinyIndex:
    """Two controls with orthogonal views; enough to pin how chunk scores aggregate."""

    def __init__(self, docs=("alpha control text", "beta control text", "gamma control text")):
        vecs = np.eye(3, 4, dtype=np.float32)
        self.frameworks = {"T": FrameworkIndex("T", ["A", "B", "C"], vecs, np.array([0, 1, 2]), ["text"] * 3,
                                               BM25Okapi([tokenize(d) for d in docs]))}


def unit(*xs):
    v = np.array(xs + (0.0,) * (4 - len(xs)), dtype=np.float32)
    return v / np.linalg.norm(v)


def test_a_single_strong_passage_outranks_many_weak_ones():
    strong = unit(1.0)                 # cos 1.0 with A
    weak = unit(0.0, 0.5, 0.0, 0.866)  # cos 0.5 with B
    vecs = np.vstack([strong] + [weak] * 30)
    s = score_document(TinyIndex(), ["x"] * 31, vecs, ScoringConfig(w_bm25=0.0))["T"]
    assert s.control_ids[s.ranking()[0]] == "A" and s.dense_top[1] > s.dense_top[0]
    assert s.dense_max[0] == pytest.approx(1.0) and s.dense_max[1] == pytest.approx(0.5, abs=1e-3)
    assert s.best_chunk[0] == 0, "the supporting passage is the strong one"


def test_top_k_support_breaks_a_tie_between_equal_best_passages():
    one = np.vstack([unit(0.9, 0, 0, 0.436), unit(0, 0, 0, 1)])               # A once
    many = np.vstack([unit(0, 0.9, 0, 0.436)] * 3)                             # B three times
    s = score_document(TinyIndex(), ["x"] * 5, np.vstack([one, many]), ScoringConfig(w_bm25=0.0))["T"]
    assert s.dense_max[0] == pytest.approx(s.dense_max[1], abs=1e-3)
    assert s.control_ids[s.ranking()[0]] == "B"


def test_lexical_side_scores_shared_words():
    vecs = np.vstack([unit(0, 0, 0, 1)])  # dense says nothing
    docs = ("rotate keys quarterly", "retain audit logs", "train staff yearly")
    s = score_document(TinyIndex(docs), ["we retain audit logs"], vecs,
                       ScoringConfig(w_dense_max=0, w_dense_top=0, w_bm25=1.0))["T"]
    assert s.bm25.tolist() == [0.0, 1.0, 0.0] and s.control_ids[s.ranking()[0]] == "B"


def _scores(fw, ids, values):
    v = np.array(values, dtype=float)
    return FrameworkScores(fw, ids, v, v, v * 0, v.copy(), np.zeros(len(ids), dtype=int))


def test_iso_evidence_proposes_its_csf_neighbour_with_the_path():
    cat = load_catalog()
    edge = next(e for e in cat.edges if e.from_framework == ISO and e.from_id == "A.6.2.8" and e.to_framework == CSF)
    other = next(c for c in ("PR.AT-01", "GV.OC-01") if c != edge.to_id)
    scores = {ISO: _scores(ISO, ["A.6.2.8", "A.2.2"], [1.0, 0.0]),
              CSF: _scores(CSF, [edge.to_id, other], [0.0, 0.0]),
              NHI: _scores(NHI, ["NHI1"], [0.0])}
    paths = combine(scores, cat, None, CrossConfig(w_form=0, w_reinforce=0, w_propose=0.1))
    bonus = 0.1 * {"equal": 1.0, "subset": 0.8, "superset": 0.8, "intersect": 0.7, "related": 0.5}[edge.relationship]
    assert scores[CSF].fused.tolist() == pytest.approx([bonus, 0.0])
    hop = paths[CSF][edge.to_id][-1]
    assert (hop.to_framework, hop.to_id) == (ISO, "A.6.2.8") and hop.provenance == "project"
    assert other not in paths[CSF]


def test_direct_nhi_evidence_reinforces_an_iso_control():
    cat = load_catalog()
    path = cat.neighbours(NHI, "NHI7", to_framework=ISO)[0]
    iso_id = path[-1].to_id
    scores = {ISO: _scores(ISO, [iso_id, "4.1"], [0.0, 0.0]), CSF: _scores(CSF, ["GV.OC-01"], [0.0]),
              NHI: _scores(NHI, ["NHI7", "NHI1"], [1.0, 0.0])}
    combine(scores, cat, None, CrossConfig(w_form=0, w_reinforce=0.2, w_propose=0))
    assert scores[ISO].fused[0] > 0 and scores[ISO].fused[1] == 0


def test_an_audit_log_export_is_evidence_of_event_logging():
    cat = load_catalog()
    scores = {ISO: _scores(ISO, ["A.6.2.8", "A.2.2"], [0.5, 0.5]), CSF: _scores(CSF, ["PR.PS-04"], [0.0]),
              NHI: _scores(NHI, ["NHI1"], [0.0])}
    combine(scores, cat, "k8s_audit", CrossConfig(w_form=0.15, w_reinforce=0, w_propose=0))
    assert scores[ISO].fused.tolist() == pytest.approx([0.65, 0.5])
    same = {ISO: _scores(ISO, ["A.6.2.8", "A.2.2"], [0.5, 0.5]), CSF: _scores(CSF, ["PR.PS-04"], [0.0]),
            NHI: _scores(NHI, ["NHI1"], [0.0])}
    combine(same, cat, "markdown", CrossConfig(w_form=0.15, w_reinforce=0, w_propose=0))
    assert same[ISO].fused.tolist() == [0.5, 0.5]


def test_a_ticket_is_weak_evidence_of_operation_that_content_overrides():
    cat = load_catalog()
    for kind in ("jira", "github_issue", "servicenow"):
        scores = {ISO: _scores(ISO, ["A.6.2.6", "A.6.2.5", "A.2.2"], [0.5, 0.56, 0.5]),
                  CSF: _scores(CSF, ["PR.PS-04"], [0.0]), NHI: _scores(NHI, ["NHI1"], [0.0])}
        combine(scores, cat, kind, CrossConfig(w_form=0.25, w_reinforce=0, w_propose=0))
        assert scores[ISO].fused.tolist() == pytest.approx([0.55, 0.56, 0.5])
        assert scores[ISO].control_ids[scores[ISO].ranking()[0]] == "A.6.2.5", "a content lead of 0.06 survives"


def test_iso_views_include_project_crosswalk_rationales_on_the_dense_side_only():
    from classifiers.profiles import lexical_documents, views

    cat = load_catalog()
    project = {e.rationale for e in cat.edges
               if e.provenance == "project" and ISO in (e.from_framework, e.to_framework)}
    derived = {e.rationale for e in cat.edges if e.provenance != "project"}
    rotation = next(e for e in cat.edges if (e.from_framework, e.from_id, e.to_id) == (NHI, "NHI7", "A.6.2.6"))
    xw = [v for v in views(cat) if v.kind == "crosswalk"]
    assert {v.framework for v in xw} == {ISO}
    assert any(v.control_id == "A.6.2.6" and v.text == rotation.rationale for v in xw)
    assert {v.text for v in xw} <= project and not {v.text for v in xw} & derived
    assert len(xw) == sum(1 for e in cat.edges
                          if e.provenance == "project" and ISO in (e.from_framework, e.to_framework)
                          and {e.from_framework, e.to_framework} & {CSF, NHI})
    assert rotation.rationale not in lexical_documents(cat, ISO)["A.6.2.6"]
    assert not [v for v in views(cat, crosswalk_rationales=False) if v.kind == "crosswalk"]


def test_calibration_learns_a_monotone_map_that_matches_frequencies():
    rng = np.random.default_rng(0)
    docs, correct = [], []
    for _ in range(400):
        s = np.sort(rng.uniform(0, 1, 10))[::-1]
        docs.append(s)
        correct.append((rng.uniform(0, 1, 10) < s).astype(int))  # P(right) = score
    cal = fit({"T": docs}, {"T": correct}, {})
    probe = cal.confidence("T", np.array([0.95, 0.6, 0.3, 0.05]))
    assert all(a > b for a, b in zip(probe, probe[1:]))
    conf = np.concatenate([cal.confidence("T", d) for d in docs])
    assert expected_calibration_error(conf, np.concatenate(correct)) < 0.05


def test_an_uncalibrated_framework_is_never_confident():
    assert Calibrator({}, {}, {}).confidence("T", np.array([9.0, 5.0])).tolist() == [0.0, 0.0]


def test_calibration_features_are_score_log_rank_and_gap():
    assert features(np.array([0.9, 0.5])).ravel().tolist() == pytest.approx([0.9, 0.0, 0.0, 0.5, np.log(2), -0.4])


def test_expected_calibration_error_on_hand_computed_cases():
    assert expected_calibration_error(np.array([0.8] * 10), np.array([1] * 8 + [0] * 2)) == pytest.approx(0.0)
    # two bins: 0.9 confident but right half the time (gap .4), 0.1 confident and never right (gap .1)
    ece = expected_calibration_error(np.array([0.9, 0.9, 0.1, 0.1]), np.array([1, 0, 0, 0]))
    assert ece == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    assert expected_calibration_error(np.array([]), np.array([])) == 0.0


@pytest.fixture(scope="module")
def classifier():
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder

    return Classifier(load_catalog(), get_embedder())


def test_clear_evidence_ranks_the_right_controls(classifier):
    from core.embedder import get_embedder

    texts = ["Service account keys and API tokens are rotated every 30 days; long-lived secrets are replaced by "
             "short-lived workload identity federation credentials and unused non-human identities are disabled."]
    result = classifier.classify(texts, get_embedder().embed(texts), None)
    top = {fw: [d.control_id for d in result.drafts if d.framework == fw][:3] for fw in (ISO, CSF, NHI)}
    assert "NHI7" in top[NHI]
    assert {"PR.AA-01", "PR.AA-05"} & set(top[CSF])
    assert all(0.0 <= d.confidence <= 1.0 for d in result.drafts)
    assert classifier.version.startswith("clf-1|") and load_catalog().version in classifier.version


def test_a_text_that_evidences_nothing_gets_no_confident_suggestion(classifier):
    from core.embedder import get_embedder

    texts = ["Preheat the oven, toss the potatoes with rosemary and roast them for forty minutes until golden.",
             "The home side equalised from the penalty spot and the match ended one apiece."]
    result = classifier.classify(texts, get_embedder().embed(texts), None)
    assert [d for d in result.drafts if d.state == "suggested"] == []


def test_none_of_the_shipped_no_evidence_texts_gets_a_confident_suggestion(classifier):
    from pathlib import Path

    from core.embedder import get_embedder
    from eval.dataset import load

    items = load(Path(__file__).parents[2] / "eval" / "datasets" / "no-evidence.jsonl", get_embedder())
    assert len(items) == 12
    for it in items:
        drafts = classifier.classify(it.texts, it.vectors, it.kind).drafts
        assert [d.control_id for d in drafts if d.state == "suggested"] == [], it.texts[0][:60]


def test_what_a_document_is_outweighs_what_one_passage_discusses(classifier):
    """Minutes of a management review that spend a passage on supplier credentials evidence 9.3, not A.10."""
    from core.embedder import get_embedder

    body = ["Attendees: chief executive, chief risk officer, head of data science, quality lead. Agenda: status of "
            "actions from the previous review, changes in external and internal issues, performance of the AI "
            "systems, results of internal audits, opportunities for improvement.",
            "Supplier credentials: the API keys our hosted model provider issued are shared by two services and "
            "have not been rotated; the provider's contract does not require notice of sub-processors.",
            "Decisions: the board approved the updated objectives, asked for a resourcing plan for monitoring and "
            "assigned owners and due dates to four actions."]
    titled = ["Quarterly review of the AI management system by senior leadership\nMinutes\n\n" + body[0]] + body[1:]
    ranked = lambda r: [d.control_id for d in r.drafts if d.framework == ISO]  # noqa: E731
    emb = get_embedder()
    with_title = classifier.classify(titled, emb.embed(titled), "docx")
    assert with_title.extra["genre"] == "management_review"
    assert {"9.3.1", "9.3.2", "9.3.3"} & set(ranked(with_title)[:3])
    # the same passages as a fragment (no title lines) have no genre and no genre prior
    fragment = classifier.classify(body, emb.embed(body), None)
    assert "genre" not in fragment.extra
