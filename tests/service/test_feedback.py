"""Reviewer decisions as examples: confirmed controls vote for, rejected controls vote against, by similarity."""

import numpy as np

from classifiers.examples import ExampleBank


def _unit(*xs):
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_confirmed_votes_for_and_rejected_votes_against():
    bank = ExampleBank(np.stack([_unit(1, 0, 0), _unit(0, 1, 0)]),
                       labels=[{"ISO": ["A.2.2"]}, {"ISO": ["A.6.2.4"]}], groups=["d1", "d2"],
                       negatives=[{"ISO": ["A.9.2"]}, {}], k=5, power=1.0, min_similarity=0.5)
    votes = bank.votes(_unit(1, 0.1, 0), "ISO", ["A.2.2", "A.9.2", "A.6.2.4", "5.2"])
    sim = float(_unit(1, 0, 0) @ _unit(1, 0.1, 0))
    assert np.allclose(votes, [sim, -sim, 0.0, 0.0])  # d2 is below the similarity floor: no vote


def test_an_example_with_only_rejections_still_votes_and_groups_can_be_held_out():
    bank = ExampleBank(np.stack([_unit(1, 0)]), labels=[{}], groups=["d1"], negatives=[{"CSF": ["PR.AA-01"]}],
                       power=1.0, min_similarity=0.1)
    assert bank.votes(_unit(1, 0), "CSF", ["PR.AA-01"]).tolist() == [-1.0]
    assert bank.without_group("d1").votes(_unit(1, 0), "CSF", ["PR.AA-01"]).tolist() == [0.0]


def test_extending_a_bank_keeps_both_sets_of_examples():
    base = ExampleBank(np.stack([_unit(1, 0)]), labels=[{"ISO": ["A.2.2"]}], groups=["dev"], power=1.0)
    extra = ExampleBank(np.stack([_unit(0.9, 0.1)]), labels=[{}], groups=["t"], negatives=[{"ISO": ["A.2.2"]}],
                        power=1.0)
    both = base.extended(extra)
    assert len(both) == 2 and both.groups == ["dev", "t"]
    v = both.votes(_unit(1, 0), "ISO", ["A.2.2"])[0]
    assert 0 < v < 0.01  # the dev example's vote minus the slightly less similar rejection


def test_reviewer_decisions_move_the_next_similar_documents_ranking(runtime, tmp_path):
    """Confirm a low-ranked control and reject the top one on a document; a near-copy uploaded next ranks the
    confirmed control higher and the rejected one lower, and says how many tenant examples voted."""
    from conftest import FIXTURES, ingest_file
    from sqlalchemy import select

    from core.models import DEFAULT_TENANT_ID, Suggestion
    from review import ledger
    from worker.flows import classify

    iso = "ISO-IEC-42001-2023"
    name = "KHA-STD-DATA-007_training_audio_retention_and_lineage.md"
    first = ingest_file(runtime, FIXTURES / name)
    assert classify(runtime, DEFAULT_TENANT_ID, first["document_id"])["tenant_examples"] == 0

    def ranks(document_id):
        with runtime.db.session() as s:
            doc_run = s.scalars(select(Suggestion).where(Suggestion.document_id == document_id,
                                                         Suggestion.framework == iso)).all()
            latest = max(doc_run, key=lambda x: x.created_at).run_id
            return {x.control_id: x for x in doc_run if x.run_id == latest}

    before = ranks(first["document_id"])
    top = next(x for x in before.values() if x.rank == 1)
    low = next(x for x in before.values() if x.rank == 8)
    ledger.append(runtime.db, tenant_id=DEFAULT_TENANT_ID, suggestion=low, decision="confirm", actor="r",
                  actor_key_id=None)
    ledger.append(runtime.db, tenant_id=DEFAULT_TENANT_ID, suggestion=top, decision="reject", actor="r",
                  actor_key_id=None, reason_code="wrong_control")

    copy = tmp_path / "retention_v2.md"
    copy.write_text((FIXTURES / name).read_text() + "\n\nReviewed again in January 2026; no changes.\n")
    second = ingest_file(runtime, copy)
    out = classify(runtime, DEFAULT_TENANT_ID, second["document_id"])
    assert out["tenant_examples"] == 1
    after = ranks(second["document_id"])
    assert low.control_id in after and after[low.control_id].rank < 8
    assert top.control_id not in after or after[top.control_id].rank > 1
    assert after[low.control_id].features["examples"] > before[low.control_id].features["examples"]
