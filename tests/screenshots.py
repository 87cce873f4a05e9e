"""`make screenshots`: PNGs of every web UI page at 1280x800 from a seeded demo workspace.

Starts `clausewise serve` on a fresh data directory, uploads a few realistic evidence files of the shipped
development set (eval/datasets/files), confirms and rejects a few suggestions through the API, then drives the
system's Chromium (Playwright, executable_path) over the pages and writes docs/screenshots/*.png.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "api")]

DEMO_FILES = ["KHA-AIMS-DOC-001_AIMS_scope_statement_v1.2.txt",
              "jira_SECOPS-842_rotate_transcription_sp_secret.json",
              "MR-2025-02_AIMS_Management_Review_Minutes_2025-12-09.docx",
              "vault_audit_kha-vault-prod_2026-01-19.jsonl"]


def main(out: Path = ROOT / "docs" / "screenshots") -> int:
    from playwright.sync_api import sync_playwright
    from test_serve import Served

    out.mkdir(parents=True, exist_ok=True)
    src = ROOT / "eval" / "datasets" / "files"
    with tempfile.TemporaryDirectory() as tmp:
        served = Served(Path(tmp))
        try:
            docs = [served.upload(name, (src / name).read_bytes())["document_id"] for name in DEMO_FILES]
            for d in docs:
                served.wait_document(d, timeout=300)
            items = served.http.get(f"/v1/documents/{docs[1]}/suggestions").json()["items"]
            served.http.post(f"/v1/suggestions/{items[0]['suggestion_id']}/decisions", json={"decision": "confirm"})
            served.http.post(f"/v1/suggestions/{items[1]['suggestion_id']}/decisions",
                             json={"decision": "reject", "reason_code": "partial", "comment": "rotation only"})
            # governance: an owner, an exclusion, an expired control with a corrective action (the coverage grid)
            served.http.put("/v1/controls/ISO-IEC-42001-2023/A.3.2/owner", json={"owner": "AI Governance Lead"})
            served.http.put("/v1/applicability/A.10.4", json={"applicable": False,
                                                              "justification": "No AI system is offered to customers."})
            served.http.put(f"/v1/controls/{items[0]['framework']}/{items[0]['control_id']}/review-interval",
                            json={"days": 30, "reason": "demo: reviewed monthly"})
            served.http.post("/v1/actions", json={
                "statement": "Evidence older than the control's monthly review", "source": {"type": "expired"},
                "controls": [{"framework": items[0]["framework"], "control_id": items[0]["control_id"]}],
                "owner": "AI Governance Lead", "due_date": "2026-01-31"})
            run = served.http.post("/v1/eval-runs", json={"dataset": "evidence-dev"}).json()["eval_run_id"]
            deadline = time.monotonic() + 900
            while served.http.get(f"/v1/eval-runs/{run}").json()["state"] not in ("done", "failed"):
                if time.monotonic() > deadline:
                    raise TimeoutError("the evaluation run did not finish in 15 minutes")
                time.sleep(2)
            chromium = shutil.which("chromium") or shutil.which("chromium-browser")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
                page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
                page.goto(served.url + "/ui/login")
                page.screenshot(path=str(out / "login.png"))
                page.fill("input[name=api_key]", served.key)
                page.click("button[type=submit]")
                page.wait_for_url(served.url + "/ui/")
                shots = [("documents", "/ui/"), ("review", f"/ui/documents/{docs[1]}"),
                         ("review-minutes", f"/ui/documents/{docs[2]}"), ("queue", "/ui/queue"),
                         ("coverage", "/ui/coverage?framework=ISO-IEC-42001-2023"), ("audit", "/ui/audit"),
                         ("admin", "/ui/admin"), ("evaluations", "/ui/evaluations"), ("nhi", "/ui/nhi"),
                         ("evaluation-report", f"/ui/evaluations/{run}")]
                for name, path in shots:
                    page.goto(served.url + path)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(out / f"{name}.png"))
                    print(f"wrote {out / name}.png")
                page.goto(served.url + "/ui/queue")   # an item open beside the list (the j key)
                page.keyboard.press("j")
                page.wait_for_selector("#item .item-open")
                page.screenshot(path=str(out / "queue-item.png"))
                print(f"wrote {out / 'queue-item'}.png")
                browser.close()
        finally:
            served.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
