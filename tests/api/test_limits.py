"""Defects an outside probe found, each reproduced first: huge page numbers, unbounded multipart fields, unbounded
JSON bodies, a document that explodes into chunks, no rate limit, metrics across tenants, missing headers."""

from __future__ import annotations

import json

import pytest
from conftest import bearer, make_key, wait_for_document

HUGE = 9223372036854775807


def _client(settings, **update):
    from fastapi.testclient import TestClient

    from api.app import create_app

    return TestClient(create_app(settings.model_copy(update=update)), headers=bearer(make_key(settings)))


def test_huge_page_numbers_are_refused_not_a_500(client):
    for path in (f"/v1/documents?page={HUGE}", f"/v1/documents/x/chunks?page={HUGE}", f"/v1/eval-runs?page={HUGE}",
                 f"/v1/review-queue?offset={HUGE}"):
        r = client.get(path)
        assert r.status_code == 422 and r.json()["error_code"] == "validation_error", (path, r.text)
    ui = client.get(f"/ui/?page={HUGE}", headers={"accept": "text/html"})
    assert ui.status_code in (303, 422)   # no session here: the sign-in redirect comes before the page


def _multipart(fields: int, field_bytes: int, file_bytes: bytes = b"hello evidence\n"):
    boundary = b"cwboundary"

    def gen():
        for i in range(fields):
            yield (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="f' + str(i).encode() + b'"\r\n\r\n'
                   + b"x" * field_bytes + b"\r\n")
        yield (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
               b"Content-Type: text/plain\r\n\r\n" + file_bytes + b"\r\n--" + boundary + b"--\r\n")
    return gen, {"content-type": "multipart/form-data; boundary=cwboundary"}


def test_an_upload_with_endless_form_fields_is_cut_off_whatever_the_encoding(migrated_settings):
    with _client(migrated_settings, task_always_eager=True, max_upload_bytes=200_000) as c:
        gen, headers = _multipart(fields=50, field_bytes=1000)   # chunked: no Content-Length
        r = c.post("/v1/documents", content=gen(), headers=headers)
        assert r.status_code == 422 and "too many form fields" in r.json()["detail"]
        # a chunked body past the upload cap: 413 before the end, nothing kept

        def big():
            yield (b'--cwboundary\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
                   b"Content-Type: text/plain\r\n\r\n")
            for _ in range(40):
                yield b"y" * 50_000
            yield b"\r\n--cwboundary--\r\n"
        r = c.post("/v1/documents", content=big(), headers=headers)
        assert r.status_code == 413 and r.json()["error_code"] == "file_too_large"
        assert c.get("/v1/documents").json()["total"] == 0   # nothing stored
        gen, headers = _multipart(fields=3, field_bytes=100)
        assert c.post("/v1/documents", content=gen(), headers=headers).status_code == 202   # a normal one passes


def test_json_bodies_are_capped_declared_or_chunked(migrated_settings):
    with _client(migrated_settings, max_body_bytes=4096) as c:
        big = json.dumps({"suggestion_ids": ["x" * 100] * 100}).encode()
        r = c.post("/v1/suggestions/bulk-confirm", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["error_code"] == "body_too_large"
        r = c.post("/v1/suggestions/bulk-confirm", content=iter([big[:3000], big[3000:]]),
                   headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.headers["x-content-type-options"] == "nosniff"
        small = c.post("/v1/suggestions/bulk-confirm", json={"suggestion_ids": ["nope"]})
        assert small.status_code == 404 and small.json()["error_code"] == "suggestion_not_found"


@pytest.mark.needs_model
def test_a_document_past_the_chunk_cap_fails_with_a_code(migrated_settings):
    from ingest.partition import warm_up

    warm_up()
    rows = "".join(f"{i},control owner {i} reviews access for service account svc-{i} every quarter\n"
                   for i in range(400)).encode()
    with _client(migrated_settings, task_always_eager=True, max_chunks_per_document=3) as c:
        up = c.post("/v1/documents", files={"file": ("register.csv", b"id,text\n" + rows, "text/csv")})
        doc = wait_for_document(c, up.json()["document_id"])
        assert doc["status"] == "failed" and doc["error_code"] == "too_many_chunks", doc
        assert "limit of 3" in doc["error_detail"]


def test_uploads_and_classification_are_rate_limited_per_key(migrated_settings):
    with _client(migrated_settings, task_always_eager=True, rate_uploads_per_minute=6,
                 rate_classify_per_minute=6) as c:
        codes = [c.post("/v1/documents", files={"file": (f"{i}.txt", f"evidence {i}\n".encode(), "text/plain")})
                 for i in range(6)]
        assert [r.status_code for r in codes[:5]] == [202] * 5   # the burst
        assert codes[5].status_code == 429 and codes[5].json()["error_code"] == "rate_limited"
        assert int(codes[5].headers["retry-after"]) >= 1
        other = bearer(make_key(migrated_settings, "uploader"))   # another key has its own bucket
        assert c.post("/v1/documents", headers=other,
                      files={"file": ("o.txt", b"other evidence\n", "text/plain")}).status_code == 202
        doc_id = codes[0].json()["document_id"]
        got = [c.post(f"/v1/documents/{doc_id}/classify").status_code for _ in range(7)]
        assert 429 in got and got[0] != 429


def test_metrics_are_for_the_operator_tenant_only(client, migrated_settings):
    assert client.get("/v1/metrics").status_code == 200   # an admin of the default (operator) tenant
    other = client.get("/v1/metrics", headers=bearer(make_key(migrated_settings, "admin", tenant="acme")))
    assert other.status_code == 403 and other.json()["error_code"] == "forbidden"


def test_every_response_carries_the_security_headers(client):
    for r in (client.get("/v1/health"), client.get("/v1/documents"), client.get("/v1/nope"),
              client.get("/v1/documents/none"), client.get("/openapi.json")):
        assert r.headers["x-content-type-options"] == "nosniff", r.url
        assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in r.headers["content-security-policy"]
