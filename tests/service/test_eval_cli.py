"""`clausewise eval run` writes the documented JSON, a report with plots, and gates on --fail-under."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.needs_model]

DEV = Path(__file__).parents[2] / "eval" / "datasets" / "evidence-dev.jsonl"
KEYS = {"n", "hit@1", "hit@3", "hit@5", "precision@3", "recall@5", "recall@10", "mrr", "ece", "micro_f1", "macro_f1"}


def test_eval_run_json_report_and_gate(tmp_path):
    rows = [json.loads(line) for line in DEV.read_text().splitlines()]
    subset = [r for r in rows if r["labels"]["nist_csf_2"]][:14] + [r for r in rows if r["labels"]["nhi"]][:4]
    for r in subset[:3]:  # reviewer decisions: confirm a gold label, reject a control that is not one
        wrong = next(c for c in ("GV.OC-01", "RC.CO-04", "ID.AM-01") if c not in r["labels"]["nist_csf_2"])
        r["decisions"] = [{"framework": "NIST-CSF-2.0", "control_id": r["labels"]["nist_csf_2"][0],
                           "decision": "confirm"},
                          {"framework": "NIST-CSF-2.0", "control_id": wrong, "decision": "reject"}]
    ds = tmp_path / "small.jsonl"
    ds.write_text("".join(json.dumps(r) + "\n" for r in subset))
    out, report = tmp_path / "run.json", tmp_path / "report"
    cmd = [sys.executable, "-m", "api.cli", "eval", "run", "--dataset", str(ds), "--json", str(out),
           "--report", str(report), "--fail-under", "nist_csf_2.hit@5=1.01"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "DO_NOT_TRACK": "1"})
    assert r.returncode == 1 and "FAIL nist_csf_2.hit@5" in r.stderr, r.stderr[-2000:]
    res = json.loads(out.read_text())
    assert {"run_id", "dataset", "classifier_version", "frameworks", "baselines"} <= set(res)
    assert res["dataset"]["items"] == 18 and len(res["dataset"]["sha256"]) == 64
    assert set(res["frameworks"]) == {"iso42001", "nist_csf_2", "nhi"}
    assert KEYS <= set(res["frameworks"]["nist_csf_2"]) and res["frameworks"]["nist_csf_2"]["n"] == 14
    assert res["frameworks"]["iso42001"]["n"] == 0, "no item of this set is labelled for ISO 42001"
    for name in ("bm25", "dense_zero_shot", "random", "majority"):
        assert res["baselines"][name]["nist_csf_2"]["n"] == 14
    assert 0 <= res["frameworks"]["nist_csf_2"]["hit@5"] <= 1
    kappa = res["frameworks"]["nist_csf_2"]["cohen_kappa"]
    assert kappa["pairs"] == 6 and (kappa["kappa"] is None or -1 <= kappa["kappa"] <= 1)
    assert "cohen_kappa" not in res["frameworks"]["nhi"], "no reviewer decisions for NHI in this set"
    assert (report / "report.html").exists() and (report / "report.md").exists()
    assert (report / "reliability_nist_csf_2.png").read_bytes()[:4] == b"\x89PNG"
    ok = subprocess.run(cmd[:-2] + ["--fail-under", "nist_csf_2.hit@5=0.0"], capture_output=True, text=True,
                        timeout=600, env={**os.environ, "DO_NOT_TRACK": "1"})
    assert ok.returncode == 0, ok.stderr[-2000:]
    cmp = subprocess.run([sys.executable, "-m", "api.cli", "eval", "compare", str(out), str(out)],
                         capture_output=True, text=True, timeout=120)
    assert cmp.returncode == 0 and "0.0000" in cmp.stdout


def test_ablation_builds_up_one_part_at_a_time_to_the_shipped_configuration():
    from dataclasses import asdict

    from classifiers.suggest import ClassifierConfig
    from eval.ablation import VARIANTS

    def flat(cfg):
        d = asdict(cfg)
        return {**{f"scoring.{k}": v for k, v in d.pop("scoring").items()},
                **{f"cross.{k}": v for k, v in d.pop("cross").items()}, **d}

    build = [cfg for name, cfg in VARIANTS if name.startswith(("dense", "+"))]
    assert build[-1] == ClassifierConfig(), "the last build-up row is the shipped configuration"
    for before, after in zip(build, build[1:]):
        changed = {k for k, v in flat(after).items() if flat(before)[k] != v}
        assert len(changed) == 1, changed
    others = [cfg for name, cfg in VARIANTS if name.startswith("shipped")]
    assert all(len({k for k, v in flat(c).items() if flat(ClassifierConfig())[k] != v}) == 1 for c in others)


def test_ablation_scores_realistic_files_the_way_the_service_ranks_them(tmp_path):
    import shutil

    from catalog import load_catalog
    from classifiers.suggest import Classifier, ClassifierConfig
    from core.embedder import get_embedder
    from eval.ablation import is_clause, score_files
    from eval.dataset import load

    src = Path(__file__).parents[2] / "eval" / "datasets" / "files"
    name = "KHA-AIMS-DOC-001_AIMS_scope_statement_v1.2.txt"
    shutil.copy(src / name, tmp_path / name)
    items = load(_manifest(tmp_path, name, ["4.3"]), get_embedder())
    ranked = [d.control_id for d in sorted(
        (d for d in Classifier(load_catalog(), get_embedder()).classify(items[0].texts, items[0].vectors,
                                                                        items[0].kind).drafts
         if d.framework == "ISO-IEC-42001-2023"), key=lambda d: d.rank)]
    top, fourth = ranked[0], ranked[3]
    # the first item's primary label is ranked first, the second's fourth: primary@3 = 1/2, MRR = (1 + 1/4) / 2
    items = load(_manifest(tmp_path, name, [top], name, [fourth]), get_embedder())
    res = score_files(items, ClassifierConfig())["iso42001"]
    assert {k: res[k] for k in ("n", "primary@3", "hit@5", "mrr")} == {"n": 2, "primary@3": 0.5, "hit@5": 1.0,
                                                                       "mrr": 0.625}
    clauses = [hit for label, hit in ((top, True), (fourth, False)) if is_clause(label)]
    if clauses:   # the same primary@3 on the documents whose primary label is a clause (4-10)
        assert (res["clause_n"], res["clause_primary@3"]) == (len(clauses), round(sum(clauses) / len(clauses), 3))
    else:
        assert "clause_n" not in res


def _manifest(folder, *pairs):
    rows = [{"file": f, "expect": "suggestions", "labels": {"iso42001": ids}, "primary": {"iso42001": ids[0]}}
            for f, ids in zip(pairs[::2], pairs[1::2])]
    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
