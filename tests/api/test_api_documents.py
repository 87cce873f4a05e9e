"""Uploads over HTTP: 202/200 duplicate, streaming size limit, 415 with both types, jobs and documents."""

import concurrent.futures as cf

import factories as F
import httpx
import pytest
from conftest import FIXTURES, LiveServer, bearer, make_key, wait_for_document


def upload(client, name, data, **fields):
    return client.post("/v1/documents", files={"file": (name, data)}, data=fields)


def test_upload_indexes_and_reports_job_progress(eager_client):
    r = upload(eager_client, "scope.txt", (FIXTURES / "KHA-AIMS-DOC-001_AIMS_scope_statement_v1.2.txt").read_bytes(),
               title="AIMS scope", evidence_date="2025-11-01")
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) >= {"document_id", "job_id", "status", "sha256", "detected_type"}
    doc = wait_for_document(eager_client, body["document_id"])
    assert doc["status"] == "indexed" and doc["chunk_count"] > 0 and doc["kind"] == "text"
    assert doc["title"] == "AIMS scope" and doc["evidence_date"].startswith("2025-11-01")
    assert doc["evidence_range"]["start"].startswith("2025-11-01")  # no timestamps inside: the given date
    job = eager_client.get(f"/v1/jobs/{body['job_id']}").json()
    assert job["state"] == "indexed" and job["stage"] == "done" and job["percent"] == 100
    assert {"partition_s", "embed_s", "vectors_s"} <= set(job["timings"])
    chunks = eager_client.get(f"/v1/documents/{body['document_id']}/chunks").json()
    assert chunks["total"] == doc["chunk_count"] and chunks["items"][0]["char_start"] == 0


def test_same_bytes_again_is_a_duplicate_with_no_new_rows(eager_client):
    data = F.docx(F.PARAS)
    first = upload(eager_client, "a.docx", data).json()
    wait_for_document(eager_client, first["document_id"])
    again = upload(eager_client, "renamed-copy.docx", data)
    assert again.status_code == 200 and again.json()["duplicate_of"] == first["document_id"]
    assert eager_client.get("/v1/documents").json()["total"] == 1


def test_mismatch_gets_415_with_claimed_and_detected_types(eager_client):
    r = upload(eager_client, "policy.pdf", b"just some text pretending to be a PDF\n" * 10)
    assert r.status_code == 415
    assert r.json() == {"error_code": "type_mismatch", "detail": r.json()["detail"],
                        "claimed_type": "application/pdf", "detected_type": "text/plain"}


def test_bad_uploads_get_clear_4xx_codes(eager_client):
    cases = [("empty.csv", b"", 400, "empty_file"),
             ("vendor.txt", (FIXTURES / "vendor_questionnaire_answers_Halcyon.txt").read_bytes(), 415,
              "unsupported_media_type"),
             ("bomb.docx", F.docx_zip_bomb(300), 422, "archive_bomb")]
    for name, data, status, code in cases:
        r = upload(eager_client, name, data)
        assert (r.status_code, r.json()["error_code"]) == (status, code), name
    r = upload(eager_client, "x.txt", b"hello there\n", evidence_date="last tuesday")
    assert r.status_code == 422 and r.json()["error_code"] == "invalid_evidence_date"
    r = eager_client.post("/v1/documents", data={"title": "no file"})
    assert r.status_code == 422 and r.json()["error_code"] == "validation_error"
    assert eager_client.get("/v1/documents").json()["total"] == 0


def test_hostile_file_names_are_stored_sanitized(eager_client):
    for raw, stored in [("../../etc/passwd.txt", "passwd.txt"), ("nul\x00byte.txt", "nulbyte.txt"),
                        ("x" * 300 + ".txt", "x" * 251 + ".txt"), ("ctl\x07\x1b.txt", "ctl.txt")]:
        r = upload(eager_client, raw, f"evidence for {stored!r}: keys rotate quarterly.\n".encode())
        assert r.status_code == 202, (raw, r.text)
        assert r.json()["filename"] == stored


def test_failed_processing_is_visible_with_its_code(eager_client):
    r = upload(eager_client, "scan.pdf", F.image_only_pdf())
    doc = wait_for_document(eager_client, r.json()["document_id"])
    assert doc["status"] == "failed" and doc["error_code"] == "no_text_layer" and doc["chunk_count"] == 0
    job = eager_client.get(f"/v1/jobs/{r.json()['job_id']}").json()
    assert job["state"] == "failed" and job["error_code"] == "no_text_layer"


def test_unknown_ids_get_stable_404_codes(eager_client):
    assert eager_client.get("/v1/documents/nope").json()["error_code"] == "document_not_found"
    assert eager_client.get("/v1/jobs/nope").json()["error_code"] == "job_not_found"


def test_documents_are_paged(eager_client):
    for i in range(5):
        body = f"note {i}: access reviews happen monthly.\n".encode()
        assert upload(eager_client, f"n{i}.txt", body).status_code == 202
    p1 = eager_client.get("/v1/documents", params={"page": 1, "page_size": 2}).json()
    p3 = eager_client.get("/v1/documents", params={"page": 3, "page_size": 2}).json()
    assert p1["total"] == 5 and len(p1["items"]) == 2 and len(p3["items"]) == 1
    ids = [d["document_id"] for p in (1, 2, 3)
           for d in eager_client.get("/v1/documents", params={"page": p, "page_size": 2}).json()["items"]]
    assert len(set(ids)) == 5


@pytest.fixture
def small_limit_server(eager_settings):
    from api.app import create_app

    settings = eager_settings.model_copy(update={"max_upload_bytes": 1024 * 1024})
    with LiveServer(create_app(settings)) as srv:
        srv.key = make_key(settings)
        yield srv, settings


def test_oversized_upload_is_refused_before_the_body_is_read(small_limit_server):
    """Send 2 MiB of a chunked body that never ends: the 413 must arrive while the client is still sending."""
    import socket

    srv, settings = small_limit_server
    boundary = "cwboundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=15) as sock:
        sock.sendall((f"POST /v1/documents HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      f"Authorization: Bearer {srv.key}\r\n"
                      f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode())
        for piece in [head] + [b"A" * 65536] * 32:  # 2 MiB of file data against a 1 MiB limit
            sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            response += data
    status_line, _, rest = response.partition(b"\r\n")
    assert b" 413 " in status_line, response[:300]
    assert b'"error_code":"file_too_large"' in response
    assert list((settings.originals_dir / "tmp").iterdir()) == []
    with httpx.Client(base_url=srv.url, headers=bearer(srv.key)) as c:
        assert c.get("/v1/documents").json()["total"] == 0


def test_declared_oversized_length_gets_413_at_once(small_limit_server):
    import socket

    srv, _ = small_limit_server
    with socket.create_connection(("127.0.0.1", srv.port), timeout=15) as sock:
        sock.sendall(b"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n"
                     b"Authorization: Bearer " + srv.key.encode() + b"\r\n"
                     b"Content-Type: multipart/form-data; boundary=b\r\n\r\n--b\r\n")
        response = b""
        while b"file_too_large" not in response:  # headers and body may arrive in separate segments
            data = sock.recv(65536)
            if not data:
                break
            response += data
    assert b" 413 " in response.split(b"\r\n")[0] and b"file_too_large" in response


def test_twenty_identical_concurrent_uploads_make_one_document(eager_settings):
    from api.app import create_app

    data = (FIXTURES / "KHA-STD-DATA-007_training_audio_retention_and_lineage.md").read_bytes()
    key = make_key(eager_settings, "uploader")
    with LiveServer(create_app(eager_settings)) as srv:
        def one(i):
            return httpx.post(f"{srv.url}/v1/documents", files={"file": (f"copy{i}.md", data)}, timeout=60,
                              headers=bearer(key))

        with cf.ThreadPoolExecutor(20) as pool:
            results = list(pool.map(one, range(20)))
        codes = sorted(r.status_code for r in results)
        assert codes == [200] * 19 + [202], codes
        created = next(r.json()["document_id"] for r in results if r.status_code == 202)
        assert all(r.json()["duplicate_of"] == created for r in results if r.status_code == 200)
        with httpx.Client(base_url=srv.url, headers=bearer(key)) as c:
            assert c.get("/v1/documents").json()["total"] == 1
            doc = wait_for_document(c, created)
        assert doc["status"] == "indexed"
        from core.models import DEFAULT_TENANT_ID
        from core.vectors import VectorStore
        vs = VectorStore(eager_settings.resolved_chroma_url)
        assert len(vs.ids(DEFAULT_TENANT_ID)) == doc["chunk_count"]
        root = eager_settings.originals_dir
        blobs = [p for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "tmp"]
        assert len(blobs) == 1


def test_a_rotated_log_is_accepted_and_split_into_events(eager_client):
    lines = "".join(f"Dec  3 04:{m:02d}:09 gpu-04 sshd[41{m:02d}]: Accepted publickey for svc-train-sync from "
                    f"10.0.3.4 port 501{m:02d} ssh2\n" for m in range(30))
    r = upload(eager_client, "auth.log.1", lines.encode())
    assert r.status_code == 202, r.text
    doc = wait_for_document(eager_client, r.json()["document_id"])
    assert doc["status"] == "indexed" and doc["kind"] == "syslog" and doc["filename"] == "auth.log.1", doc


def test_rotated_and_date_suffixed_log_names_are_taken_by_their_content_and_split_into_records(eager_client):
    lines = b"".join(f"Jun  9 04:{m:02d}:09 gpu-04 sshd[41{m:02d}]: Accepted publickey for svc-train-sync from "
                     f"10.0.3.4 port 501{m:02d} ssh2\n".encode() for m in range(30))
    for name in ("auth.log_host_2025-06-09_to_06-11", "messages-20250609", "auth.log.1"):
        r = upload(eager_client, name, lines.replace(b"gpu-04", name.encode()))
        assert r.status_code == 202, (name, r.text)
        assert r.json()["detected_type"] == "text/x-log" and r.json()["filename"] == name
        doc = wait_for_document(eager_client, r.json()["document_id"])
        assert doc["status"] == "indexed", doc
        chunks = eager_client.get(f"/v1/documents/{doc['document_id']}/chunks").json()["items"]
        assert chunks and all(c["record_start"] is not None and c["line_start"] for c in chunks), name
    binary = upload(eager_client, "auth.log_host_2025-06-09_to_06-11", bytes(range(256)) * 40)
    assert binary.status_code == 415 and binary.json()["error_code"] == "unsupported_media_type"
