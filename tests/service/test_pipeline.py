"""The ingestion path end to end at the service level: real partitioners, embedder, Chroma and SQLite."""

from datetime import datetime

import factories as F
import pytest
from conftest import FIXTURES, ingest_file, manifest
from sqlalchemy import select

from core.errors import ClausewiseError
from core.models import DEFAULT_TENANT_ID, Chunk
from ingest.chunking import chunk_id

GOOD = [m for m in manifest() if m["expect"] == "suggestions"]
KINDS = {"pdf": {"pdf"}, "docx": {"docx"}, "html": {"html"}, "md": {"markdown"}, "txt": {"text"},
         "eml": {"email"}, "csv": {"servicenow"}, "log": {"syslog", "app_log"},
         "jsonl": {"k8s_audit", "vault_audit", "jsonl"},
         "json": {"jira", "github_issue", "gcp_audit", "azure_activity"}}


def chunks_of(rt, document_id):
    with rt.db.session() as s:
        return s.scalars(select(Chunk).where(Chunk.document_id == document_id).order_by(Chunk.idx)).all()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """Every realistic good file ingested once into one store (the expensive part, shared by the checks)."""
    from core.db import upgrade
    from core.runtime import Runtime
    from core.settings import Settings
    from ingest.partition import warm_up

    settings = Settings(env="test", data_dir=tmp_path_factory.mktemp("pipeline"))
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    warm_up()
    rt = Runtime(settings)
    docs = {m["file"]: ingest_file(rt, FIXTURES / m["file"]) for m in GOOD}
    yield rt, docs
    rt.db.dispose()


@pytest.mark.parametrize("item", GOOD, ids=lambda m: m["file"])
def test_realistic_file_is_indexed_with_chunks_and_vectors(indexed, item):
    rt, docs = indexed
    doc = docs[item["file"]]
    assert doc["status"] == "indexed", doc
    assert doc["chunk_count"] > 0 and doc["kind"] in KINDS[item["format"]]
    chunks = chunks_of(rt, doc["document_id"])
    assert len(chunks) == doc["chunk_count"]
    assert [c.idx for c in chunks] == list(range(len(chunks)))
    assert rt.vectors.ids(DEFAULT_TENANT_ID, document_id=doc["document_id"]) == {c.id for c in chunks}
    with rt.db.session() as s:
        from core.models import Document
        sha = s.get(Document, doc["document_id"]).sha256
    assert [c.id for c in chunks] == [chunk_id(DEFAULT_TENANT_ID, sha, i) for i in range(len(chunks))]
    for c in chunks:
        assert 0 < len(c.text) <= 1400 and c.char_end - c.char_start == len(c.text)


def test_pdf_chunks_keep_page_numbers(indexed):
    rt, docs = indexed
    chunks = chunks_of(rt, docs["CS-MERLIN-SCR-003_Clinical_Safety_Case_v3.3_excerpt.pdf"]["document_id"])
    pages = {c.page for c in chunks}
    assert None not in pages and len(pages) >= 2 and min(pages) == 1


def test_logs_and_tickets_have_an_evidence_date_range(indexed):
    _, docs = indexed
    for item in GOOD:
        if item["doc_type"] in ("log", "ticket"):
            rng = docs[item["file"]]["evidence_range"]
            assert rng["start"] and rng["end"], item["file"]
            assert datetime.fromisoformat(rng["start"]) <= datetime.fromisoformat(rng["end"])


def test_log_windows_keep_line_and_time_ranges(indexed):
    rt, docs = indexed
    chunks = chunks_of(rt, docs["mlp-train-gpu-04_auth.log"]["document_id"])
    lines = (FIXTURES / "mlp-train-gpu-04_auth.log").read_text().splitlines()
    assert len(chunks) < len([ln for ln in lines if ln.strip()]), "events are grouped into windows"
    for c in chunks:
        assert c.line_start is not None and c.line_start <= c.line_end and c.ts_start <= c.ts_end
    first = chunks[0]
    assert lines[first.line_start - 1].split()[-1] in first.text


def test_email_keeps_sender_recipients_date_and_subject(indexed):
    _, docs = indexed
    doc = docs["email_RE_Halcyon_MSA_DPA_redlines_OK_to_sign.eml"]
    assert doc["email"]["from"] == ["naomi.sterling@kestrelhealth.example"]
    assert "gareth.pryce@kestrelhealth.example" in doc["email"]["to"]
    assert "OK to sign" in doc["email"]["subject"] and doc["email"]["date"].startswith("20")


def test_eml_attachment_is_not_indexed_as_base64(indexed):
    rt, docs = indexed
    eml = docs["email_RE_Halcyon_MSA_DPA_redlines_OK_to_sign.eml"]["document_id"]
    text = " ".join(c.text for c in chunks_of(rt, eml))
    assert "JVBERi0" not in text  # base64 of "%PDF-"


def test_jira_adf_and_servicenow_journal_text_are_extracted(indexed):
    rt, docs = indexed
    jira = " ".join(c.text for c in chunks_of(rt, docs["jira_search_MLP_drift_triage_2026Q1.json"]["document_id"]))
    assert "MLP-2410" in jira and "PSI" in jira
    snow = chunks_of(rt, docs["servicenow_change_request_export_2025-08_2026-02.csv"]["document_id"])
    assert any("CHG0031877" in c.text for c in snow)
    assert all(c.record_start is not None for c in snow)


def test_reingesting_the_same_job_is_idempotent(indexed):
    from worker.jobs import run_ingest_job

    rt, docs = indexed
    doc = docs["KHA-AIMS-DOC-001_AIMS_scope_statement_v1.2.txt"]
    before = {c.id for c in chunks_of(rt, doc["document_id"])}
    assert run_ingest_job(rt, doc["document_id"], doc["job"]["job_id"]) == "indexed"
    assert {c.id for c in chunks_of(rt, doc["document_id"])} == before
    assert rt.vectors.ids(DEFAULT_TENANT_ID, document_id=doc["document_id"]) == before


# --- bad input: a clear 4xx code at intake, or `failed` with a stable code; never indexed with 0 chunks ----------

def _expect_failed(rt, path, code):
    doc = ingest_file(rt, path)
    assert doc["status"] == "failed" and doc["error_code"] == code, doc
    assert doc["chunk_count"] == 0 and doc["error_detail"]
    assert rt.vectors.ids(DEFAULT_TENANT_ID, document_id=doc["document_id"]) == set()
    return doc


def test_truncated_pdf_fails_with_a_stable_code(runtime):
    doc = ingest_file(runtime, FIXTURES / "KHA-POL-AI-001_AI_Policy_v3.0_signed.pdf")
    assert doc["status"] == "failed" and doc["error_code"] in ("corrupt_file", "no_text_layer")


def test_encrypted_pdf_fails_as_encrypted(runtime, tmp_path):
    _expect_failed(runtime, F.write(tmp_path, "locked.pdf", F.encrypted_pdf()), "encrypted_pdf")


def test_image_only_pdf_fails_as_no_text_layer(runtime, tmp_path):
    _expect_failed(runtime, F.write(tmp_path, "scan.pdf", F.image_only_pdf()), "no_text_layer")


def test_corrupt_pdf_fails_as_corrupt(runtime, tmp_path):
    data = F.text_pdf(F.PARAS)
    _expect_failed(runtime, F.write(tmp_path, "cut.pdf", data[: len(data) // 3]), "corrupt_file")


@pytest.mark.parametrize("name,data,code", [
    ("empty.txt", b"", "empty_file"),
    ("access_review.csv", b"", "empty_file"),
    ("random.txt", bytes(range(256)) * 40, "unsupported_media_type"),
    ("random.pdf", bytes(range(256)) * 40, "unsupported_media_type"),
    ("bomb.docx", None, "archive_bomb"),
    ("bomb.xlsx", None, "archive_bomb"),
    ("random.xlsx", bytes(range(256)) * 40, "unsupported_media_type"),
])
def test_bad_uploads_are_refused_at_intake_and_store_nothing(runtime, tmp_path, name, data, code):
    bomb = F.xlsx_zip_bomb if name.endswith(".xlsx") else F.docx_zip_bomb
    path = F.write(tmp_path, name, bomb(300) if data is None else data)
    with pytest.raises(ClausewiseError) as e:
        ingest_file(runtime, path)
    assert e.value.code.value == code and 400 <= e.value.status < 500
    from ingest.service import list_documents
    assert list_documents(db=runtime.db, tenant_id=DEFAULT_TENANT_ID, page=1, page_size=10)["total"] == 0
    assert list((runtime.blobs.root / "tmp").iterdir()) == []


def test_whitespace_only_text_fails_as_no_text(runtime, tmp_path):
    _expect_failed(runtime, F.write(tmp_path, "blank.txt", b"   \n\n\t  \n" * 50), "no_text")


def test_utf16_and_latin1_text_are_indexed_readably(runtime, tmp_path):
    text = "Politique d'accès: les clés de service sont renouvelées chaque trimestre et révisées.\n\n" * 4
    for name, enc in (("u16.txt", "utf-16"), ("latin.txt", "latin-1")):
        doc = ingest_file(runtime, F.write(tmp_path, name, text.encode(enc)))
        assert doc["status"] == "indexed", doc
        assert "clés de service" in chunks_of(runtime, doc["document_id"])[0].text


def test_docx_and_generated_pdf_are_indexed(runtime, tmp_path):
    d = ingest_file(runtime, F.write(tmp_path, "proc.docx", F.docx(F.PARAS)))
    p = ingest_file(runtime, F.write(tmp_path, "pol.pdf", F.text_pdf(F.PARAS)))
    assert d["status"] == p["status"] == "indexed"
    assert "validation report" in " ".join(c.text for c in chunks_of(runtime, d["document_id"]))
    assert p["page_count"] == 4 and {c.page for c in chunks_of(runtime, p["document_id"])} == {1, 2, 3, 4}


def test_xlsx_rows_are_records_with_their_sheet_and_row(runtime, tmp_path):
    doc = ingest_file(runtime, F.write(tmp_path, "access_review_Q4.xlsx", F.access_review_xlsx()))
    assert doc["status"] == "indexed", doc
    chunks = chunks_of(runtime, doc["document_id"])
    by_row = {(c.section, c.line_start): c for c in chunks}
    title = by_row[("Q4 review", 1)]
    assert title.text == "Quarterly access review of machine identities - Q4 2025"
    stale = by_row[("Q4 review, row 5", 5)]   # the header is sheet row 3; its second data row is row 5
    assert "Identity: merlin-batch-scorer" in stale.text and "Last used: 2025-09-01T00:00:00" in stale.text
    assert "Stale for 97 days, write access to PHI" in stale.text, "a line break inside a cell stays in its row"
    assert stale.record_start == 1
    sign = by_row[("Sign-off, row 2", 2)]
    assert sign.text.startswith("Reviewer: Kat O'Donnell\nDate: 2026-01-05") and sign.record_start == 3
    assert not any("Sign-off" in (c.section or "") and "Q4 review" in c.text for c in chunks), "no chunk spans sheets"


def test_a_workbook_that_is_not_one_fails_as_corrupt(runtime, tmp_path):
    import io
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<not-a-workbook")
    _expect_failed(runtime, F.write(tmp_path, "broken.xlsx", out.getvalue()), "corrupt_file")


def test_a_failure_touches_nothing_already_stored(runtime, tmp_path):
    good = ingest_file(runtime, F.write(tmp_path, "good.md", ("# Access\n\n" + " ".join(F.PARAS) + "\n") .encode()))
    ids = runtime.vectors.ids(DEFAULT_TENANT_ID)
    _expect_failed(runtime, F.write(tmp_path, "scan.pdf", F.image_only_pdf()), "no_text_layer")
    _expect_failed(runtime, F.write(tmp_path, "locked.pdf", F.encrypted_pdf()), "encrypted_pdf")
    assert runtime.vectors.ids(DEFAULT_TENANT_ID) == ids
    from ingest.service import get_document
    after = get_document(db=runtime.db, tenant_id=DEFAULT_TENANT_ID, document_id=good["document_id"])
    assert after["status"] == "indexed" and after["chunk_count"] == good["chunk_count"]


def test_partition_time_limit_stops_a_runaway_parser():
    import time

    from ingest.sandbox import run_limited

    t = time.monotonic()
    with pytest.raises(ClausewiseError) as e:
        run_limited(lambda: time.sleep(30), timeout_s=1.0, memory_bytes=256 * 2**20)
    assert e.value.code.value == "partition_timeout" and time.monotonic() - t < 5


def test_partition_memory_limit_stops_a_ballooning_parser():
    from ingest.sandbox import run_limited

    with pytest.raises(ClausewiseError) as e:
        run_limited(lambda: len(bytearray(1024 * 2**20)), timeout_s=20, memory_bytes=128 * 2**20)
    assert e.value.code.value == "partition_memory"
