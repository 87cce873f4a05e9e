"""The web UI over HTTP (in-process app): sessions, CSRF, roles, CSP and hostile documents rendered as text."""

from __future__ import annotations

import re
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
    r = c.post("/ui/login", data={"api_key": key, "next": "/ui/"})
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
    bad = ui.post("/ui/login", data={"api_key": "not-a-key"})
    assert bad.status_code == 200 and "unknown or revoked" in bad.text and "set-cookie" not in bad.headers
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
    ok = ui.post(f"/ui/suggestions/{sid}/decision", data={"decision": "confirm", "csrf": _csrf(page.text)})
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
