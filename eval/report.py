"""Markdown and HTML reports of an evaluation run, with PNG plots (reliability, per-label F1, confusions)."""

from __future__ import annotations

import html
from pathlib import Path


def plot_names(result: dict) -> dict[str, list[str]]:
    """Per framework, the PNG plots this result has: reliability, per-label F1, most frequent confusions."""
    made: dict[str, list[str]] = {}
    for key, bins in result["details"]["reliability"].items():
        if not bins:
            continue
        names = [f"reliability_{key}.png"]
        if result["details"]["frameworks"][key].get("per_label"):
            names.append(f"per_label_f1_{key}.png")
        if result["details"]["confusions"].get(key):
            names.append(f"confusions_{key}.png")
        made[key] = names
    return made


def _figure(result: dict, name: str):
    """The matplotlib figure of one named plot (KeyError for a name this result has not)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot, key = next((p, k) for k, ns in plot_names(result).items() for n in ns if n == name
                     for p in ("reliability", "per_label_f1", "confusions") if n == f"{p}_{k}.png")
    if plot == "reliability":
        bins = result["details"]["reliability"][key]
        fig, ax = plt.subplots(figsize=(4.2, 4))
        pts = [(b["confidence"], b["accuracy"], b["count"]) for b in bins if b["count"]]
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=1)
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=[10 + 3 * p[2] ** 0.7 for p in pts])
            ax.plot([p[0] for p in pts], [p[1] for p in pts])
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy",
               title=f"{key}: reliability (ECE {result['frameworks'][key].get('ece')})")
    elif plot == "per_label_f1":
        per = result["details"]["frameworks"][key]["per_label"]
        labels = sorted(per, key=lambda c: (-per[c]["support"], c))[:25]
        fig, ax = plt.subplots(figsize=(7, 0.25 * len(labels) + 1.2))
        ax.barh(labels[::-1], [per[c]["f1"] for c in labels[::-1]])
        ax.set(xlim=(0, 1), xlabel="F1 at the calibrated threshold", title=f"{key}: per-label F1 (top by support)")
    else:
        conf = result["details"]["confusions"][key]
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(conf) + 1.2))
        names = [f"{c['predicted']} (gold {c['gold']})" for c in conf][::-1]
        ax.barh(names, [c["count"] for c in conf][::-1], color="tab:red")
        ax.set(xlabel="items", title=f"{key}: most frequent wrong top-1")
    fig.tight_layout()
    return fig


def plot_png(result: dict, name: str) -> bytes:
    """One named plot as PNG bytes (for the web UI's report page)."""
    import io

    import matplotlib.pyplot as plt

    fig = _figure(result, name)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _plots(result: dict, out: Path) -> dict[str, list[str]]:
    made = plot_names(result)
    for names in made.values():
        for name in names:
            (out / name).write_bytes(plot_png(result, name))
    return made


def table_rows(result: dict) -> list[list]:
    rows = []
    for key, m in result["frameworks"].items():
        rows.append(["classifier", key] + [m.get(k) for k in ("n", "hit@1", "hit@3", "hit@5", "precision@3", "mrr",
                                                               "ece", "micro_f1", "macro_f1")])
        for name, fw in result["baselines"].items():
            b = fw.get(key, {})
            rows.append([name, key] + [b.get(k) for k in ("n", "hit@1", "hit@3", "hit@5", "precision@3", "mrr")]
                        + [None, None, None])
    return rows


HEAD = ["system", "framework", "n", "hit@1", "hit@3", "hit@5", "precision@3", "mrr", "ece", "micro_f1", "macro_f1"]


def write_report(result: dict, out: Path) -> Path:
    """Write report.md, report.html and the PNG plots into out/; returns the HTML path."""
    out.mkdir(parents=True, exist_ok=True)
    plots = _plots(result, out)
    meta = [("run", result["run_id"]), ("dataset", f"{result['dataset']['path']} ({result['dataset']['items']} items, "
                                                  f"sha256 {result['dataset']['sha256'][:16]}…)"),
            ("classifier", result["classifier_version"]), ("embedding model", result["embedding_model"]),
            ("catalog version", result["catalog_version"]), ("configuration hash", result["config_hash"]),
            ("LLM", result["llm"]), ("calibration", str(result["calibration"])),
            ("latency per document (ms)", str(result.get("latency_ms")))]
    fmt = lambda v: "" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))  # noqa: E731
    md = ["# Evaluation report", ""] + [f"- **{k}**: {v}" for k, v in meta] + ["", "| " + " | ".join(HEAD) + " |",
                                                                             "|" + "---|" * len(HEAD)]
    md += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table_rows(result)]
    for key, files in plots.items():
        md += ["", f"## {key}", ""] + [f"![{f}]({f})" for f in files]
    (out / "report.md").write_text("\n".join(md) + "\n")
    cells = "".join(f"<th>{h}</th>" for h in HEAD)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt(v))}</td>" for v in row) + "</tr>"
                   for row in table_rows(result))
    figs = "".join(f"<h2>{html.escape(k)}</h2>" + "".join(f'<img src="{f}" alt="{f}">' for f in fs)
                   for k, fs in plots.items())
    metas = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in meta)
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Clausewise evaluation</title>"
            f"<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;border-bottom:1px solid #ddd}}"
            f"img{{max-width:48%;margin:4px}}</style></head><body><h1>Evaluation report</h1><ul>{metas}</ul>"
            f"<table><tr>{cells}</tr>{body}</table>{figs}</body></html>")
    path = out / "report.html"
    path.write_text(page)
    return path
