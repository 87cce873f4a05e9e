"""Benchmark: the dev set with the LLM step off and on in the same run — hit@1, precision@3, seconds per document.

Usage: .venv/bin/python -m bench.llm --dataset eval/datasets/evidence-dev.jsonl [--limit N] [--json out.json]
       [--base-url http://127.0.0.1:8080/v1 --model NAME]   (default: start the packaged local model on loopback)

Same protocol as `clausewise eval run`: the example bank never holds the scored item's source group and
confidences come from calibrators fitted on the other folds. Then the LLM judges each item's top candidates
(the frameworks the item is labelled for: `--candidates` for ISO, fewer for CSF and NHI) with a fresh verdict cache,
and the verdicts re-rank the candidates with the shipped adjustment (`classifiers.llm.DEFAULT_ADJUSTMENT`) and,
separately, with logit shifts chosen on the other folds only (a small grid, so the figure is not fitted to the
items it scores). Also prints how often each verdict lands on a gold label: whether the model is informative.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from itertools import product
from pathlib import Path

import numpy as np

from bench import harness

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

GRID_SUPPORTED = (0.0, 0.5, 1.0, 2.0)
GRID_NOT_SUPPORTED = (0.0, -0.5, -1.0, -2.0, -4.0)


def _metrics(rankings, golds) -> dict:
    from eval.metrics import ranking_metrics

    m = ranking_metrics(rankings, golds)
    return {k: m.get(k) for k in ("n", "hit@1", "hit@3", "precision@3", "mrr")}


def _ranked_ids(drafts, fw: str) -> list[str]:
    return [d.control_id for d in sorted((d for d in drafts if d.framework == fw), key=lambda d: d.rank)]


def main(argv: list[str] | None = None) -> dict:
    ap = harness.parser(__doc__)
    ap.add_argument("--dataset", type=Path, default=Path(__file__).resolve().parents[1] / "eval" / "datasets" /
                    "evidence-dev.jsonl", help="a labelled JSON Lines set (default: the shipped dev set, from any "
                                           "working directory)")
    ap.add_argument("--limit", type=int, default=None, help="score the first N items only")
    ap.add_argument("--candidates", type=int, default=5, help="ISO candidates judged (CSF and NHI get fewer)")
    ap.add_argument("--base-url", help="an OpenAI-compatible endpoint instead of the packaged local model")
    ap.add_argument("--model", help="model name at --base-url")
    ap.add_argument("--model-cache", type=Path, default=Path.home() / ".cache" / "clausewise" / "models")
    ap.add_argument("--cache", type=Path, help="verdict cache file (default: a fresh one, so calls are real)")
    args = ap.parse_args(argv)

    from bench.harness import machine
    from catalog import load_catalog
    from classifiers.calibration import Calibrator, fit
    from classifiers.calibration import load as load_calibration
    from classifiers.examples import ExampleBank, document_vector
    from classifiers.llm import (
        DEFAULT_ADJUSTMENT,
        LOCAL_MODEL_ALIAS,
        PROMPT_VERSION,
        VERDICTS,
        Adjustment,
        LocalServer,
        VerdictCache,
        Verifier,
        apply_verdicts,
        assemble_local_model,
        local_model_id,
        openai_backend,
        per_framework_candidates,
    )
    from classifiers.suggest import Classifier
    from core.embedder import get_embedder
    from eval.dataset import LABEL_KEYS, load
    from eval.run import _cross_validated_confidences, _folds

    catalog, emb = load_catalog(), get_embedder()
    items = load(args.dataset, emb, progress=False)
    if args.limit:
        items = items[: args.limit]
    bank = ExampleBank(np.vstack([document_vector(it.vectors) for it in items]),
                       [{LABEL_KEYS[k]: v for k, v in it.labels.items()} for it in items], [it.group for it in items])
    clf = Classifier(catalog, emb, calibrator=Calibrator({}, {}, {}), examples=bank)
    shipped = load_calibration()
    thresholds = {fw: shipped.threshold(fw) for fw in LABEL_KEYS.values()}
    results, rows = [], defaultdict(list)
    for n, it in enumerate(items):
        t = time.perf_counter()
        res = clf.classify(it.texts, it.vectors, it.kind, examples=bank.without_group(it.group))
        results.append((res.drafts, time.perf_counter() - t))
        for key in LABEL_KEYS:
            if it.labelled(key):
                fw, gold = LABEL_KEYS[key], set(it.labels.get(key) or [])
                ranked = sorted((d for d in res.drafts if d.framework == fw), key=lambda d: d.rank)
                rows[fw].append({"item": n, "group": it.group, "scores": np.array([d.raw_score for d in ranked]),
                                 "correct": np.array([int(d.control_id in gold) for d in ranked])})
    confs, _ = _cross_validated_confidences(rows, fit)
    for n, (drafts, _) in enumerate(results):   # held-out confidences and states, as the service would store
        for fw, by_item in confs.items():
            if n in by_item:
                ranked = sorted((d for d in drafts if d.framework == fw), key=lambda d: d.rank)
                for d, c in zip(ranked, by_item[n]):
                    d.confidence = round(float(c), 4)
                    d.state = "suggested" if c >= thresholds[fw] else "needs_review"

    server = None
    if args.base_url:
        backend = openai_backend(base_url=args.base_url, model=args.model or LOCAL_MODEL_ALIAS, api_key="",
                                 timeout_s=300)
    else:
        path = assemble_local_model(args.model_cache)
        t = time.perf_counter()
        server = LocalServer(path).start()
        print(f"llama_cpp.server up in {time.perf_counter() - t:.1f} s", flush=True)
        backend = openai_backend(base_url=server.base_url, model=LOCAL_MODEL_ALIAS, api_key="", timeout_s=300,
                                 llama_cpp_server=True, model_id=local_model_id(path))
    tmp = tempfile.TemporaryDirectory(prefix="cw-bench-llm-")
    cache = VerdictCache(args.cache or Path(tmp.name) / "verdicts.sqlite3")
    per_fw = per_framework_candidates(args.candidates)
    verifier = Verifier(backend, catalog, cache=cache, max_calls=4, max_tokens=6000)
    verifications, llm_seconds = [], []
    t_all = time.perf_counter()
    try:
        for n, it in enumerate(items):
            verifier.per_framework = {LABEL_KEYS[k]: per_fw[LABEL_KEYS[k]] for k in LABEL_KEYS if it.labels.get(k)}
            t = time.perf_counter()
            v = verifier.verify(results[n][0], it.texts) if verifier.per_framework else None
            llm_seconds.append(time.perf_counter() - t)
            verifications.append(v)
            if v is not None:
                s = v.stats
                print(f"[{n + 1}/{len(items)}] {it.id}: {s['candidates']} candidates, {s['calls']} calls, "
                      f"{s['tokens']} tokens, {llm_seconds[-1]:.1f} s, unverified {s['unverified']}", flush=True)
    finally:
        if server:
            server.stop()
    wall = time.perf_counter() - t_all

    def rankings_for(adjust_of: dict[int, Adjustment] | None, fw: str, idx: list[int]):
        out = []
        for n in idx:
            drafts = results[n][0]
            if adjust_of is not None and verifications[n] is not None:
                drafts = apply_verdicts(drafts, verifications[n], thresholds, adjust_of[n])
            out.append(_ranked_ids(drafts, fw))
        return out

    report = {"frameworks": {}, "verdicts": {}, "tuned": {}}
    grid = [Adjustment(supported=s, not_supported=ns) for s, ns in product(GRID_SUPPORTED, GRID_NOT_SUPPORTED)]
    for key, fw in LABEL_KEYS.items():
        idx = [n for n, it in enumerate(items) if it.labels.get(key)]
        if not idx:
            continue
        golds = [set(items[n].labels[key]) for n in idx]
        off = _metrics(rankings_for(None, fw, idx), golds)
        on = _metrics(rankings_for(defaultdict(lambda: DEFAULT_ADJUSTMENT), fw, idx), golds)
        # shifts chosen on the other folds (by source group where there are enough groups), scored on the held-out one
        fold_rows = [{"group": items[n].group} for n in idx]
        folds, how = _folds(fold_rows)
        chosen, picks = {}, []
        for fold in folds:
            train = [i for i in range(len(idx)) if i not in set(fold)]

            def score(a: Adjustment, fw=fw, idx=idx, train=train, golds=golds) -> float:
                m = _metrics(rankings_for(defaultdict(lambda: a), fw, [idx[i] for i in train]),
                             [golds[i] for i in train])
                return (m["hit@1"] or 0) + (m["precision@3"] or 0) + 0.001 * (a == DEFAULT_ADJUSTMENT)

            best = max(grid, key=score)
            picks.append((best.supported, best.not_supported))
            for i in fold:
                chosen[idx[i]] = best
        tuned = _metrics(rankings_for(chosen, fw, idx), golds)
        report["tuned"][key] = {"folds": how, "picks": Counter(map(str, picks)).most_common(3)}
        s_off = [results[n][1] for n in idx]
        s_on = [results[n][1] + llm_seconds[n] for n in idx]
        report["frameworks"][key] = {
            "off": {**off, "s_per_doc": round(float(np.mean(s_off)), 3)},
            "on": {**on, "s_per_doc": round(float(np.mean(s_on)), 2)},
            "on_cv_tuned": {**tuned, "s_per_doc": round(float(np.mean(s_on)), 2)},
        }
        tally = {v: [0, 0] for v in (*VERDICTS, "unverified")}
        for n, gold in zip(idx, golds):
            ver = verifications[n]
            for (f, cid), x in (ver.verdicts.items() if ver else []):
                if f == fw:
                    tally[x.verdict][0] += 1
                    tally[x.verdict][1] += int(cid in gold)
        report["verdicts"][key] = {v: {"count": c, "gold": g, "gold_share": round(g / c, 3) if c else None}
                                   for v, (c, g) in tally.items()}
    judged = [v for v in verifications if v is not None]
    totals = {k: int(sum(v.stats[k] for v in judged)) for k in
              ("candidates", "calls", "tokens", "unverified", "dropped_ids", "cache_hits", "quotes_grounded",
               "addressed_removed", "hidden_removed")}
    result = {"benchmark": "llm", "machine": machine(), "dataset": str(args.dataset), "items": len(items),
              "model": verifier.model_id, "prompt_version": PROMPT_VERSION, "adjustment": DEFAULT_ADJUSTMENT.__dict__,
              "candidates_per_framework": per_fw, "llm_wall_seconds": round(wall, 1), "totals": totals, **report}

    print(f"\nmachine: {result['machine']}\nmodel: {result['model']}  prompt {PROMPT_VERSION}  items {len(items)}  "
          f"LLM wall {wall:.0f} s  totals {totals}")
    print("| framework | n | LLM | hit@1 | precision@3 | MRR | s/doc |\n|---|---|---|---|---|---|---|")
    for key, m in report["frameworks"].items():
        for mode, label in (("off", "off"), ("on", "on (shipped shifts)"),
                            ("on_cv_tuned", "on (shifts tuned on other folds)")):
            x = m[mode]
            print(f"| {key} | {x['n']} | {label} | {x['hit@1']} | {x['precision@3']} | {x['mrr']} | {x['s_per_doc']} |")
    print("\nverdicts on judged candidates (share that is a gold label):")
    for key, t in report["verdicts"].items():
        print(f"  {key}: " + ", ".join(f"{v} {x['count']} ({x['gold_share']})" for v, x in t.items()))
    print("shifts picked per fold (supported, not_supported):", json.dumps(report["tuned"]))
    harness.finish(result, args.json)
    tmp.cleanup()
    return result


if __name__ == "__main__":
    main()
    sys.exit(0)
