"""`clausewise eval files`: in-process scoring of a folder gives exactly what the service answers for the same
files (uploaded over HTTP, classified by the job), and counts bad files refused with a code."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import FIXTURES, wait_for_document

pytestmark = [pytest.mark.needs_model]

SAMPLE = ["KHA-STD-AI-003_AI_Acceptable_Use_Standard_v2.1.pdf", "jira_SECOPS-842_rotate_transcription_sp_secret.json",
          "mlp-train-gpu-04_auth.log"]
FW = {"iso42001": "ISO-IEC-42001-2023", "nist_csf_2": "NIST-CSF-2.0", "nhi": "OWASP-NHI-TOP10-2025"}


def test_in_process_rankings_equal_the_services(eager_client):
    from eval.files import score_folder

    result = score_folder(FIXTURES, only=set(SAMPLE), leave_out_known=False)   # the whole bank, as the service
    assert [r["file"] for r in result["per_file"]] == SAMPLE and result["good_indexed"] == 3
    for row in result["per_file"]:
        up = eager_client.post("/v1/documents", files={"file": (row["file"], (FIXTURES / row["file"]).read_bytes())})
        assert up.status_code == 202, up.text
        wait_for_document(eager_client, up.json()["document_id"], timeout=240)
        items = eager_client.get(f"/v1/documents/{up.json()['document_id']}/suggestions").json()["items"]
        for key, fw in FW.items():
            served = [s["control_id"] for s in sorted((s for s in items if s["framework"] == fw),
                                                      key=lambda s: s["rank"])]
            assert row["ranked"][key] == served, (row["file"], key)


def test_metrics_and_bad_files(tmp_path):
    from eval.files import score_folder

    folder = tmp_path / "set"
    folder.mkdir()
    shutil.copy(FIXTURES / SAMPLE[0], folder / SAMPLE[0])
    (folder / "empty.txt").write_bytes(b"")
    (folder / "renamed.pdf").write_text("plain text that claims to be a PDF\n" * 20)
    entries = [{"file": SAMPLE[0], "expect": "suggestions", "primary": {"iso42001": "A.9.2"},
                "labels": {"iso42001": ["A.9.2", "A.2.2"], "nist_csf_2": [], "nhi": []}},
               {"file": "empty.txt", "expect": "expect_error", "labels": {}},
               {"file": "renamed.pdf", "expect": "expect_error", "labels": {}}]
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(e) for e in entries))
    result = score_folder(folder)
    assert (result["good"], result["good_indexed"], result["bad"], result["bad_refused_with_code"]) == (1, 1, 2, 2)
    codes = {r["file"]: r.get("error_code") for r in result["per_file"]}
    assert codes["empty.txt"] == "empty_file" and codes["renamed.pdf"] == "type_mismatch"
    iso = result["frameworks"]["iso42001"]
    ranked = result["per_file"][0]["ranked"]["iso42001"]
    assert iso["n"] == 1 and iso["primary@3"] == (1.0 if "A.9.2" in ranked[:3] else 0.0)
    first = min(ranked.index(c) for c in ("A.9.2", "A.2.2") if c in ranked) + 1
    assert iso["mrr"] == round(1 / first, 3) and result["frameworks"]["nhi"] == {"n": 0}


def test_a_set_the_example_bank_learned_from_is_scored_leave_one_set_out():
    """The shipped bank holds the realistic sets; scoring one of them leaves its whole set out, never the rest."""
    from catalog import load_catalog
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder
    from eval.files import score_folder

    clf = Classifier(load_catalog(), get_embedder())
    assert {"files", "files2", "files3"} <= set(clf.examples.groups)
    kept = score_folder(FIXTURES, only={SAMPLE[0]}, classifier=clf, leave_out_known=False)
    left = score_folder(FIXTURES, only={SAMPLE[0]}, classifier=clf)
    assert kept["examples_left_out"] == [] and left["examples_left_out"] == ["files"]
    from eval.files import bank_without_these, prepare

    vectors = prepare(get_embedder(), FIXTURES / SAMPLE[0])["vectors"]
    bank, groups = bank_without_these(clf.examples, [vectors])
    assert groups == ["files"]
    assert len(bank) == len(clf.examples) - clf.examples.groups.count("files") and "files" not in bank.groups
    # a document the bank never saw leaves it whole
    other, none = bank_without_these(clf.examples, [get_embedder().embed(["A recipe for lemon cake."])])
    assert none == [] and len(other) == len(clf.examples)
