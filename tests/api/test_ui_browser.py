"""The web UI in a real browser: headless Chromium (Debian's `chromium`, by executable_path) driven by Playwright
against `clausewise serve` — the processes a user runs (API, Chroma server, Celery worker)."""

from __future__ import annotations

import os
import shutil
from urllib.parse import urlparse

import pytest
from test_serve import Served

pytestmark = [pytest.mark.slow, pytest.mark.needs_model]

CHROMIUM = os.environ.get("CLAUSEWISE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

POLICY = (b"AI credential policy\n\nService account keys and API tokens used by the model serving platform are "
          b"rotated every 30 days. Unused non-human identities are disabled after 60 days. The platform owner "
          b"reviews machine identities every quarter and records the review.\n")
LOG = "".join(f"2026-02-0{i}T10:0{i}:00Z INFO vault audit: secret read path=secret/data/ml/serving by "
              f"role=model-serving token_ttl=3600 accessor=acc{i}\n" for i in range(1, 8)).encode()
HOSTILE = (b"<html><head><title>Procedure</title><link rel=stylesheet href=https://attacker.example/x.css>"
           b"<style>body{background:url(https://attacker.example/leak)}</style></head><body>"
           b"<h1>Access review procedure</h1><p>Service account keys are rotated every 30 days.</p>"
           b"<script>alert('pwned')</script><img src=https://attacker.example/p.png onerror=\"alert('img')\">"
           b"<a href=\"javascript:alert('link')\">details</a><iframe src=https://attacker.example/></iframe>"
           b"<p>Unused machine identities are disabled after 60 days.</p></body></html>")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    s = Served(tmp_path_factory.mktemp("serve-ui"))
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM, "chromium is not installed: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _page(browser, served, key):
    """A fresh browser context signed in with `key`; records every request and any dialog the page opens."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.requests, page.dialogs = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    page.goto(served.url + "/")
    assert "/ui/login" in page.url
    page.fill("input[name=api_key]", key)
    page.click("button[type=submit]")
    page.wait_for_url(served.url + "/ui/")
    return page


def _key(served, role):
    r = served.http.post("/v1/keys", json={"role": role, "name": f"ui {role}"})
    assert r.status_code == 201, r.text
    return r.json()["key"]


def test_a_reviewer_uploads_reviews_and_decides_in_the_browser(browser, served, tmp_path):
    page = _page(browser, served, _key(served, "admin"))
    (tmp_path / "credential-policy.txt").write_bytes(POLICY)
    (tmp_path / "vault-audit.log").write_bytes(LOG)
    page.set_input_files("#files", [str(tmp_path / "credential-policy.txt"), str(tmp_path / "vault-audit.log")])
    # both reach indexed on screen, without reloading
    for name in ("credential-policy.txt", "vault-audit.log"):
        page.wait_for_selector(f"#uploads li:has-text('{name}: indexed')", timeout=240_000)
    page.click("#uploads li:has-text('credential-policy.txt') a")
    page.wait_for_selector("li.suggestion")
    first = page.locator("li.suggestion").first
    sid = first.get_attribute("data-suggestion-id")
    # the top suggestion is selected and its passage highlighted
    assert "active" in first.get_attribute("class")
    mark = page.locator(f'mark[data-suggestion-id="{sid}"]')
    assert mark.count() == 1 and "active" in mark.get_attribute("class")
    assert "rotated every 30 days" in mark.inner_text()
    # `a` confirms it; the next one is selected
    page.keyboard.press("a")
    page.wait_for_selector(f'li.suggestion.decided-confirm[data-suggestion-id="{sid}"]')
    second = page.locator("li.suggestion").nth(1)
    assert "active" in second.get_attribute("class")
    other = second.get_attribute("data-suggestion-id")
    second.locator("select[name=reason_code]").select_option("partial")
    second.locator("input[name=comment]").fill("covers rotation, not review")
    second.locator("button.reject").click()
    page.wait_for_selector(f'li.suggestion.decided-reject[data-suggestion-id="{other}"]')
    detail = {s: served.http.get(f"/v1/suggestions/{s}").json()["decisions"][-1] for s in (sid, other)}
    assert detail[sid]["decision"] == "confirm"
    assert (detail[other]["decision"], detail[other]["reason_code"]) == ("reject", "partial")
    # decisions survive a reload (server-rendered state)
    page.reload()
    assert page.locator(f'li.suggestion.decided-confirm[data-suggestion-id="{sid}"]').count() == 1
    # add a mapping by selecting a sentence in the text and picking a control
    sentence = "Unused non-human identities are disabled after 60 days."
    page.evaluate("""(sentence) => {
        const walker = document.createTreeWalker(document.querySelector("article.text"), NodeFilter.SHOW_TEXT);
        let node;
        while ((node = walker.nextNode())) {
          const at = node.textContent.indexOf(sentence);
          if (at >= 0) {
            const range = document.createRange();
            range.setStart(node, at); range.setEnd(node, at + sentence.length);
            const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
            return;
          }
        }
        throw new Error("sentence not found");
    }""", sentence)
    page.wait_for_selector("#add-mapping .selected:has-text('Selected:')")
    page.select_option("#add-mapping select[name=framework]", "OWASP-NHI-TOP10-2025")
    page.fill("#add-mapping input[name=control_id]", "NHI1")
    page.click("#add-mapping button[type=submit]")
    page.wait_for_selector("#add-mapping .selected.ok")
    # coverage shows the control confirmed
    page.goto(f"{served.url}/ui/coverage?framework=OWASP-NHI-TOP10-2025")
    assert page.get_attribute('details[data-control-id="NHI1"]', "data-status") == "confirmed"
    # the CSV export downloads and holds the quote; the ledger verifies
    page.goto(f"{served.url}/ui/audit")
    assert "Verified: 3 decisions" in page.inner_text("#ledger-status")
    with page.expect_download() as dl:
        page.click("a[href='/ui/exports/mappings.csv']")
    csv_text = open(dl.value.path(), encoding="utf-8").read()
    assert sentence in csv_text and "NHI1" in csv_text
    assert page.dialogs == [] and {urlparse(u).netloc for u in page.requests} == {urlparse(served.url).netloc}
    assert served.http.get("/v1/ledger/verify").json()["ok"] is True


def test_an_uploader_sees_no_decision_controls(browser, served):
    """And an auditor: the audit page and exports, no decisions."""
    doc = served.upload("uploader-view.txt", POLICY.replace(b"30 days", b"45 days"))
    served.wait_document(doc["document_id"], timeout=240)
    page = _page(browser, served, _key(served, "uploader"))
    assert page.locator("#upload").count() == 1   # they may upload
    page.goto(f"{served.url}/ui/documents/{doc['document_id']}")
    page.wait_for_selector("li.suggestion")
    assert page.locator("form.decide").count() == 0
    # the keyboard does nothing for them either: no request is made
    before = len(page.requests)
    page.keyboard.press("a")
    page.wait_for_timeout(500)
    assert len(page.requests) == before
    assert page.goto(f"{served.url}/ui/audit").status == 403
    auditor = _page(browser, served, _key(served, "auditor"))
    auditor.goto(f"{served.url}/ui/documents/{doc['document_id']}")
    assert auditor.locator("form.decide").count() == 0
    assert auditor.goto(f"{served.url}/ui/audit").status == 200
    with auditor.expect_download() as dl:
        auditor.click("a[href='/ui/exports/mappings.json']")
    assert dl.value.suggested_filename == "clausewise-mappings.json"


def test_a_hostile_document_runs_nothing_and_loads_nothing(browser, served):
    doc = served.upload("hostile.html", HOSTILE)
    assert served.wait_document(doc["document_id"], timeout=240)["status"] == "indexed"
    page = _page(browser, served, _key(served, "reviewer"))
    response = page.goto(f"{served.url}/ui/documents/{doc['document_id']}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector("li.suggestion")
    page.wait_for_timeout(500)
    assert "rotated every 30 days" in page.inner_text("article.text")
    assert page.dialogs == []
    hosts = {urlparse(u).netloc for u in page.requests}
    assert hosts == {urlparse(served.url).netloc}, hosts


def test_queue_keys_bulk_confirm_admin_keys_and_evaluations_work_through_htmx(browser, served):
    """htmx under our CSP in a real browser: the queue's keyboard flow (j opens, a decides, the next opens), bulk
    confirm with its warning, a key created and shown once, an evaluation run followed live to its plots."""
    doc = served.upload("queue.log", LOG.replace(b"acc", b"queue-acc"))
    served.wait_document(doc["document_id"], timeout=240)
    page = _page(browser, served, _key(served, "reviewer"))
    console = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(served.url + "/ui/queue")
    rows = page.locator("#queue-table tbody tr[data-suggestion-id]")
    first, second = rows.nth(0).get_attribute("data-suggestion-id"), rows.nth(1).get_attribute("data-suggestion-id")
    page.keyboard.press("j")
    page.wait_for_selector(f"#item .item-open[data-suggestion-id='{first}']")
    assert page.locator(f"#item mark[data-suggestion-id='{first}']").count() == 1
    page.keyboard.press("a")
    page.wait_for_selector(f"#item .item-open[data-suggestion-id='{second}']")
    assert page.locator(f"#queue-table tr[data-suggestion-id='{first}']").count() == 0
    assert served.http.get(f"/v1/suggestions/{first}").json()["current_decision"] == "confirm"
    # bulk: tick the first three selectable rows; a low-confidence one is named before anything is applied
    boxes = page.locator("#queue-table input[name=ids]")
    chosen = [boxes.nth(i).get_attribute("value") for i in range(min(3, boxes.count()))]
    for i in range(len(chosen)):
        boxes.nth(i).check()
    page.click("#bulk .bulkbar button.confirm")
    page.wait_for_selector("#bulk-result .warning, #bulk-result p.ok")
    if page.locator("#bulk-result .warning").count():
        assert all(served.http.get(f"/v1/suggestions/{s}").json()["current_decision"] is None for s in chosen)
        page.click("#bulk-result .warning button.confirm")
        page.wait_for_selector("#bulk-result p.ok")
    assert f"Confirmed {len(chosen)}." in page.inner_text("#bulk-result")
    assert all(served.http.get(f"/v1/suggestions/{s}").json()["current_decision"] == "confirm" for s in chosen)

    admin = _page(browser, served, _key(served, "admin"))
    admin.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    admin.goto(served.url + "/ui/admin")
    admin.fill("#new-key input[name=name]", "pipeline")
    admin.select_option("#new-key select[name=role]", "uploader")
    admin.click("#new-key button[type=submit]")
    key = admin.wait_for_selector("#new-key-value").inner_text()
    assert admin.locator("#keys-table td", has_text="pipeline").count() == 1   # the table was swapped in
    assert admin.content().count(key) == 1
    admin.reload()
    assert key not in admin.content(), "a key is shown once"
    admin.goto(served.url + "/ui/evaluations")
    admin.select_option("#start-eval select[name=dataset]", "no-evidence")
    admin.click("#start-eval button[type=submit]")
    admin.wait_for_selector("table.evals tbody tr[data-state='done']", timeout=240_000)   # polled by htmx
    admin.click("table.evals tbody tr[data-state='done'] a")
    admin.wait_for_selector("table.metrics")
    assert "no-evidence" in admin.inner_text("ul.meta-list")   # plots: tests/api/test_ui.py (a labelled set)
    assert not [m for m in console if "Content Security Policy" in m or "Refused" in m], console
