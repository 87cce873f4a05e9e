"""Generate realistic-looking evidence documents for benchmarks (deterministic for a seed)."""

from __future__ import annotations

import io
import random
from pathlib import Path

TOPICS = [
    ("Access control", ["service accounts", "API keys", "least privilege", "quarterly access review",
                        "multi-factor authentication", "break-glass accounts", "role-based access"]),
    ("Model release", ["validation report", "holdout evaluation", "bias testing", "canary deployment",
                       "rollback plan", "model card", "approval by the model risk owner"]),
    ("Incident response", ["severity classification", "on-call rotation", "post-incident review",
                           "customer notification", "root cause analysis", "containment steps"]),
    ("Data governance", ["dataset lineage", "retention schedule", "data provenance", "consent records",
                         "data quality checks", "de-identification", "training data approval"]),
    ("Supplier management", ["third-party risk assessment", "data processing agreement", "SOC 2 report",
                             "contract review", "sub-processor list", "exit plan"]),
    ("Monitoring", ["drift alert", "latency objective", "audit logging", "SIEM forwarding", "dashboard review",
                    "threshold breach", "weekly monitoring report"]),
]
VERBS = ["must document", "reviews", "approves", "records", "monitors", "verifies", "escalates", "retains"]
ROLES = ["The platform team", "The AI governance board", "Each system owner", "The security operations centre",
         "The data protection officer", "Model developers", "The change advisory board"]


def paragraph(rng: random.Random, topic: tuple[str, list[str]]) -> str:
    name, terms = topic
    sents = []
    for _ in range(rng.randint(3, 6)):
        a, b = rng.sample(terms, 2)
        sents.append(f"{rng.choice(ROLES)} {rng.choice(VERBS)} the {a} for every system in scope, and keeps "
                     f"evidence of the {b} for at least {rng.choice([12, 24, 36])} months.")
    return " ".join(sents)


def page_text(rng: random.Random, topic, n_paras: int = 5) -> str:
    return "\n\n".join(paragraph(rng, topic) for _ in range(n_paras))


def make_pdf(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 5, text)
    return bytes(pdf.output())


def make_docx(title: str, pages: list[str]) -> bytes:
    from docx import Document

    d = Document()
    d.add_heading(title, level=1)
    for text in pages:
        for para in text.split("\n\n"):
            d.add_paragraph(para)
        d.add_page_break()
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def generate(folder: Path, n_docs: int = 24, pages_per_doc: int = 3, seed: int = 7) -> list[tuple[Path, int]]:
    """Write n_docs files (PDF, DOCX, Markdown, text in turn); returns (path, pages) pairs."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n_docs):
        topic = TOPICS[i % len(TOPICS)]
        pages = [page_text(rng, topic) for _ in range(pages_per_doc)]
        title = f"{topic[0]} standard {i:03d}"
        kind = ("pdf", "docx", "md", "txt")[i % 4]
        path = folder / f"doc{i:03d}.{kind}"
        if kind == "pdf":
            path.write_bytes(make_pdf(pages))
        elif kind == "docx":
            path.write_bytes(make_docx(title, pages))
        elif kind == "md":
            path.write_text(f"# {title}\n\n" + "\n\n".join(f"## Section {n + 1}\n\n{p}" for n, p in enumerate(pages)))
        else:
            path.write_text(f"{title}\n\n" + "\n\n".join(pages))
        out.append((path, pages_per_doc))
    return out
