"""Generate realistic-looking evidence documents for benchmarks (deterministic for a seed)."""

from __future__ import annotations

import io
import json
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


def make_html(title: str, pages: list[str]) -> str:
    body = "".join(f"<h2>Section {n + 1}</h2>" + "".join(f"<p>{para}</p>" for para in text.split("\n\n"))
                   for n, text in enumerate(pages))
    return f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>"


def make_jira(rng: random.Random, topic, n_issues: int = 5) -> str:
    issues = []
    for k in range(n_issues):
        created = f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)}T09:{rng.randint(10, 59)}:00.000+0000"
        issues.append({"key": f"SEC-{rng.randint(100, 999)}", "fields": {
            "summary": f"{topic[0]}: {rng.choice(topic[1])} follow-up {k}",
            "description": paragraph(rng, topic), "status": {"name": rng.choice(["Done", "In Progress"])},
            "issuetype": {"name": "Task"}, "priority": {"name": "High"}, "created": created, "updated": created,
            "comment": {"comments": [{"author": {"displayName": rng.choice(ROLES)}, "created": created,
                                      "body": paragraph(rng, topic)} for _ in range(2)]}}})
    return json.dumps({"startAt": 0, "maxResults": 50, "total": n_issues, "issues": issues}, indent=1)


def make_k8s_audit(rng: random.Random, n: int = 300) -> str:
    lines = []
    for i in range(n):
        ts = f"2026-02-10T06:{i // 60 % 60:02d}:{i % 60:02d}.{rng.randint(100000, 999999)}Z"
        lines.append(json.dumps({
            "kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata",
            "auditID": f"{rng.getrandbits(64):x}",
            "stage": "ResponseComplete", "verb": rng.choice(["get", "list", "watch", "create", "patch"]),
            "user": {"username": rng.choice(["system:serviceaccount:scribe:api", "alice@example.com",
                                             "system:serviceaccount:kube-system:deployer"])},
            "objectRef": {"resource": rng.choice(["secrets", "pods", "configmaps", "deployments"]),
                          "namespace": "scribe-prod", "name": f"obj-{rng.randint(1, 40)}"},
            "responseStatus": {"code": rng.choice([200, 200, 200, 403])},
            "requestReceivedTimestamp": ts, "stageTimestamp": ts}))
    return "\n".join(lines) + "\n"


def make_auth_log(rng: random.Random, n: int = 400) -> str:
    users = ["svc-train-sync", "root", "alice", "deploy-bot"]
    lines = []
    for i in range(n):
        msg = rng.choice([
            f"sshd[{rng.randint(1000, 9999)}]: Accepted publickey for {rng.choice(users)} "
            f"from 10.0.{rng.randint(0, 9)}.{rng.randint(1, 254)} port {rng.randint(30000, 60000)} ssh2",
            f"sudo: {rng.choice(users)} : TTY=pts/0 ; PWD=/home ; USER=root ; "
            f"COMMAND=/usr/bin/systemctl restart trainer",
            f"CRON[{rng.randint(1000, 9999)}]: pam_unix(cron:session): session opened for user "
            f"{rng.choice(users)}",
            f"sshd[{rng.randint(1000, 9999)}]: Failed password for invalid user admin "
            f"from 203.0.113.{rng.randint(1, 254)}"])
        lines.append(f"Dec  {1 + i // 200} {i // 60 % 24:02d}:{i % 60:02d}:{rng.randint(10, 59)} gpu-04 {msg}")
    return "\n".join(lines) + "\n"


def make_xlsx(rng: random.Random, topic, n_rows: int = 40) -> bytes:
    """A register as a workbook: a title row, a header, one row per item under review."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Register"
    ws.append([f"{topic[0]} register"])
    ws.append(["Item", "Owner", "Status", "Evidence", "Reviewed"])
    for k in range(n_rows):
        ws.append([f"{rng.choice(topic[1])} {k}", rng.choice(ROLES), rng.choice(["open", "closed", "accepted"]),
                   paragraph(rng, topic)[:400], f"2026-0{rng.randint(1, 9)}-{rng.randint(10, 28)}"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


KINDS = ("pdf", "docx", "md", "html", "jira.json", "k8s.jsonl", "auth.log", "txt")
EXTRA_KINDS = ("xlsx",)  # available with --kinds; not in the default mix, so earlier figures stay comparable


def generate(folder: Path, n_docs: int = 24, pages_per_doc: int = 3, seed: int = 7,
             kinds: tuple[str, ...] = KINDS) -> list[tuple[Path, int]]:
    """Write n_docs evidence files cycling through `kinds` (policies, tickets, logs); returns (path, pages).

    Prose documents have `pages_per_doc` pages; for tickets and logs a page is 3,000 characters of text.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n_docs):
        topic = TOPICS[i % len(TOPICS)]
        kind = kinds[i % len(kinds)]
        pages = [page_text(rng, topic) for _ in range(pages_per_doc)]
        title = f"{topic[0]} standard {i:03d}"
        path = folder / f"doc{i:03d}.{kind}"
        if kind == "pdf":
            path.write_bytes(make_pdf(pages))
        elif kind == "docx":
            path.write_bytes(make_docx(title, pages))
        elif kind == "md":
            path.write_text(f"# {title}\n\n" + "\n\n".join(f"## Section {n + 1}\n\n{p}" for n, p in enumerate(pages)))
        elif kind == "html":
            path.write_text(make_html(title, pages))
        elif kind == "jira.json":
            path.write_text(make_jira(rng, topic))
        elif kind == "k8s.jsonl":
            path.write_text(make_k8s_audit(rng))
        elif kind == "auth.log":
            path.write_text(make_auth_log(rng))
        elif kind == "xlsx":
            path.write_bytes(make_xlsx(rng, topic))
        else:
            path.write_text(f"{title}\n\n" + "\n\n".join(pages))
        # binary kinds: packed bytes, roughly (reading a PDF or DOCX as text fails on its non-UTF-8 bytes)
        size = path.stat().st_size if kind in ("xlsx", "pdf", "docx") else len(path.read_text())
        n_pages = pages_per_doc if kind in ("pdf", "docx", "md", "html", "txt") else max(1, round(size / 3000))
        out.append((path, n_pages))
    return out
