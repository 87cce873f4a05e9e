"""The web UI over HTTP (in-process app): sessions, CSRF, roles, CSP and hostile documents rendered as text."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from conftest import bearer, make_key, wait_for_document

pytestmark = [pytest.mark.needs_model]

HOSTILE_HTML = b"""<html><head><title>Evidence</title>
<style>body { background: url(https://attacker.example/css-leak?x=1) }</style></head><body>
<h1>Access review procedure</h1>
<p>Service account keys are rotated every 30 days and reviewed quarterly by the platform owner.</p>
<script>alert('pwned-script')</script>
<img src=x onerror="alert('pwned-img')">
<a href="javascript:alert('pwned-link')">click</a>
<p>Unused non-human identities are disabled after 60 days without use.</p>
</body></html>"""


HOSTILE_LOG = "".join(
    f"2026-01-0{i}T10:00:00Z WARN waf blocked request path=/login payload={p} service account key rotated\n"
    for i, p in enumerate(["<script>alert('pwned-script')</script>", "<img src=x onerror=\"alert('pwned-img')\">",
                           "<a href=\"javascript:alert('pwned-link')\">x</a>",
                           "<style>body{background:url(https://attacker.example/leak)}</style>"], start=1)).encode()


def _ui(settings):
    """A browser-like client: HTTPS base URL (the session cookie is Secure outside development), no API key."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    return TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False)


def _sign_in(c, key):
    form = c.get("/ui/login")
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    r = c.post("/ui/login", data={"api_key": key, "next": "/ui/", "login_csrf": token})
    assert r.status_code == 303 and r.headers["location"] == "/ui/", r.text
    return r


def _csrf(page_html: str) -> str:
    return re.search(r'data-csrf="([^"]+)"', page_html).group(1)


@pytest.fixture
def ui(eager_settings):
    from ingest.partition import warm_up

    warm_up()
    with _ui(eager_settings) as c:
        yield c


def test_sign_in_exchanges_the_key_for_a_strict_http_only_session(ui, eager_settings):
    assert ui.get("/").headers["location"] == "/ui/"
    assert ui.get("/ui/").headers["location"].startswith("/ui/login")
    form = ui.get("/ui/login")
    assert form.status_code == 200 and 'name="api_key"' in form.text
    token = re.search(r'name="login_csrf" value="([^"]+)"', form.text).group(1)
    assert "cw_login=" in form.headers["set-cookie"] and "SameSite=strict" in form.headers["set-cookie"]
    bad = ui.post("/ui/login", data={"api_key": "not-a-key", "login_csrf": token})
    assert bad.status_code == 401 and "unknown or revoked" in bad.text and "cw_session" not in bad.headers.get(
        "set-cookie", "")
    # login CSRF: a sign-in posted from elsewhere carries no matching form token and opens no session
    forged = ui.post("/ui/login", data={"api_key": make_key(eager_settings, "reviewer"), "login_csrf": "guess"})
    assert forged.status_code == 403 and "cw_session" not in forged.headers.get("set-cookie", "")
    r = _sign_in(ui, make_key(eager_settings, "reviewer"))
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie and "Path=/ui" in cookie
    page = ui.get("/ui/")
    assert page.status_code == 200 and "Documents" in page.text
    # logout needs the CSRF token and ends the session server-side
    assert ui.post("/ui/logout", data={}).status_code == 403
    assert ui.post("/ui/logout", data={"csrf": _csrf(page.text)}).status_code == 303
    assert ui.get("/ui/").status_code == 303


def test_every_page_carries_a_csp_without_inline_script(ui, eager_settings):
    _sign_in(ui, make_key(eager_settings, "admin"))
    for path in ("/ui/login", "/ui/"):
        r = ui.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert all("src=" in tag for tag in re.findall(r"<script[^>]*>", r.text)), "no inline script"
        assert r.headers["x-content-type-options"] == "nosniff"


def test_a_revoked_key_ends_its_sessions_and_idle_sessions_expire(ui, eager_settings):
    from core.db import Database
    from core.models import UiSession

    key = make_key(eager_settings, "reviewer")
    _sign_in(ui, key)
    assert ui.get("/ui/").status_code == 200
    admin = ui.get("/v1/keys", headers=bearer(make_key(eager_settings, "admin"))).json()["items"]
    key_id = next(k["id"] for k in admin if k["role"] == "reviewer")
    ui.delete(f"/v1/keys/{key_id}", headers=bearer(make_key(eager_settings, "admin")))
    assert ui.get("/ui/").status_code == 303
    # idle expiry: a session unused for longer than ui_session_idle_s is refused
    _sign_in(ui, make_key(eager_settings, "reviewer"))
    db = Database.from_settings(eager_settings)
    with db.session() as s:
        for row in s.query(UiSession).filter(UiSession.ended_at.is_(None)):
            row.last_seen_at = row.last_seen_at - timedelta(seconds=eager_settings.ui_session_idle_s + 5)
    db.dispose()
    assert ui.get("/ui/").status_code == 303


def test_roles_shape_the_page_and_the_server_refuses_the_rest(ui, eager_settings):
    api = bearer(make_key(eager_settings, "admin"))
    up = ui.post("/v1/documents", headers=api, files={"file": ("evidence.html", HOSTILE_HTML, "text/html")})
    doc_id = up.json()["document_id"]
    assert wait_for_document(_Api(ui, api), doc_id)["status"] == "indexed"
    sid = ui.get(f"/v1/documents/{doc_id}/suggestions", headers=api).json()["items"][0]["suggestion_id"]

    _sign_in(ui, make_key(eager_settings, "uploader"))
    page = ui.get(f"/ui/documents/{doc_id}")
    assert page.status_code == 200 and 'class="decide"' not in page.text
    forged = ui.post(f"/ui/suggestions/{sid}/decision", data={"decision": "confirm", "csrf": _csrf(page.text)})
    assert forged.status_code == 403 and forged.json()["error_code"] == "forbidden"

    _sign_in(ui, make_key(eager_settings, "reviewer"))
    page = ui.get(f"/ui/documents/{doc_id}")
    assert 'class="decide"' in page.text
    no_token = ui.post(f"/ui/suggestions/{sid}/decision", data={"decision": "confirm"})
    assert no_token.status_code == 403
    # as the browser sends it without script: the reason select goes along with a confirm and is ignored
    ok = ui.post(f"/ui/suggestions/{sid}/decision", data={"decision": "confirm", "reason_code": "wrong_control",
                                                         "csrf": _csrf(page.text)})
    assert ok.status_code == 303 and ok.headers["location"] == f"/ui/documents/{doc_id}#s-{sid}"
    assert ui.get(f"/v1/suggestions/{sid}", headers=api).json()["decisions"][-1]["decision"] == "confirm"
    # a later reject supersedes it; the page shows both in its history, the latest as the state
    page = ui.get(f"/ui/documents/{doc_id}")
    ui.post(f"/ui/suggestions/{sid}/decision", data={"decision": "reject", "reason_code": "stale",
                                                     "comment": "<b>superseded</b>", "csrf": _csrf(page.text)})
    item = ui.get(f"/ui/documents/{doc_id}").text.split(f'id="s-{sid}"', 1)[1].split("</li>\n", 1)[0]
    assert "decided-reject" in ui.get(f"/ui/documents/{doc_id}").text.split(f'id="s-{sid}"')[0][-200:]
    assert "history (2)" in item and ": confirm" in item and ": reject (stale)" in item
    assert "&lt;b&gt;superseded&lt;/b&gt;" in item


def test_a_hostile_document_is_rendered_as_text_with_its_passages_marked(ui, eager_settings):
    api = bearer(make_key(eager_settings, "admin"))
    # in a log the markup is the document's own text: it must reach the page escaped, never as markup
    up = ui.post("/v1/documents", headers=api, files={"file": ("waf.log", HOSTILE_LOG, "text/plain")})
    doc_id = up.json()["document_id"]
    assert wait_for_document(_Api(ui, api), doc_id)["status"] == "indexed"
    _sign_in(ui, make_key(eager_settings, "reviewer"))
    page = ui.get(f"/ui/documents/{doc_id}").text
    body = page.split("<main>", 1)[1]
    assert "<script>alert" not in body and "<img src=x" not in body and 'href="javascript:' not in body
    assert "<style>" not in body
    assert "&lt;script&gt;alert(&#39;pwned-script&#39;)&lt;/script&gt;" in body
    assert "&lt;img src=x onerror=&#34;alert(&#39;pwned-img&#39;)&#34;&gt;" in body
    # an HTML upload is partitioned: its script, handlers and styles never become text at all
    up = ui.post("/v1/documents", headers=api, files={"file": ("page.html", HOSTILE_HTML, "text/html")})
    html_doc = up.json()["document_id"]
    assert wait_for_document(_Api(ui, api), html_doc)["status"] == "indexed"
    html_body = ui.get(f"/ui/documents/{html_doc}").text.split("<main>", 1)[1]
    assert "rotated every 30 days" in html_body and "pwned" not in html_body and "attacker.example" not in html_body
    suggestions = ui.get(f"/v1/documents/{doc_id}/suggestions", headers=api).json()["items"]
    for s in suggestions:   # every suggestion's passage is wrapped in a mark carrying its id
        assert f'<mark data-suggestion-id="{s["suggestion_id"]}">' in body


class _Api:
    """wait_for_document's client interface over the browser-like client, with an API key."""

    def __init__(self, c, headers):
        self.c, self.h = c, headers

    def get(self, path):
        return self.c.get(path, headers=self.h)


def test_queue_coverage_audit_pages_follow_the_api_roles(ui, eager_settings):
    api = bearer(make_key(eager_settings, "admin"))
    up = ui.post("/v1/documents", headers=api, files={"file": ("waf.log", HOSTILE_LOG, "text/plain")})
    doc_id = up.json()["document_id"]
    wait_for_document(_Api(ui, api), doc_id)
    pending = ui.get("/v1/review-queue?limit=500", headers=api).json()["total_pending"]

    _sign_in(ui, make_key(eager_settings, "reviewer"))
    queue = ui.get("/ui/queue")
    assert queue.status_code == 200 and f"{pending} undecided" in queue.text
    assert queue.text.count("<tr data-suggestion-id=") == min(pending, 50)
    cov = ui.get("/ui/coverage?framework=NIST-CSF-2.0")
    assert cov.status_code == 200 and cov.text.count('<details class="cell') == 106
    assert ui.get("/ui/coverage?framework=nope").status_code == 404
    assert ui.get("/ui/audit").status_code == 403 and ui.get("/ui/exports/mappings.csv").status_code == 403
    page = ui.get(f"/ui/documents/{doc_id}")
    mapping = {"framework": "OWASP-NHI-TOP10-2025", "control_id": "NHI1", "quote": "service account key rotated"}
    assert ui.post(f"/ui/documents/{doc_id}/mappings", json=mapping).status_code == 403   # no CSRF token
    made = ui.post(f"/ui/documents/{doc_id}/mappings", json=mapping, headers={"x-csrf-token": _csrf(page.text)})
    assert made.status_code == 201, made.text

    _sign_in(ui, make_key(eager_settings, "auditor"))
    assert ui.get("/ui/queue").status_code == 403
    audit = ui.get("/ui/audit")
    assert audit.status_code == 200 and "Verified: 1 decisions" in audit.text
    csv = ui.get("/ui/exports/mappings.csv")
    assert csv.status_code == 200 and "NHI1" in csv.text and "service account key rotated" in csv.text
    assert csv.headers["content-disposition"] == 'attachment; filename="clausewise-mappings.csv"'
    assert ui.get("/ui/exports/passwd").status_code == 422


def test_every_error_code_has_plain_words_and_a_failed_page_shows_them_with_the_code(ui, eager_settings):
    from api.ui.words import PLAIN
    from core.errors import ErrorCode

    assert set(PLAIN) == {c.value for c in ErrorCode} and all(PLAIN.values())
    _sign_in(ui, make_key(eager_settings, "reviewer"))
    page = ui.get("/ui/documents/no-such-document", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert PLAIN["document_not_found"] in page.text and '<code id="error-code">document_not_found</code>' in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    # a script's request (no text/html) keeps the JSON error body
    assert ui.get("/ui/documents/no-such-document").json()["error_code"] == "document_not_found"
    # an upload refused or failed shows plain words beside its code in the list
    api = bearer(make_key(eager_settings, "admin"))
    bad = ui.post("/v1/documents", headers=api, files={"file": ("broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50,
                                                                "application/pdf")})
    if bad.status_code == 202:   # accepted, then fails while reading: the list says why in words
        failed = wait_for_document(_Api(ui, api), bad.json()["document_id"])
        listing = ui.get("/ui/").text
        assert failed["status"] == "failed" and f"<code>{failed['error_code']}</code>" in listing
        assert str(PLAIN[failed["error_code"]]).replace("'", "&#39;") in listing
    else:
        assert bad.json()["error_code"] in PLAIN


def _upload_log(ui, api) -> str:
    up = ui.post("/v1/documents", headers=api, files={"file": ("waf.log", HOSTILE_LOG, "text/plain")})
    doc_id = up.json()["document_id"]
    assert wait_for_document(_Api(ui, api), doc_id)["status"] == "indexed"
    return doc_id


def test_queue_filters_run_in_the_database_and_bulk_confirm_warns_and_skips(ui, eager_settings):
    api = bearer(make_key(eager_settings, "admin"))
    _upload_log(ui, api)
    everything = ui.get("/v1/review-queue?limit=500", headers=api).json()
    items = everything["items"]
    # filters: the page and the API agree, and each filter holds only what it names
    for query, keep in (("framework=NIST-CSF-2.0&family=PR", lambda i: i["control_id"].startswith("PR.")),
                        ("band=high", lambda i: i["confidence"] >= 0.7),
                        ("band=low", lambda i: i["confidence"] < 0.4),
                        ("kind=log", lambda i: True)):
        got = ui.get(f"/v1/review-queue?limit=500&{query}", headers=api).json()
        assert all(keep(i) for i in got["items"]), query
        assert got["total_pending"] <= everything["total_pending"]
    assert ui.get("/v1/review-queue?kind=policy", headers=api).json()["total_pending"] == 0
    assert ui.get("/v1/review-queue?family=ZZ", headers=api).json()["error_code"] == "control_not_found"

    reviewer = make_key(eager_settings, "reviewer")
    _sign_in(ui, reviewer)
    page = ui.get("/ui/queue?framework=NIST-CSF-2.0&family=PR")
    assert page.status_code == 200 and 'value="PR" selected' in page.text
    csrf = _csrf(page.text)
    needs = [i for i in items if i["state"] == "needs_review"]
    low = [i for i in items if i["state"] != "needs_review" and i["confidence"] < 0.7]
    high = [i for i in items if i["state"] != "needs_review" and i["confidence"] >= 0.7]
    assert needs, "the log has suggestions under their threshold"
    for n in needs[:3]:   # a needs-review row has no selectable checkbox
        if f'value="{n["suggestion_id"]}"' in page.text:
            assert f'name="ids" value="{n["suggestion_id"]}"' not in page.text
    chosen = [i["suggestion_id"] for i in (low[:2] + high[:2] + needs[:1])]
    form = {"ids": chosen, "csrf": csrf}
    assert ui.post("/ui/queue/confirm", data={"ids": chosen}).status_code == 403   # no CSRF token
    first = ui.post("/ui/queue/confirm", data=form, headers={"hx-request": "true"})
    assert first.status_code == 200
    if low:   # the warning names each low-confidence control and nothing is applied yet
        assert "nothing has been confirmed yet" in first.text
        for i in low[:2]:
            assert i["control_id"] in first.text
        assert ui.get("/v1/ledger/verify", headers=api).json()["rows"] == 0
        first = ui.post("/ui/queue/confirm", data={**form, "acknowledge_low": "1"}, headers={"hx-request": "true"})
    confirmed = len(low[:2] + high[:2])
    assert f"Confirmed {confirmed}." in first.text and 'id="queue-table" hx-swap-oob="true"' in first.text
    if needs:
        assert "Not confirmed, needs review" in first.text
        assert ui.get(f"/v1/suggestions/{needs[0]['suggestion_id']}", headers=api).json()["decisions"] == []
    assert ui.get("/v1/ledger/verify", headers=api).json()["rows"] == confirmed
    # the API's bulk confirm is the same service: already-decided items are skipped, not decided twice
    again = ui.post("/v1/suggestions/bulk-confirm", headers=bearer(reviewer),
                    json={"suggestion_ids": chosen, "acknowledge_low": True}).json()
    assert again["confirmed"] == [] and len(again["skipped_decided"]) == confirmed


def test_a_queue_item_opens_beside_the_list_and_the_next_opens_after_a_decision(ui, eager_settings):
    api = bearer(make_key(eager_settings, "admin"))
    doc_id = _upload_log(ui, api)
    _sign_in(ui, make_key(eager_settings, "reviewer"))
    page = ui.get("/ui/queue")
    rows = re.findall(r'<tr data-suggestion-id="([^"]+)"', page.text)
    assert len(rows) >= 3
    item = ui.get(f"/ui/queue/items/{rows[0]}?position=0", headers={"hx-request": "true"})
    assert item.status_code == 200 and f'<mark data-suggestion-id="{rows[0]}">' in item.text
    assert f"/ui/queue/items/{rows[0]}/decision" in item.text
    assert "via →" not in item.text   # a crosswalk hop names both ends
    after = ui.post(f"/ui/queue/items/{rows[0]}/decision", headers={"hx-request": "true"},
                    data={"decision": "reject", "reason_code": "wrong_control", "position": "0",
                          "csrf": _csrf(page.text)})
    assert after.status_code == 200 and "Recorded: reject." in after.text
    opened = re.search(r'class="item-open" data-suggestion-id="([^"]+)"', after.text).group(1)
    assert opened == rows[1], "the item that followed the decided one opens"
    assert f'<tr data-suggestion-id="{rows[0]}"' not in after.text and 'hx-swap-oob="true"' in after.text
    # a reject without a reason is refused with its code; nothing recorded
    refused = ui.post(f"/ui/queue/items/{rows[1]}/decision", headers={"hx-request": "true"},
                      data={"decision": "reject", "reason_code": "", "csrf": _csrf(page.text)})
    assert refused.status_code == 422 and refused.json()["error_code"] == "reason_required"
    # `n` on the review page: the next document in the queue (or the queue when there is none)
    nxt = ui.get(f"/ui/queue/next?after={doc_id}")
    assert nxt.status_code == 303 and nxt.headers["location"] == "/ui/queue"
    first_doc = ui.get("/ui/queue/next?after=other")
    assert first_doc.headers["location"].startswith(f"/ui/documents/{doc_id}#s-")


def test_admin_creates_a_key_shown_once_revokes_it_and_reviews_an_edge(ui, eager_settings):
    _sign_in(ui, make_key(eager_settings, "reviewer"))
    assert ui.get("/ui/admin").status_code == 403
    _sign_in(ui, make_key(eager_settings, "admin"))
    page = ui.get("/ui/admin")
    assert page.status_code == 200 and 'id="keys-table"' in page.text
    csrf = _csrf(page.text)
    made = ui.post("/ui/admin/keys", data={"name": "<i>ci bot</i>", "role": "uploader", "csrf": csrf},
                   headers={"hx-request": "true"})
    assert made.status_code == 200
    key = re.search(r'id="new-key-value">([^<]+)</code>', made.text).group(1)
    assert "&lt;i&gt;ci bot&lt;/i&gt;" in made.text and "<i>ci bot" not in made.text
    assert ui.get("/v1/documents", headers=bearer(key)).status_code == 200   # the key works
    assert key not in ui.get("/ui/admin").text, "a key is shown once, never listed"
    key_id = next(k["id"] for k in ui.get("/v1/keys", headers=bearer(make_key(eager_settings, "admin")))
                  .json()["items"] if k["name"] == "<i>ci bot</i>")
    assert ui.post(f"/ui/admin/keys/{key_id}/revoke", data={}).status_code == 403   # no CSRF token
    revoked = ui.post(f"/ui/admin/keys/{key_id}/revoke", data={"csrf": csrf}, headers={"hx-request": "true"})
    assert revoked.status_code == 200 and "revoked" in revoked.text
    assert ui.get("/v1/documents", headers=bearer(key)).status_code == 401
    assert ui.post("/ui/admin/keys", data={"name": "x", "role": "root", "csrf": csrf}).json()["error_code"] == \
        "validation_error"
    # crosswalk edge review: the row comes back with the verdict; the API lists it reviewed
    edge = re.search(r'name="from_framework" value="([^"]+)"><input type="hidden" name="from_id" value="([^"]+)">\s*'
                     r'<input type="hidden" name="to_framework" value="([^"]+)"><input type="hidden" name="to_id" '
                     r'value="([^"]+)">', page.text).groups()
    row = ui.post("/ui/admin/edges", headers={"hx-request": "true"}, data={
        "from_framework": edge[0], "from_id": edge[1], "to_framework": edge[2], "to_id": edge[3],
        "verdict": "disputed", "comment": "too broad", "csrf": csrf})
    assert row.status_code == 200 and "status-disputed" in row.text and "too broad" in row.text
    listed = ui.get(f"/v1/catalog/edges?control_id={edge[1]}&status=disputed",
                    headers=bearer(make_key(eager_settings, "admin"))).json()["items"]
    assert any(e["to"]["control_id"] == edge[3] for e in listed)


def test_an_admin_starts_an_evaluation_run_and_reads_its_report_with_plots(ui, eager_settings):
    _sign_in(ui, make_key(eager_settings, "reviewer"))
    page = ui.get("/ui/evaluations")
    assert page.status_code == 200 and 'id="start-eval"' not in page.text   # only admins start runs
    assert ui.post("/ui/evaluations", data={"dataset": "no-evidence", "csrf": _csrf(page.text)}).status_code == 403
    _sign_in(ui, make_key(eager_settings, "admin"))
    page = ui.get("/ui/evaluations")
    assert 'value="no-evidence"' in page.text and 'value="files2"' in page.text
    started = ui.post("/ui/evaluations", data={"dataset": "evidence-dev", "csrf": _csrf(page.text)})
    assert started.status_code == 303 and started.headers["location"] == "/ui/evaluations"
    run_id = re.search(r'<tr id="run-([^"]+)"', ui.get("/ui/evaluations").text).group(1)
    row = ui.get(f"/ui/evaluations/{run_id}/row", headers={"hx-request": "true"})
    assert 'hx-trigger="every 2s"' in row.text or 'data-state="done"' in row.text   # polled while not finished
    deadline = time.monotonic() + 300
    while 'data-state="done"' not in row.text and 'data-state="failed"' not in row.text:
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.5)
        row = ui.get(f"/ui/evaluations/{run_id}/row", headers={"hx-request": "true"})
    assert 'data-state="done"' in row.text and "hx-trigger" not in row.text, row.text   # polling stops
    report = ui.get(f"/ui/evaluations/{run_id}")
    assert report.status_code == 200 and "<td>classifier</td>" in report.text
    plots = re.findall(rf'src="(/ui/evaluations/{run_id}/plots/[^"]+\.png)"', report.text)
    assert plots
    png = ui.get(plots[0])
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"
    assert ui.get(f"/ui/evaluations/{run_id}/plots/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert ui.post("/ui/evaluations", data={"dataset": "../etc", "csrf": _csrf(page.text)}).status_code == 404


def test_htmx_is_vendored_unchanged_and_configured_for_the_csp(ui, eager_settings):
    import hashlib
    from pathlib import Path

    import api.ui.routes as routes

    vendored = Path(routes.HERE / "static/vendor/htmx.min.js").read_bytes()
    assert hashlib.sha256(vendored).hexdigest() == \
        "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    assert ui.get("/ui/static/vendor/htmx.min.js").content == vendored
    login = ui.get("/ui/login").text
    assert '"allowEval":false' in login and '"allowScriptTags":false' in login and '"selfRequestsOnly":true' in login
