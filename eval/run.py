"""Evaluation runs: score the classifier and baselines on a labelled set, cross-validated by source group."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from eval.dataset import LABEL_KEYS, Item, load, sha256_file
from eval.metrics import ranking_metrics, reliability, set_metrics

METRIC_KEYS = ("n", "hit@1", "hit@3", "hit@5", "precision@3", "recall@5", "recall@10", "mrr", "ece", "micro_f1",
               "macro_f1")


def _rank(drafts, fw: str) -> list:
    return sorted((d for d in drafts if d.framework == fw), key=lambda d: d.rank)


def _folds(rs: list[dict], n_folds: int = 5) -> tuple[list[list[int]], str]:
    """Held-out folds: by source group when a framework has enough groups, else by item."""
    groups = sorted({r["group"] for r in rs})
    if len(groups) >= n_folds:
        return [[i for i, r in enumerate(rs) if r["group"] == g] for g in groups], "leave one source group out"
    order = list(range(len(rs)))
    random.Random(7).shuffle(order)
    return [order[f::n_folds] for f in range(n_folds)], f"{n_folds}-fold by item ({len(groups)} source groups)"


def _cross_validated_confidences(rows: dict[str, list], fit) -> tuple[dict[str, dict[int, np.ndarray]], dict]:
    """Per framework and item: confidences from a calibrator fitted on the other folds only."""
    out: dict[str, dict[int, np.ndarray]] = defaultdict(dict)
    how = {}
    for fw, rs in rows.items():
        folds, how[fw] = _folds(rs)
        for fold in folds:
            held = set(fold)
            train = [r for i, r in enumerate(rs) if i not in held]
            cal = fit({fw: [r["scores"] for r in train]}, {fw: [r["correct"] for r in train]}, {})
            for i in fold:
                r = rs[i]
                out[fw][r["item"]] = cal.confidence(fw, r["scores"]) if fw in cal.models else \
                    np.zeros(len(r["scores"]))
    return out, how


def _score(rankings, golds, conf=None, correct=None, predicted=None, labels=None) -> dict:
    m = ranking_metrics(rankings, golds)
    if conf is not None:
        from classifiers.calibration import expected_calibration_error

        m["ece"] = round(expected_calibration_error(conf, correct), 4)
    if predicted is not None:
        sm = set_metrics(predicted, golds, labels)
        m["micro_f1"], m["macro_f1"] = sm["micro_f1"], sm["macro_f1"]
        m["per_label"] = sm["per_label"]
    return m


def _kappa_with_reviewers(items, results, fw: str, confs, threshold: float) -> dict | None:
    """Cohen's kappa between the classifier (suggested or not) and reviewer decisions (confirm or reject)."""
    from eval.metrics import cohen_kappa

    ours, theirs = [], []
    for n, it in enumerate(items):
        for d in it.decisions or []:
            if d.get("framework") != fw or d.get("decision") not in ("confirm", "reject"):
                continue
            ranked = _rank(results[n][0].drafts, fw)
            conf = confs.get(n) if confs else [x.confidence for x in ranked]
            hit = next((i for i, x in enumerate(ranked) if x.control_id == d.get("control_id")), None)
            ours.append(int(hit is not None and conf is not None and conf[hit] >= threshold))
            theirs.append(int(d["decision"] == "confirm"))
    if not ours:
        return None
    return {"pairs": len(ours), "kappa": round(cohen_kappa(ours, theirs), 4) if len(set(ours + theirs)) > 1 else None}


def _baselines(items: list[Item], keys: list[str], catalog, embedder, clf_bm25) -> dict:
    """Random, majority label, BM25 only and plain dense cosine against catalog text (zero-shot)."""
    from classifiers.profiles import candidates

    out = {"random": {}, "majority": {}, "bm25": {}, "dense_zero_shot": {}}
    rng = random.Random(13)
    for key in keys:
        fw = LABEL_KEYS[key]
        ids = candidates(catalog, fw)
        plain = embedder.embed([f"{catalog.control(fw, c).title}. {catalog.control(fw, c).text}" for c in ids])
        scored = [it for it in items if it.labels.get(key)]
        if not scored:
            for name in out:
                out[name][key] = {"n": 0}
            continue
        golds = [set(it.labels[key]) for it in scored]
        rand, major, bm, dense = [], [], [], []
        for it in scored:
            rand.append(rng.sample(ids, len(ids)))
            freq = Counter(c for o in scored if o.group != it.group for c in o.labels[key])
            major.append(sorted(ids, key=lambda c: (-freq[c], ids.index(c))))
            res = clf_bm25.classify(it.texts, it.vectors, it.kind)
            bm.append([d.control_id for d in _rank(res.drafts, fw)])
            sims = (it.vectors @ plain.T).max(axis=0)
            dense.append([ids[i] for i in np.argsort(-sims, kind="stable")])
        for name, rk in (("random", rand), ("majority", major), ("bm25", bm), ("dense_zero_shot", dense)):
            out[name][key] = _score(rk, golds)
    return out


def _classify_items(clf, bank, items: list[Item], keys: list[str], on_progress=None) -> tuple[list, dict]:
    """Classify every item with the example bank minus the item's own group; rows per framework for calibration."""
    results, rows = [], defaultdict(list)
    for n, it in enumerate(items):
        t = time.perf_counter()
        res = clf.classify(it.texts, it.vectors, it.kind, examples=bank.without_group(it.group))
        results.append((res, time.perf_counter() - t))
        if on_progress and (n % 5 == 0 or n + 1 == len(items)):
            on_progress(n + 1, len(items))
        for key in keys:
            if it.labelled(key):
                fw, gold = LABEL_KEYS[key], set(it.labels.get(key) or [])
                ranked = _rank(res.drafts, fw)
                rows[fw].append({"item": n, "group": it.group, "scores": np.array([d.raw_score for d in ranked]),
                                 "correct": np.array([int(d.control_id in gold) for d in ranked])})
    return results, rows


def _framework_report(report: dict, key: str, *, items, results, confs, cv: bool, shipped, catalog) -> None:
    """Fill `report` with one framework's metrics, reliability, confusions, breakdowns, κ and no-evidence count."""
    fw = LABEL_KEYS[key]
    threshold = shipped.calibrator.threshold(fw)
    scored = [(n, it) for n, it in enumerate(items) if it.labels.get(key)]
    if not scored:  # nothing in this set is labelled for the framework
        report["frameworks"][key] = {"n": 0}
        report["reliability"][key], report["confusions"][key] = [], []
        return
    rankings, golds, predicted, all_conf, all_correct = [], [], [], [], []
    for n, it in scored:
        ranked = _rank(results[n][0].drafts, fw)
        ids = [d.control_id for d in ranked]
        conf = confs[fw][n] if cv else shipped.calibrator.confidence(fw, np.array([d.raw_score for d in ranked]))
        rankings.append(ids)
        golds.append(set(it.labels[key]))
        predicted.append({c for c, p in zip(ids, conf) if p >= threshold})
        all_conf.extend(conf)
        all_correct.extend(int(c in golds[-1]) for c in ids)
    # items known to evidence nothing: their candidates are all wrong, and count for calibration
    for n, it in enumerate(items):
        if it.expect == "no_evidence" and cv:
            all_conf.extend(confs[fw][n])
            all_correct.extend([0] * len(confs[fw][n]))
    report["frameworks"][key] = _score(rankings, golds, np.array(all_conf), np.array(all_correct), predicted,
                                       [c.id for c in catalog.frameworks[fw].requirements()])
    report["reliability"][key] = reliability(np.array(all_conf), np.array(all_correct))
    conf_pairs = Counter((r[0], sorted(g)[0]) for r, g in zip(rankings, golds) if r and r[0] not in g)
    report["confusions"][key] = [{"predicted": p, "gold": g, "count": c}
                                 for (p, g), c in conf_pairs.most_common(10)]
    for attr, bucket in (("source", "per_source"), ("doc_type", "per_doc_type")):
        by: dict[str, list[int]] = defaultdict(list)
        for i, (_n, it) in enumerate(scored):
            by[it.group if attr == "source" else it.doc_type].append(i)
        report[bucket][key] = {k: ranking_metrics([rankings[i] for i in v], [golds[i] for i in v])
                               for k, v in sorted(by.items())}
    kappa = _kappa_with_reviewers(items, results, fw, confs.get(fw, {}) if cv else None, threshold)
    if kappa is not None:
        report["frameworks"][key]["cohen_kappa"] = kappa
    noise = [n for n, it in enumerate(items) if it.expect == "no_evidence"]
    if noise:
        report["frameworks"][key]["no_evidence_confident"] = int(sum(
            sum(1 for d in _rank(results[n][0].drafts, fw)
                if (confs[fw][n] if cv else [d.confidence])[d.rank - 1] >= threshold) for n in noise))


def _bm25_classifier(catalog, emb):
    """The lexical-only baseline: BM25 alone, no examples, no crosswalk, no calibration."""
    from classifiers.calibration import Calibrator
    from classifiers.examples import ExampleBank
    from classifiers.scoring import CrossConfig, ScoringConfig
    from classifiers.suggest import Classifier, ClassifierConfig

    lexical = ScoringConfig(w_dense_max=0, w_dense_top=0, w_bm25=1.0)
    return Classifier(catalog, emb, calibrator=Calibrator({}, {}, {}), examples=ExampleBank.load(Path("-")),
                      config=replace(ClassifierConfig(), scoring=lexical, cross=CrossConfig(0, 0, 0)))


def run(dataset: Path, frameworks: list[str] | None = None, *, progress: bool = False,
        on_progress=None, config=None, items: list[Item] | None = None) -> dict:
    """Score the classifier on a labelled set; every supervised part is fitted without the scored item's group.

    `config` (a ClassifierConfig) scores a variant instead of the shipped configuration (eval.ablation);
    `items` are the set already loaded (chunks and vectors), to score several variants without re-embedding.
    """
    from catalog import load_catalog
    from classifiers.calibration import Calibrator, fit
    from classifiers.examples import ExampleBank, document_vector
    from classifiers.suggest import Classifier, ClassifierConfig
    from core.embedder import get_embedder

    t0 = time.perf_counter()
    keys = frameworks or list(LABEL_KEYS)
    catalog, emb = load_catalog(), get_embedder()
    shipped = Classifier(catalog, emb)
    if items is None:
        items = load(dataset, emb, progress=progress)
    # the supervised part: the shipped bank without any set this one shares documents with, plus this set's items;
    # each item is scored without its own group (a source, or a whole realistic set), never by itself
    from eval.files import bank_without_these

    own = ExampleBank(np.vstack([document_vector(it.vectors) for it in items]) if items else np.zeros((0, 384)),
                      [{LABEL_KEYS[k]: v for k, v in it.labels.items()} for it in items], [it.group for it in items])
    others, _ = bank_without_these(shipped.examples, [it.vectors for it in items])
    bank = others.extended(own)
    clf = Classifier(catalog, emb, calibrator=Calibrator({}, {}, {}), examples=bank,
                     config=config if config is not None else ClassifierConfig())
    results, rows = _classify_items(clf, bank, items, keys, on_progress)
    cv = len(items) >= 10
    confs, cv_how = _cross_validated_confidences(rows, fit) if cv else ({}, {})
    report: dict = {"frameworks": {}, "per_source": {}, "per_doc_type": {}, "reliability": {}, "confusions": {}}
    for key in keys:
        _framework_report(report, key, items=items, results=results, confs=confs, cv=cv, shipped=shipped,
                          catalog=catalog)
    baselines = _baselines(items, keys, catalog, emb, _bm25_classifier(catalog, emb))
    latencies = sorted(s for _, s in results)
    return {
        "run_id": str(uuid.uuid4()),
        "dataset": {"path": str(dataset), "sha256": sha256_file(dataset), "items": len(items)},
        "classifier_version": shipped.version,
        "frameworks": {k: {m: v.get(m) for m in METRIC_KEYS + ("cohen_kappa",) if m in METRIC_KEYS or m in v}
                       for k, v in report["frameworks"].items()},
        "baselines": {name: {k: {m: v.get(m) for m in METRIC_KEYS if m in v} for k, v in fw.items()}
                      for name, fw in baselines.items()},
        "calibration": cv_how if cv else "shipped (fewer than 10 items)",
        "supervised_examples": "the shipped example bank minus the sets that hold these items, plus this set's items "
                               "from other groups (leave one group out)",
        "llm": "off",
        "embedding_model": emb.id,
        "catalog_version": catalog.version,
        "config_hash": shipped.config_hash,
        "details": report,
        "latency_ms": {"p50": round(1000 * latencies[len(latencies) // 2], 2),
                       "p95": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 2)} if latencies else {},
        "seconds": round(time.perf_counter() - t0, 2),
    }


def check_fail_under(result: dict, rules: list[str]) -> list[str]:
    """Rules like `nist_csf_2.hit@5=0.88`; returns the ones that fail."""
    failed = []
    for rule in rules:
        name, _, value = rule.partition("=")
        key, _, metric = name.partition(".")
        got = result["frameworks"].get(key, {}).get(metric)
        if got is None or got < float(value):
            failed.append(f"{name}={got} < {value}")
    return failed


def compare(a: dict, b: dict) -> list[tuple[str, str, float | None, float | None, float | None]]:
    """(framework, metric, A, B, B - A) for every metric both runs have."""
    rows = []
    for key in sorted(set(a["frameworks"]) | set(b["frameworks"])):
        for m in METRIC_KEYS:
            va, vb = a["frameworks"].get(key, {}).get(m), b["frameworks"].get(key, {}).get(m)
            rows.append((key, m, va, vb, round(vb - va, 4) if va is not None and vb is not None else None))
    return rows


def write_json(result: dict, path: Path) -> None:
    path.write_text(json.dumps(result, indent=1, default=float))
